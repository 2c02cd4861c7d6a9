/**
 * The soak harness against two `sockwarden serve --redis` nodes behind a round-robin TCP balancer,
 * with one node SIGKILLed in the middle of the run. What a crash may cost is bounded (messages
 * published while nobody held a session); what it must not cost is a leaked slot: once the run is
 * over and the TTLs have passed, Redis holds no lease and no session of either node, and the
 * surviving node holds nothing.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { serve } from '../helpers/cli.js';
import { useRedis } from '../helpers/redis.js';
import { runSoak, SOAK_SERVER_FLAGS } from '../helpers/soak.js';
import { startTcpBalancer } from '../helpers/tcp-balancer.js';
import { until } from '../helpers/until.js';

const redis = useRedis();
const available = redis.available;

const LEASE_TTL_MS = 3_000;
const RESUME_WINDOW_MS = 3_000;

describe.runIf(available)('sockwarden soak against a two-node cluster', () => {
  it('ends with zero leaked leases after a node is killed mid-soak', { timeout: 180_000 }, async () => {
    const flags = [
      ...SOAK_SERVER_FLAGS,
      '--resume-window',
      String(RESUME_WINDOW_MS),
      '--redis',
      redis.url,
      '--redis-prefix',
      'soak:',
      '--redis-lease-ttl',
      String(LEASE_TTL_MS),
    ];
    const [doomed, survivor] = [await serve(flags), await serve(flags)];
    const ports = [doomed, survivor].map((node) => Number(new URL(node.base).port));
    const balancer = await startTcpBalancer(ports);
    const soaking = runSoak(
      `http://127.0.0.1:${balancer.port}`,
      '--connections 300 --users 60 --duration 20s --churn 30/s --messages 1/s --abrupt 20% --resume 30% --zombies 2% --silent 0% --slow 0% --stopped 0% --settle 30s --processes 1'.split(
        ' ',
      ),
    );
    await new Promise((r) => setTimeout(r, 8_000));
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    const { report } = await soaking;
    // The survivor (the only node left to ask) let go of everything.
    expect(report.server.afterDrain.connections).toBe(0);
    expect(report.server.afterDrain.sessions).toBe(0);
    expect(Object.values(report.server.afterDrain.resources).every((n) => n === 0)).toBe(true);
    // Clients of the killed node came back through the balancer and resumed on the survivor.
    expect(report.counters.resume.passed).toBeGreaterThan(20);
    expect(report.counters.messages.duplicated).toBe(0);
    const client = new Redis(redis.url);
    expect(await client.zcard('soak:leases')).toBe(0);
    // Session keys outlive their node by a resume window and a lease TTL, then nothing is left.
    // Only the survivor's liveness key stays: it is still running.
    const left = async () => (await client.keys('soak:*')).filter((key) => !key.startsWith('soak:node:'));
    await until(async () => (await left()).length === 0, {
      timeoutMs: RESUME_WINDOW_MS + LEASE_TTL_MS + 2_000,
      intervalMs: 250,
      what: 'the killed node’s session keys to expire',
    });
    expect(await left()).toEqual([]);
    expect(await client.keys('soak:node:*')).toHaveLength(1);
    await client.quit();
    await balancer.close();
  });
});
