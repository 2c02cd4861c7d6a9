/**
 * The signals of one `sockwarden serve` server process (the only one, or a worker of `--workers`).
 *
 * SIGTERM shuts down the way a load balancer can follow: for `--shutdown-delay` the node stays
 * up but unready (`/readyz` 503, new upgrades 503 `draining` with `Retry-After`, open sockets
 * untouched), then the gateway drains (1012 with hints spread over the drain window), and only then
 * does the port close. SIGINT (a Ctrl-C, an operator at a terminal rather than an orchestrator)
 * drains at once. A second signal exits 1 at once. SIGHUP reloads the TLS certificate.
 */
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { DemoBackend } from '../demo/backend.js';
import type { Gateway } from '../gateway.js';
import type { GatewayHttpServer } from '../server/http-server.js';
import { DRAIN_MESSAGE, type DrainMessage } from './serve-workers.js';
import { type TlsFiles, tlsReloader } from './tls.js';

/** What a running server process is made of. */
export interface ServerParts extends GatewayHttpServer {
  gateway: Gateway;
  demo: DemoBackend | undefined;
}

/**
 * Makes SIGHUP reload the TLS files into the server `target()` returns, from now on: installed
 * before the server exists, so that a SIGHUP during start-up is not the signal's default (exit).
 */
export function reloadTlsOnSighup(
  files: TlsFiles | undefined,
  target: () => GatewayHttpServer | undefined,
  logger: Logger,
): void {
  process.on(
    'SIGHUP',
    tlsReloader(files, () => target()?.secure, logger),
  );
}

function isDrainMessage(message: unknown): message is DrainMessage {
  return (message as DrainMessage | undefined)?.sockwarden === DRAIN_MESSAGE;
}

/**
 * Waits for SIGTERM or SIGINT (or, in a worker, the primary's drain message), then shuts down as the
 * module comment says: resolves with 0 once every resource is released, 1 if any is left or the
 * drain fails. A second signal exits the process with 1 at once.
 */
export function drainOnSignal(
  { gateway, server, dashboard, demo }: ServerParts,
  shutdownDelayMs: number,
  logger: Logger,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string, delayMs: number) => {
      if (stopping) {
        // Asked twice, an operator wants the process gone now, not when the drain ends: its sockets
        // close with it, its clients resume elsewhere, and with Redis its leases expire by TTL.
        logger.warn({ signal }, 'second signal: exiting without finishing the drain');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal, shutdownDelayMs: delayMs }, 'draining');
      gateway
        .close({ delayMs })
        .then(async () => {
          // The port closes only now: until the drain ended, /readyz answered 503 and upgrades got
          // 503 with Retry-After, where a closed port would read as a crash to a load balancer.
          server.close();
          await demo?.close();
          // Viewers watched the drain; their streams end with it.
          dashboard.close();
          server.closeAllConnections();
          const leftover = Object.entries(gateway.stats().resources).filter(([, n]) => n !== 0);
          if (leftover.length > 0) logger.error({ leftover }, 'resources left after drain');
          resolve(leftover.length > 0 ? 1 : 0);
        })
        .catch((error: unknown) => {
          logger.error({ err: error }, 'drain failed');
          resolve(1);
        });
    };
    process.on('SIGTERM', () => stop('SIGTERM', shutdownDelayMs));
    // A Ctrl-C in a terminal reaches every worker as well as the primary, which drains them itself;
    // a worker counting it too could take the primary's drain for a second signal and skip it, so
    // a worker only listens to SIGINT to keep its default action (exit at once) away.
    process.on('SIGINT', cluster.isWorker ? () => {} : () => stop('SIGINT', 0));
    // A worker drains when its primary says so, with the delay of the signal the primary got;
    // asked twice, it is still one drain.
    process.on('message', (message: unknown) => {
      if (isDrainMessage(message) && !stopping) stop(message.reason, message.delay ? shutdownDelayMs : 0);
    });
  });
}
