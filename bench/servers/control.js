// The IPC side of a benchmark server, the same for every contender: it reports its port and
// answers the coordinator's questions (memory, connections, releases) and commands (broadcast).
import { now } from '../clock.js';

/** The first frame every contender sends on a new connection, so "open" means the same for all. */
export const WELCOME = '{"type":"welcome"}';

/** Heartbeat interval for this run, from `--heartbeat-ms` (default 25 s, as in the ws README). */
export const heartbeatMs = Number(
  process.argv.find((a) => a.startsWith('--heartbeat-ms='))?.slice('--heartbeat-ms='.length) ?? 25_000,
);

/** The load generator's connection number, from the `id` query parameter. */
export function idOf(url) {
  const match = /[?&]id=(\d+)/.exec(url ?? '');
  return match ? Number(match[1]) : -1;
}

/** The payload of one fan-out round: its number and the time the server began sending it. */
export function fanoutPayload(round) {
  return { f: round, t: now() };
}

const releases = [];

/** Records that the server finished closing connection `id`: its close handler has run. */
export function released(id) {
  releases.push(id, now());
}

/**
 * Starts answering the coordinator. `hooks.count()` gives live connections, `hooks.broadcast(n)`
 * sends round `n` to every connection, `hooks.samples()` gives contender-specific figures.
 */
export function serveBenchControl(port, hooks) {
  process.on('message', (message) => {
    if (message.type === 'memory') {
      for (let i = 0; i < 3; i++) globalThis.gc?.();
      const { rss, heapUsed } = process.memoryUsage();
      process.send({ type: 'memory', rss, heapUsed, connections: hooks.count() });
    } else if (message.type === 'count') {
      process.send({ type: 'count', connections: hooks.count() });
    } else if (message.type === 'broadcast') {
      hooks.broadcast(message.round);
      process.send({ type: 'broadcast' });
    } else if (message.type === 'releases') {
      process.send({ type: 'releases', releases: releases.splice(0) });
    } else if (message.type === 'samples') {
      process.send({ type: 'samples', ...(hooks.samples?.() ?? {}) });
    } else if (message.type === 'exit') {
      process.exit(0);
    }
  });
  process.send({ type: 'ready', port });
}
