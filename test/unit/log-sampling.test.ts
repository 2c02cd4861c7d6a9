/**
 * Log sampling: a flood of what a peer can cause at will (refused upgrades, refused frames,
 * failures) writes a bounded number of lines per second, while metrics count every event and the
 * next line written says how many were left out.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createIdentity } from '../../src/core/identity.js';
import { LogSampler } from '../../src/observability/log-sampler.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { observedTelemetry, SAMPLED_LINES_PER_SECOND } from '../../src/observability/telemetry.js';

function recordingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

async function flushed(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

describe('log sampling', () => {
  it('writes at most the budget per kind and second, and counts what it left out', () => {
    let time = 0;
    const sampler = new LogSampler(3, () => time);
    const taken = Array.from({ length: 10 }, () => sampler.take('a'));
    expect(taken).toEqual([0, 0, 0, null, null, null, null, null, null, null]);
    expect(sampler.take('b')).toBe(0);
    time = 999;
    expect(sampler.take('a')).toBeNull();
    time = 1_000;
    expect(sampler.take('a')).toBe(8);
    expect(sampler.take('a')).toBe(0);
  });

  it('keeps a flood of refused upgrades to a few lines a second, while metrics count them all', async () => {
    let time = 1_000_000;
    const metrics = new GatewayMetrics();
    const { logger, lines } = recordingLogger();
    const telemetry = observedTelemetry(metrics, logger, () => time);
    for (let i = 0; i < 500; i++) telemetry.admission('connect_rate_limited', { ip: '10.0.0.1' });
    for (let i = 0; i < 50; i++) telemetry.admission('unauthenticated', { ip: '10.0.0.2' });
    await flushed();
    const refusals = (code: string) => lines.filter((l) => l.outcome === code);
    expect(refusals('connect_rate_limited')).toHaveLength(SAMPLED_LINES_PER_SECOND);
    expect(refusals('unauthenticated')).toHaveLength(SAMPLED_LINES_PER_SECOND);
    time += 1_000;
    telemetry.admission('connect_rate_limited', { ip: '10.0.0.1' });
    await flushed();
    expect(refusals('connect_rate_limited').at(-1)).toMatchObject({
      suppressed: 500 - SAMPLED_LINES_PER_SECOND,
    });
    expect((await metrics.totals()).admissions).toMatchObject({
      connect_rate_limited: 501,
      unauthenticated: 50,
    });
  });

  it('samples refused frames and failures too, but never a zombie or an eviction', async () => {
    const metrics = new GatewayMetrics();
    const { logger, lines } = recordingLogger();
    const telemetry = observedTelemetry(metrics, logger, () => 0);
    const identity = createIdentity('u', 's', '10.0.0.1', 'c1');
    for (let i = 0; i < 100; i++) {
      telemetry.inboundRejected(identity, 'bad_frame');
      telemetry.failure('message handler', new Error('boom'), identity);
      telemetry.zombie(identity, 'heartbeat');
    }
    await flushed();
    expect(lines.filter((l) => l.reason === 'bad_frame')).toHaveLength(SAMPLED_LINES_PER_SECOND);
    expect(lines.filter((l) => l.msg === 'message handler failed')).toHaveLength(SAMPLED_LINES_PER_SECOND);
    expect(lines.filter((l) => l.msg === 'zombie connection removed')).toHaveLength(100);
  });
});
