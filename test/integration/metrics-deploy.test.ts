/**
 * The Grafana dashboard and the alert rules in deploy/ query only metrics a real gateway exposes:
 * every metric name in their expressions is in the `/metrics` of a live `sockwarden serve` that
 * has served a connection and an upstream call (upstream series exist once an upstream is used).
 * A renamed or removed metric would leave a panel empty or an alert silent forever.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serve } from '../helpers/cli.js';
import { connect, useGateway } from '../helpers/gateway.js';

const gw = useGateway();
const DEPLOY = join(import.meta.dirname, '../../deploy');

/** Metric names in PromQL expressions: ours, and Node's default metrics. */
function metricNames(expressions: string[]): Set<string> {
  const names = new Set<string>();
  for (const expr of expressions)
    for (const m of expr.matchAll(/\b(?:sockwarden|process|nodejs)_[a-z0-9_]+\b/g)) names.add(m[0]);
  return names;
}

/** Every `expr` of the dashboard's panels and variables. */
function dashboardExpressions(): string[] {
  const out: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if ((key === 'expr' || key === 'definition') && typeof value === 'string') out.push(value);
        else walk(value);
      }
    }
  };
  walk(JSON.parse(readFileSync(join(DEPLOY, 'grafana/sockwarden.json'), 'utf8')));
  return out;
}

function alertExpressions(): string[] {
  const text = readFileSync(join(DEPLOY, 'prometheus/alerts.yml'), 'utf8');
  return [...text.matchAll(/expr: (?:\|\n)?([\s\S]*?)\n\s+for:/g)].map((m) => m[1] as string);
}

/** Names of the series a /metrics text holds (histogram series included). */
function exposed(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    names.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] as string);
  }
  return names;
}

/** A live gateway's /metrics after one connection, one message and one upstream call. */
async function liveMetrics(): Promise<Set<string>> {
  const node = await serve(['--insecure']);
  const client = await connect(`${node.base.replace('http', 'ws')}/ws`, { user: 'alice' });
  client.send({ type: 'message', data: 'hi' });
  client.ws.terminate();
  // serve has no upstream of its own without a backend: a library gateway shows the upstream series.
  const { gateway } = await gw.start();
  gateway.on('session', (session) => void session.run(async () => 'ok'));
  await gw.open({ user: 'bob' });
  await expect
    .poll(async () => (await gateway.metrics()).includes('sockwarden_upstream_requests_total{'))
    .toBe(true);
  const names = exposed(await (await fetch(`${node.base}/metrics`)).text());
  for (const name of exposed(await gateway.metrics()))
    if (name.startsWith('sockwarden_upstream_')) names.add(name);
  return names;
}

describe('deploy/ queries only metrics that exist', () => {
  it('the Grafana dashboard and the alert rules', async () => {
    const live = await liveMetrics();
    const dashboard = metricNames(dashboardExpressions());
    const alerts = metricNames(alertExpressions());
    expect(dashboard.size).toBeGreaterThan(20);
    expect(alerts.size).toBeGreaterThan(5);
    for (const name of [...dashboard, ...alerts]) expect(live, name).toContain(name);
  }, 30_000);

  it('the dashboard covers connections, admissions, closes, zombies, evictions, pressure, replay, cleanup, upstreams and throughput', () => {
    const dashboard = metricNames(dashboardExpressions());
    for (const name of [
      'sockwarden_connections',
      'sockwarden_sessions',
      'sockwarden_admissions_total',
      'sockwarden_closes_total',
      'sockwarden_zombies_removed_total',
      'sockwarden_evictions_total',
      'sockwarden_pressure_level',
      'sockwarden_replay_bytes',
      'sockwarden_cleanup_seconds_bucket',
      'sockwarden_upstream_requests_total',
      'sockwarden_upstream_circuit_state',
      'sockwarden_messages_total',
      'sockwarden_worker_connections',
    ])
      expect(dashboard, name).toContain(name);
  });
});
