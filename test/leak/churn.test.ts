/**
 * The churn leak test: 10,000 connections ended in every way a production client ends, then
 * nothing may be left: no connection, no session, no resource, no Session or Connection object.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type ConnectionOpenMessage, DIAGNOSTICS_CHANNELS } from '../../src/index.js';
import { type Running, startGateway, until } from '../helpers/gateway.js';

const TOTAL = 10_000;
const BATCH = 250;
const RESUME_WINDOW_MS = 1_000;

type Ending = 'close' | 'terminate' | 'zombie' | 'resume';
const MIX: Ending[] = [
  'close',
  'close',
  'close',
  'close',
  'terminate',
  'terminate',
  'terminate',
  'zombie',
  'zombie',
  'resume',
];

function open(url: string, query: string, localAddress: string, autoPong = true): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}?${query}`, 'sockwarden.v1', { localAddress, autoPong });
    ws.once('message', () => resolve(ws));
    ws.once('error', reject);
  });
}

function closed(ws: WebSocket): Promise<void> {
  return ws.readyState === WebSocket.CLOSED
    ? Promise.resolve()
    : new Promise((resolve) => ws.once('close', () => resolve()));
}

describe('churn leak', () => {
  it(`ends ${TOTAL} connections in mixed ways and leaves nothing behind`, { timeout: 240_000 }, async () => {
    const running: Running = await startGateway({
      maxConnections: 20_000,
      maxConnectionsPerIp: 20_000,
      maxConnectionsPerUser: 1_000,
      maxSessionsPerUser: 1_000,
      connectRatePerIp: { perSecond: 100_000, burst: 100_000 },
      heartbeatIntervalMs: 400,
      pongTimeoutMs: 200,
      timerTickMs: 50,
      resumeWindowMs: RESUME_WINDOW_MS,
      closeTimeoutMs: 1_000,
    });
    let finalized = 0;
    let registered = 0;
    const alive = new Map<string, number>();
    const registry = new FinalizationRegistry((kind: string) => {
      finalized++;
      alive.set(kind, (alive.get(kind) ?? 0) - 1);
    });
    const watched = new WeakSet<object>();
    const watch = (value: object) => {
      if (watched.has(value)) return;
      watched.add(value);
      registered++;
      const kind = value.constructor.name;
      alive.set(kind, (alive.get(kind) ?? 0) + 1);
      registry.register(value, kind);
    };
    // Every connection the gateway opens is announced on its diagnostics channel; the message is
    // not kept, so the watch holds the connection only weakly.
    const onOpen = (message: unknown) => watch((message as ConnectionOpenMessage).connection);
    subscribe(DIAGNOSTICS_CHANNELS.connectionOpen, onOpen);
    running.gateway.on('session', (session) => watch(session));
    const endings: Record<Ending, number> = { close: 0, terminate: 0, zombie: 0, resume: 0 };
    const zombieCloses: Array<Promise<void>> = [];

    for (let start = 0; start < TOTAL; start += BATCH) {
      const localAddress = `127.0.0.${2 + ((start / BATCH) % 4)}`;
      const batch = Array.from({ length: BATCH }, (_, i) => {
        const n = start + i;
        return { n, ending: MIX[n % MIX.length] as Ending };
      });
      const sockets = await Promise.all(
        batch.map(({ n, ending }) =>
          open(running.url, `user=u${n % 500}&session=s${n}`, localAddress, ending !== 'zombie'),
        ),
      );
      await Promise.all(
        batch.map(async ({ n, ending }, i) => {
          const ws = sockets[i] as WebSocket;
          endings[ending]++;
          if (ending === 'close') ws.close(1000);
          else if (ending === 'terminate') ws.terminate();
          else if (ending === 'zombie') zombieCloses.push(closed(ws));
          else {
            ws.terminate();
            const again = await open(running.url, `user=u${n % 500}&session=s${n}&lastSeq=0`, localAddress);
            again.close(1000);
            await closed(again);
          }
          if (ending !== 'zombie') await closed(ws);
        }),
      );
    }
    await Promise.all(zombieCloses);
    await until(() => running.gateway.stats().connections === 0, 10_000, 'connections to reach 0');
    await until(() => running.gateway.stats().sessions === 0, RESUME_WINDOW_MS + 2_000, 'sessions to expire');

    const stats = running.gateway.stats();
    expect(endings).toEqual({ close: 4_000, terminate: 3_000, zombie: 2_000, resume: 1_000 });
    expect(stats).toMatchObject({ connections: 0, sessions: 0, users: 0, bufferedBytes: 0, replayBytes: 0 });
    const perConnectionKinds = ['connection', 'session', 'waiter', 'abort'].map((kind) => [
      kind,
      stats.resources[kind] ?? 0,
    ]);
    expect(perConnectionKinds).toEqual([
      ['connection', 0],
      ['session', 0],
      ['waiter', 0],
      ['abort', 0],
    ]);
    expect(stats.resources.connection).toBe(0);
    const metrics = await running.gateway.metrics();
    expect(Number(/sockwarden_zombies_removed_total\{via="heartbeat"\} (\d+)/.exec(metrics)?.[1])).toBe(
      2_000,
    );

    await running.stop();
    unsubscribe(DIAGNOSTICS_CHANNELS.connectionOpen, onOpen);
    expect(Object.entries(running.gateway.stats().resources).filter(([, n]) => n !== 0)).toEqual([]);

    expect(registered).toBeGreaterThanOrEqual(TOTAL + 1_000 + 7_000);
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('run with --expose-gc (vitest.config.ts sets it)');
    for (let round = 0; round < 50 && finalized < registered; round++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(Object.fromEntries(alive)).toEqual({ Connection: 0, SessionState: 0 });
    expect(Object.fromEntries(alive)).toEqual({ Connection: 0, SessionState: 0 });
    expect(finalized).toBe(registered);
  });
});
