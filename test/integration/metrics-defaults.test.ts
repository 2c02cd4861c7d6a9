/**
 * What a fresh gateway's `/metrics` holds before anything happened: Node's default metrics under
 * their standard names (stock dashboards query `process_*` and `nodejs_*`), and every labelled
 * counter at 0 for its known label values, so that `rate()` and the alerts in deploy/prometheus see
 * a series from the first scrape. Then the throughput counters move with real traffic.
 */
import { describe, expect, it } from 'vitest';
import { metricValue, useGateway } from '../helpers/gateway.js';

const gw = useGateway();

/** Series that must exist, at 0, on a gateway nothing has happened to yet. */
const ZERO_AT_START: Record<string, string[]> = {
  sockwarden_evictions_total: ['reason="user_limit"', 'reason="pressure"'],
  sockwarden_zombies_removed_total: ['via="heartbeat"', 'via="probe"'],
  sockwarden_admissions_total: [
    'outcome="admitted"',
    'outcome="unauthenticated"',
    'outcome="user_limit"',
    'outcome="ip_limit"',
    'outcome="node_full"',
    'outcome="shedding"',
    'outcome="draining"',
    'outcome="connect_rate_limited"',
    'outcome="queue_timeout"',
  ],
  sockwarden_resume_failures_total: ['reason="expired"', 'reason="unknown"', 'reason="too_far_behind"'],
  sockwarden_failures_total: ['where="message handler"', 'where="timer"', 'where="engine"'],
  sockwarden_closes_total: ['code="1000"', 'code="1006"', 'code="1012"', 'code="4000"', 'code="other"'],
  sockwarden_inbound_rejected_total: ['reason="bad_frame"', 'reason="rate_limited"'],
  sockwarden_sockets_refused_total: ['reason="max_sockets"', 'reason="max_sockets_per_ip"'],
  sockwarden_messages_total: [
    'direction="sent"',
    'direction="received"',
    'direction="published"',
    'direction="replayed"',
  ],
  sockwarden_message_chars_total: ['direction="sent"', 'direction="received"'],
};

describe('/metrics of a fresh gateway', () => {
  it('keeps the standard names of Node default metrics, with no prefix', async () => {
    const { gateway } = await gw.start();
    const text = await gateway.metrics();
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
    ])
      expect(text, name).toContain(`\n# TYPE ${name} `);
    expect(text).not.toMatch(/^sockwarden_(process|nodejs)_/m);
  });

  it('has every labelled counter at 0 for its known label values', async () => {
    const { gateway } = await gw.start();
    const text = await gateway.metrics();
    for (const [name, labels] of Object.entries(ZERO_AT_START))
      for (const label of labels) expect(text, `${name}{${label}}`).toContain(`\n${name}{${label}} 0\n`);
    // The per-worker gauge exists for a lone process too, as worker 1, so one dashboard fits both.
    expect(text).toContain('\nsockwarden_worker_connections{worker="1"} 0\n');
  });

  it('counts messages and characters sent, received, published and replayed', async () => {
    const { gateway } = await gw.start({ heartbeatIntervalMs: 60_000 });
    const messages = (direction: string) =>
      metricValue(gateway, 'sockwarden_messages_total', `{direction="${direction}"}`);
    const chars = (direction: string) =>
      metricValue(gateway, 'sockwarden_message_chars_total', `{direction="${direction}"}`);
    const client = await gw.open({ user: 'alice' });
    const session = (await client.next((f) => f.type === 'welcome')).session as string;
    gateway.on('session', (s) => s.onMessage(() => {}));
    client.send({ type: 'message', data: 'hello' });
    gateway.publish({ user: 'alice' }, { n: 1 });
    await client.next((f) => f.type === 'message');
    await expect.poll(() => messages('received')).toBe(1);
    expect(await messages('published')).toBe(1);
    expect(await messages('sent')).toBe(1);
    expect(await chars('sent')).toBeGreaterThan(0);
    expect(await chars('received')).toBeGreaterThan(0);

    // Published while away: queued for the resume, then counted as replayed, not as sent.
    client.ws.terminate();
    await expect.poll(() => gateway.stats().connections).toBe(0);
    gateway.publish({ user: 'alice' }, 'missed');
    const back = await gw.open({ user: 'alice', session, lastSeq: 1 });
    await back.next((f) => f.type === 'message' && f.seq === 2);
    expect(await messages('published')).toBe(2);
    expect(await messages('sent')).toBe(1);
    expect(await messages('replayed')).toBe(1);
    expect(await chars('replayed')).toBeGreaterThan(0);
  });
});
