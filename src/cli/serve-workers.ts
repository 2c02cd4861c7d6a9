/**
 * `sockwarden serve --workers N`: the primary process of a node:cluster. It runs no gateway itself;
 * it starts N workers with the same command line (each a whole gateway on the shared port and the
 * shared Redis), prints one "listening on" line once all of them listen, forwards a drain to every
 * worker on SIGTERM or SIGINT (each keeps its shutdown delay on SIGTERM only) and SIGHUP to every
 * worker (each reloads its own TLS certificate), and exits once they have drained, with 0 only if
 * every one drained cleanly.
 *
 * A worker that dies on its own after it listened is replaced at once; its clients resume on the
 * others meanwhile. A worker that dies before it ever listened, or more than five deaths within a
 * minute, means something is wrong with every worker (a port in use, a Redis URL that does not
 * resolve), so the primary stops them all and exits 1 rather than crash-looping.
 *
 * Each worker has a slot from 1 to N (a replacement takes its predecessor's), which names it in the
 * `worker` label of `/metrics` and in `/api/stats`; `/metrics` on any worker reports the whole
 * machine, aggregated here (src/observability/cluster-metrics.ts).
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { ClusterMetricsPrimary } from '../observability/cluster-metrics.js';
import { WORKER_COUNT_ENV, WORKER_SLOT_ENV } from '../observability/worker-identity.js';

/** What a worker tells the primary once its server listens. */
export interface ListeningMessage {
  sockwarden: 'listening';
  url: string;
  demo: boolean;
  /** The startup line about the dashboard (who may open it), as the worker's config says. */
  dashboard: string;
}

/** The `sockwarden` field of the message that tells a worker to drain and exit. */
export const DRAIN_MESSAGE = 'drain';

/** What the primary tells a worker to do: drain and exit, after its shutdown delay if `delay`. */
export interface DrainMessage {
  sockwarden: typeof DRAIN_MESSAGE;
  /** Why, for the worker's log: the primary's signal, or what went wrong with the cluster. */
  reason: string;
  /** Whether to wait `--shutdown-delay` first: on SIGTERM, from an orchestrator, only. */
  delay: boolean;
}

const CRASH_WINDOW_MS = 60_000;
const MAX_CRASHES_IN_WINDOW = 5;

function isListening(message: unknown): message is ListeningMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { sockwarden?: unknown }).sockwarden === 'listening' &&
    typeof (message as { url?: unknown }).url === 'string'
  );
}

/** Runs the primary of `count` workers; resolves with the exit code. */
export function runPrimary(count: number, logger: Logger): Promise<number> {
  return new Promise<number>((resolve) => {
    // node:cluster forgets a worker once its channel closes, before the process has exited with
    // its code: the primary counts workers until they exit.
    const live = new Map<number, Worker>();
    const listening = new Set<number>();
    const everListened = new Set<number>();
    const crashes: number[] = [];
    const slots = new Map<number, number>();
    // Only workers that listen are asked: one still starting cannot answer yet, and every scrape
    // would wait the whole collection timeout for it.
    const metrics = new ClusterMetricsPrimary(
      () => [...listening].flatMap((id) => live.get(id) ?? []),
      logger,
    );
    let stopping = false;
    let failed = false;
    let announced = false;

    const start = (slot: number): Worker => {
      const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot), [WORKER_COUNT_ENV]: String(count) });
      live.set(worker.id, worker);
      slots.set(worker.id, slot);
      worker.on('message', (message: unknown) => {
        if (metrics.handle(worker, message) || !isListening(message)) return;
        listening.add(worker.id);
        everListened.add(worker.id);
        if (!announced && listening.size === count) {
          announced = true;
          process.stdout.write(`listening on ${message.url}\nworkers: ${count}\n`);
          if (message.demo) process.stdout.write(`demo chat: ${message.url}/\n`);
          // Each page shows the figures of the worker that answers it, named on the page.
          process.stdout.write(`${message.dashboard}\n`);
          logger.info({ workers: count, url: message.url }, 'sockwarden cluster serving');
        }
      });
      return worker;
    };

    const stopAll = (reason: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ reason }, 'draining every worker');
      const drain: DrainMessage = { sockwarden: DRAIN_MESSAGE, reason, delay: reason === 'SIGTERM' };
      for (const worker of live.values()) {
        // One still starting has no drain to run yet: it just stops. One whose channel is closed
        // is already draining on its own.
        if (!listening.has(worker.id)) worker.process.kill('SIGTERM');
        else if (worker.isConnected()) worker.send(drain);
      }
    };

    cluster.on('exit', (worker, code, signal) => {
      live.delete(worker.id);
      listening.delete(worker.id);
      metrics.forget(worker);
      const slot = slots.get(worker.id) ?? 1;
      slots.delete(worker.id);
      if (code !== 0) failed = true;
      if (!stopping) {
        logger.error({ worker: worker.process.pid, code, signal }, 'worker exited on its own');
        const now = Date.now();
        crashes.push(now);
        while ((crashes[0] ?? now) < now - CRASH_WINDOW_MS) crashes.shift();
        if (!everListened.has(worker.id)) {
          logger.fatal(
            { worker: worker.process.pid, code },
            'a worker failed to start: stopping the cluster',
          );
          stopAll('worker failed to start');
        } else if (crashes.length > MAX_CRASHES_IN_WINDOW) {
          logger.fatal(
            { crashes: crashes.length, windowMs: CRASH_WINDOW_MS },
            'workers keep dying: stopping the cluster instead of restarting them',
          );
          stopAll('crash loop');
        } else {
          start(slot);
        }
      }
      if (live.size === 0) resolve(failed || crashes.length > 0 ? 1 : 0);
    });

    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        logger.warn({ signal }, 'second signal: killing every worker without finishing the drain');
        for (const worker of live.values()) worker.process.kill('SIGKILL');
        return;
      }
      stopAll(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // Each worker holds its own server and certificate, so each reloads its own; the primary only
    // passes the signal on (and must not die of it: SIGHUP's default action is to exit).
    process.on('SIGHUP', () => {
      // One still starting reads the files as they are now anyway, and may not listen for it yet.
      logger.info({ workers: listening.size }, 'SIGHUP: passed to every worker');
      for (const id of listening) live.get(id)?.process.kill('SIGHUP');
    });
    for (let slot = 1; slot <= count; slot++) start(slot);
  });
}
