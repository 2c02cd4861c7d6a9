/**
 * The figures a gateway reports: one computation shared by `/api/stats`, `/metrics` and the
 * dashboard, so they never disagree.
 */
import type { Engine } from './engine.js';
import type { PressureMonitor } from './pressure.js';
import type { Registry } from './registry.js';
import type { ResourceLedger } from './scope.js';
import type { PressureLevel } from './telemetry.js';

/** A gateway's figures at one instant. */
export interface GatewayStats {
  /** Live sockets on this node, including those in their closing handshake. */
  connections: number;
  /** Live sessions, attached or waiting for a resume. */
  sessions: number;
  /** Sessions waiting for a resume. */
  detachedSessions: number;
  /** Users with at least one live session. */
  users: number;
  pressure: PressureLevel;
  /** The ratio of budget in use behind `pressure`. */
  pressureRatio: number;
  /**
   * Live resources owned by connections, sessions and upgrades in progress, by kind. 0 on an idle
   * gateway and after a drain: the gateway's own root scope and maintenance tick are not counted.
   */
  resources: Record<string, number>;
  /** Bytes waiting in send buffers. */
  bufferedBytes: number;
  /** Bytes held in replay rings. */
  replayBytes: number;
  /** Upgrades waiting in the per-user queue. */
  queuedUpgrades: number;
  draining: boolean;
  engine: string;
  /** True while the shared engine cannot reach its store (admission on this node's limits, or refused). */
  engineDegraded: boolean;
  /** The 10 users with most connections. */
  topUsers: Array<{ user: string; connections: number }>;
}

/** Computes {@link GatewayStats}. O(connections + sessions): for scrapes, not the hot path. */
export function computeStats(
  registry: Registry,
  engine: Engine,
  pressure: PressureMonitor,
  ledger: ResourceLedger,
  queuedUpgrades: number,
  draining: boolean,
): GatewayStats {
  let bufferedBytes = 0;
  for (const connection of registry.connections) bufferedBytes += connection.bufferedAmount;
  let replayBytes = 0;
  let detachedSessions = 0;
  for (const session of registry.sessions.values()) {
    replayBytes += session.replayBytes;
    if (!session.attached) detachedSessions++;
  }
  return {
    connections: registry.connections.size,
    sessions: registry.sessions.size,
    detachedSessions,
    users: registry.userCount,
    pressure: pressure.level,
    pressureRatio: pressure.ratio,
    resources: ledger.snapshot(),
    bufferedBytes,
    replayBytes,
    queuedUpgrades,
    draining,
    engine: engine.name,
    engineDegraded: engine.degraded,
    topUsers: engine.counts(10).topUsers,
  };
}
