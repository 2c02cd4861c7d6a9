/**
 * Invariant I6 of docs/architecture.md, everything bounded: each bound is set by its config key
 * below its default, then driven past. The gateway must enforce the configured value (the load
 * would pass under the default) and the bound's metric must move.
 */
import { describe, expect, it } from 'vitest';
import type { GatewayOptions, Session } from '../../src/index.js';
import { DEFAULTS } from '../../src/index.js';
import { connect, metricValue, type Running, rawSocket, until, useGateway } from '../helpers/gateway.js';

const gw = useGateway();
let running: Running | undefined;

const open = (query: Record<string, string | number>, options = {}) => gw.open(query, options);

describe('I6 everything bounded', () => {
  // Each bound is set by its config key below its default, then driven past: the gateway must
  // enforce the configured value (the load would pass under the default) and its metric must move.

  const metric = (name: string, labels = '') => metricValue((running as Running).gateway, name, labels);

  /** Status and error code of a refused upgrade, or null when it was admitted. */
  async function refusal(query: Record<string, string>): Promise<{ status: number; code: string } | null> {
    return open(query).then(
      () => null,
      (e: { status: number; body: string }) => ({ status: e.status, code: JSON.parse(e.body).error }),
    );
  }

  /** Each admission bound below is set to this many. */
  const ADMITTED = 2;
  const admissionBounds: Array<{
    key: keyof typeof DEFAULTS;
    options: GatewayOptions;
    defaultBound: number;
    query: (i: number) => Record<string, string>;
    refused: { status: number; code: string };
    gauges?: Array<[string, number]>;
  }> = [
    {
      key: 'maxConnections',
      options: { maxConnections: ADMITTED },
      defaultBound: DEFAULTS.maxConnections,
      query: (i) => ({ user: `u${i}` }),
      // A full node sheds new sessions first; node_full is for resumes (see the next test).
      refused: { status: 503, code: 'shedding' },
      gauges: [
        ['sockwarden_connections', ADMITTED],
        ['sockwarden_pressure_level', 3],
      ],
    },
    {
      key: 'maxConnectionsPerUser',
      options: { maxConnectionsPerUser: ADMITTED },
      defaultBound: DEFAULTS.maxConnectionsPerUser,
      query: () => ({ user: 'u' }),
      refused: { status: 429, code: 'user_limit' },
    },
    {
      key: 'maxConnectionsPerIp',
      options: { maxConnectionsPerIp: ADMITTED },
      defaultBound: DEFAULTS.maxConnectionsPerIp,
      query: (i) => ({ user: `u${i}` }),
      refused: { status: 429, code: 'ip_limit' },
    },
    {
      key: 'maxSessionsPerUser',
      options: { maxSessionsPerUser: ADMITTED },
      defaultBound: DEFAULTS.maxSessionsPerUser,
      query: (i) => ({ user: 'u', session: `s${i}` }),
      refused: { status: 429, code: 'session_limit' },
      gauges: [['sockwarden_sessions', ADMITTED]],
    },
    {
      key: 'connectRatePerIp',
      // One token in 1,000 s: none comes back during the test, however slow the machine.
      options: { connectRatePerIp: { perSecond: 0.001, burst: ADMITTED } },
      defaultBound: DEFAULTS.connectRatePerIp.burst,
      query: (i) => ({ user: `u${i}` }),
      refused: { status: 429, code: 'connect_rate_limited' },
    },
  ];

  it.each(admissionBounds)('refuses past $key and counts the refusal by its code', async (bound) => {
    // One more than the bound would be admitted under the default: the refusal is the key's doing.
    expect(ADMITTED + 1).toBeLessThanOrEqual(bound.defaultBound);
    running = await gw.start(bound.options);
    for (let i = 0; i < ADMITTED; i++) expect(await refusal(bound.query(i))).toBeNull();
    expect(await refusal(bound.query(ADMITTED))).toEqual(bound.refused);
    expect(await metric('sockwarden_admissions_total', `{outcome="${bound.refused.code}"}`)).toBe(1);
    expect(await metric('sockwarden_admissions_total', '{outcome="admitted"}')).toBe(ADMITTED);
    for (const [gauge, value] of bound.gauges ?? []) expect(await metric(gauge), gauge).toBe(value);
  });

  it('holds maxConnections against a resume too, which shedding lets through, with node_full', async () => {
    running = await gw.start({ maxConnections: 2, resumeWindowMs: 10_000 });
    const away = await open({ user: 'u', session: 'away' });
    away.ws.terminate();
    await until(() => running?.gateway.stats().detachedSessions === 1, 2_000, 'the session to detach');
    await open({ user: 'v', session: 'one' });
    await open({ user: 'w', session: 'two' });
    expect(await refusal({ user: 'u', session: 'away', lastSeq: '0' })).toEqual({
      status: 503,
      code: 'node_full',
    });
    expect(await metric('sockwarden_admissions_total', '{outcome="node_full"}')).toBe(1);
  });

  it('refuses an upgrade past maxQueuedUpgrades with queue_full, and the queue gauge shows the one waiting', async () => {
    expect(DEFAULTS.maxQueuedUpgrades).toBeGreaterThan(1);
    running = await gw.start({
      maxConnectionsPerUser: 1,
      perUserPolicy: 'queue',
      maxQueuedUpgrades: 1,
      queueTimeoutMs: 30_000,
    });
    const holder = await open({ user: 'u' });
    const queued = connect(running.url, { user: 'u' });
    await until(() => running?.gateway.stats().queuedUpgrades === 1, 2_000, 'the upgrade to queue');
    expect(await metric('sockwarden_queued_upgrades')).toBe(1);
    expect(await refusal({ user: 'u' })).toEqual({ status: 503, code: 'queue_full' });
    expect(await metric('sockwarden_admissions_total', '{outcome="queue_full"}')).toBe(1);
    // The one that waited is admitted when the slot frees: the queue was real.
    holder.ws.terminate();
    gw.track(await queued);
    expect(await metric('sockwarden_queued_upgrades')).toBe(0);
  });

  it('closes a frame over maxPayloadBytes with 1009, counted in sockwarden_closes_total', async () => {
    const maxPayloadBytes = 1_024;
    const oversized = JSON.stringify({ type: 'message', data: 'y'.repeat(2_000) });
    expect(oversized.length).toBeLessThan(DEFAULTS.maxPayloadBytes);
    running = await gw.start({ maxPayloadBytes });
    const client = await open({ user: 'u' });
    // A frame under the bound passes, and the connection answers on.
    client.send({ type: 'message', data: 'y'.repeat(maxPayloadBytes - 100) });
    client.send({ type: 'ping' });
    await client.next((f) => f.type === 'pong');
    client.send(oversized);
    expect((await client.closed).code).toBe(1009);
    await until(async () => (await metric('sockwarden_closes_total', '{code="1009"}')) === 1, {
      timeoutMs: 2_000,
      what: 'the 1009 close to be counted',
    });
  });

  it('answers a flood past inboundRatePerConnection with rate_limited, counted in sockwarden_inbound_rejected_total', async () => {
    const burst = 5;
    const flood = 12;
    expect(flood).toBeLessThan(DEFAULTS.inboundRatePerConnection.burst);
    // Enough violations allowed that the flood is answered, not closed (4105 is maxViolations' test).
    // No token comes back during the test (one in 1,000 s), so exactly flood - burst are refused.
    running = await gw.start({ inboundRatePerConnection: { perSecond: 0.001, burst }, maxViolations: 100 });
    const client = await open({ user: 'u' });
    for (let i = 0; i < flood; i++) client.send({ type: 'message', data: i });
    const limited = () => client.frames.filter((f) => f.type === 'error' && f.code === 'rate_limited');
    await until(() => limited().length === flood - burst, 2_000, 'the flood to be answered');
    expect(await metric('sockwarden_inbound_rejected_total', '{reason="rate_limited"}')).toBe(flood - burst);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('holds a producer past highWaterMarkBytes and closes a reader 4001 past maxBufferedBytes, as the metrics show', async () => {
    const highWaterMarkBytes = 32 * 1024;
    const maxBufferedBytes = 256 * 1024;
    expect(highWaterMarkBytes).toBeLessThan(DEFAULTS.highWaterMarkBytes);
    expect(maxBufferedBytes).toBeLessThan(DEFAULTS.maxBufferedBytes);
    running = await gw.start({ highWaterMarkBytes, maxBufferedBytes });
    let session: Session | undefined;
    running.gateway.on('session', (s) => {
      session = s;
    });
    const client = await open({ user: 'slow' });
    rawSocket(client).pause();
    const chunk = 'x'.repeat(16 * 1024);
    let sent = 0;
    const send = () => void (session as Session).send({ n: ++sent, chunk });
    // Once the kernel's buffers are full, the gateway's own buffer passes the high-water mark.
    await until(
      () => {
        send();
        return session?.writable === false;
      },
      { timeoutMs: 10_000, intervalMs: 1, what: 'the send buffer to pass highWaterMarkBytes' },
    );
    const held = await metric('sockwarden_buffered_bytes');
    expect(held).toBeGreaterThan(highWaterMarkBytes);
    expect(held).toBeLessThanOrEqual(maxBufferedBytes);
    // Nobody awaits now: only maxBufferedBytes stops the buffer, at most one frame past it.
    let peak = 0;
    while (running.gateway.stats().detachedSessions === 0 && sent < 5_000) {
      send();
      peak = Math.max(peak, running.gateway.stats().bufferedBytes);
    }
    expect(running.gateway.stats().detachedSessions).toBe(1);
    expect(peak).toBeLessThanOrEqual(maxBufferedBytes + 2 * chunk.length);
    rawSocket(client).resume();
    expect((await client.closed).code).toBe(4001);
    await until(async () => (await metric('sockwarden_closes_total', '{code="4001"}')) === 1, {
      timeoutMs: 2_000,
      what: 'the 4001 close to be counted',
    });
  });

  it('keeps sockwarden_replay_bytes within replay.maxBytes, so a resume from too far back is refused', async () => {
    const maxBytes = 8 * 1024;
    running = await gw.start({ replay: { maxMessages: 1_000, maxBytes } });
    const client = await open({ user: 'u', session: 's' });
    const data = 'r'.repeat(500);
    const count = 40;
    // Over twice the bound in all, far under the default's.
    expect(count * data.length).toBeGreaterThan(2 * maxBytes);
    expect(count * data.length).toBeLessThan(DEFAULTS.replay.maxBytes);
    let peak = 0;
    for (let i = 0; i < count; i++) {
      running.gateway.publish({ user: 'u' }, data);
      peak = Math.max(peak, await metric('sockwarden_replay_bytes'));
    }
    expect(peak).toBeGreaterThan(maxBytes / 2);
    expect(peak).toBeLessThanOrEqual(maxBytes);
    await client.next((f) => f.type === 'message' && f.seq === count);
    // The first messages were dropped to stay in bounds: they cannot be replayed, and that is counted.
    const late = await open({ user: 'u', session: 's', lastSeq: 0 });
    expect(late.frames[0]).toMatchObject({ resumed: true, resumeFailed: 'too_far_behind' });
    expect(await metric('sockwarden_resume_failures_total', '{reason="too_far_behind"}')).toBe(1);
  });
});
