/**
 * The public shape of a gateway: the options `createGateway` takes and the object it returns. Types
 * only; gateway.ts builds them.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { EngineFactory } from './core/engine.js';
import type { Target } from './core/hub.js';
import type { Scope } from './core/scope.js';
import type { Session } from './core/session.js';
import type { GatewayStats } from './core/stats.js';
import type { PressureLevel } from './core/telemetry.js';
import type { Clock } from './core/timer-wheel.js';
import type { Governor, UpstreamStats } from './governor/governor.js';
import type { GatewayTotals } from './observability/metrics.js';
import type { StatsLatest, StatsPoint, StatsSample } from './observability/stats-history.js';
import type { ResolvedConfig, TunableOptions } from './options.js';
import type { Authenticator } from './transports/ws.js';
/** Options of {@link createGateway}: every tunable limit, plus the parts an embedder plugs in. */
export interface GatewayOptions extends TunableOptions {
  /** Upgrade path for `attach`; default `/ws`. */
  path?: string;
  /** Decides who the peer is; required unless `insecure`. */
  authenticate?: Authenticator;
  /** Development only: the user id is taken from `?user=`. */
  insecure?: boolean;
  /** Where slots are counted; default the in-memory engine. */
  engine?: EngineFactory;
  /** A pino logger; default JSON to stdout at `SOCKWARDEN_LOG_LEVEL` or info. */
  logger?: Logger;
  /** Time source; tests pass a manual clock. */
  clock?: Clock;
}

/** What `sessions(user)` reports of each session. */
export interface SessionInfo {
  id: string;
  connected: boolean;
  seq: number;
}

/** A running gateway. */
export interface Gateway {
  /** The resolved, frozen limits. */
  readonly config: ResolvedConfig;
  /** The upstream governor: `gateway.governor.run(call, { owner })` for calls not made by a session. */
  readonly governor: Governor;
  /** The upgrade path `attach` listens on. */
  readonly path: string;
  /** The pino logger in use. */
  readonly logger: Logger;
  /**
   * Handles upgrades for `path` on an HTTP server, and guards its raw sockets: caps them in all and
   * per IP (`maxSockets`, `maxSocketsPerIp`) and keeps an error listener on the server, logging and
   * counting what it refuses and every server error. `close()` removes the guard and leaves only a
   * small upgrade listener that refuses `path` at once with 503 `draining` (an upgrade left to a
   * server with no listener would hang), holding nothing of the gateway.
   */
  attach(server: Server, options?: { path?: string }): void;
  /** Handles one upgrade, for frameworks that route upgrades themselves. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * Calls `listener` with every session this node starts holding: new sessions, and sessions that
   * moved here from another node (a resume on the same node continues the session it already saw).
   */
  on(event: 'session', listener: (session: Session) => void): Gateway;
  /** Removes a listener. */
  off(event: 'session', listener: (session: Session) => void): Gateway;
  /**
   * Sends `data` to every session of `target` (or one); counts this node's sessions on a socket and
   * those only queued for resume. With a shared engine, every other node delivers to its own too.
   */
  publish(target: Target, data: unknown): { delivered: number; queued: number };
  /** Ends every session of `target` (or one) with close 4103, on every node; returns how many here. */
  disconnect(target: Target): number;
  /** A user's live sessions. */
  sessions(user: string): SessionInfo[];
  /** Readiness in O(1): false while draining or shedding. `/readyz` answers from it. */
  ready(): { ready: boolean; pressure: PressureLevel; draining: boolean };
  /** Current figures; `resources` is all zeros when idle and after `close()`. */
  stats(): GatewayFigures;
  /** Prometheus exposition text. */
  metrics(): Promise<string>;
  /** Cumulative counts since start (admissions, closes, zombies, evictions, cleanup latency). */
  totals(): Promise<GatewayTotals>;
  /** The last 15 minutes, one point per second, oldest first, and the newest sample in full. */
  history(): { points: StatsPoint[]; latest: StatsLatest | undefined };
  /** Calls `listener` with each new sample, once a second; returns the function that stops it. */
  onSample(listener: (sample: StatsSample) => void): () => void;
  /** Content type of `metrics()`. */
  readonly metricsContentType: string;
  /**
   * A scope that lives as long as the gateway, for work that belongs to no session (a backend's
   * disconnect events, for example). What it owns is counted and released by `close()`.
   */
  scope(name: string): Scope;
  /**
   * Registers work that must finish before `close()` disposes the gateway's scopes (the backend
   * bridge's disconnect events for the sessions the drain ended): awaited after the last session
   * ended, with the timer wheel still running, for at most what is left of `drainTimeoutMs`.
   * Returns a function that unregisters it.
   */
  beforeDispose(task: () => Promise<void>): () => void;
  /**
   * Starts a shutdown without closing anything yet: from now on `ready()` reports
   * `{ ready: false, draining: true }` (so `/readyz` answers 503 and a load balancer stops sending
   * traffic here), new upgrades are refused with 503 `draining` and a `Retry-After`, and queued
   * upgrades are refused; open sockets and their sessions carry on untouched until `close()`.
   * Idempotent; `close()` calls it itself. Call it first when the load balancer needs time to see
   * the node unready before its sockets close, or pass `delayMs` to `close()`.
   */
  beginShutdown(): void;
  /**
   * Drains and releases everything. `delayMs` (default 0) first waits that long after
   * {@link Gateway.beginShutdown} with every socket still open, for a load balancer to take the node
   * out; then every socket closes with 1012 and a reconnect hint spread over `drainMs` (default
   * `drainTimeoutMs`). With a shared engine, sessions are also held for up to `drainMs` after their
   * sockets closed, until other nodes claim them, so that their clients resume there with nothing
   * lost. Resolves once everything is released; the HTTP server is the caller's to close then.
   */
  close(options?: { drainMs?: number; delayMs?: number }): Promise<void>;
}

/** {@link GatewayStats} plus the governor's figures by upstream. */
export interface GatewayFigures extends GatewayStats {
  upstream: Record<string, UpstreamStats>;
}
