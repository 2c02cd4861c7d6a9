/**
 * What admission may do to the live connections and sessions of a user at their limit: probe them
 * for zombies, evict the oldest, drop the session away longest. Also what the hub does to relieve
 * critical pressure, which is the same kind of act on the whole node.
 */
import { CloseCode, retryAfterReason } from '../protocol.js';
import type { CoreConfig } from './config.js';
import type { Connection } from './connection.js';
import type { Registry } from './registry.js';
import type { SessionState } from './session.js';
import type { Telemetry } from './telemetry.js';
import type { AdmissionHost } from './user-limit.js';

/** See the module comment. */
export class UserConnections implements AdmissionHost {
  private readonly probing = new Map<string, Promise<number>>();

  constructor(
    private readonly registry: Registry,
    private readonly config: CoreConfig,
    private readonly telemetry: Telemetry,
  ) {}

  /** Probes a user's open connections, removing the ones that do not answer. Concurrent calls share one probe. */
  probeUser(user: string): Promise<number> {
    const running = this.probing.get(user);
    if (running) return running;
    const connections = [...this.registry.connectionsOf(user)].filter((c) => c.open);
    const probe = Promise.all(connections.map((c) => c.probe(this.config.probeTimeoutMs))).then((alive) => {
      this.probing.delete(user);
      let removed = 0;
      alive.forEach((ok, i) => {
        const connection = connections[i];
        if (!ok && connection?.open) {
          connection.removeZombie('probe');
          removed++;
        }
      });
      return removed;
    });
    this.probing.set(user, probe);
    return probe;
  }

  evictOldest(user: string): boolean {
    for (const connection of this.registry.connectionsOf(user)) {
      if (!connection.open) continue;
      this.evict(connection);
      return true;
    }
    return false;
  }

  /** Closes a connection whose slot a newer connection of the same user takes (4101). */
  evict(connection: Connection): void {
    if (!connection.open) return;
    this.telemetry.evicted(connection.identity, 'user_limit');
    connection.end(CloseCode.Evicted, 'evicted by a newer connection of the same user');
  }

  dropLongestDetached(user: string): boolean {
    // The session away longest is the least likely to come back; one that dropped a moment ago is
    // probably reconnecting right now, however old the session itself is.
    let longest: SessionState | undefined;
    for (const session of this.registry.sessionsOf(user)) {
      if (!session.attached && (!longest || session.detachedAt < longest.detachedAt)) longest = session;
    }
    longest?.end('dropped');
    return longest !== undefined;
  }

  /**
   * At critical pressure: ends detached sessions, then closes zombies and the quietest sockets
   * (4004), oldest first, at most 2% of the node's capacity per call and only while `critical()`
   * holds.
   */
  shed(now: number, critical: () => boolean): void {
    let budget = Math.max(1, Math.ceil(this.config.maxConnections * 0.02));
    const detached = [...this.registry.sessions.values()]
      .filter((s) => !s.attached)
      .sort((a, b) => a.detachedAt - b.detachedAt);
    for (const session of detached) {
      if (budget-- <= 0) return;
      session.end('shed');
    }
    const quietBefore = now - this.config.heartbeatIntervalMs;
    const idle = [...this.registry.connections]
      .filter((c) => c.open && (c.awaitingPong || c.quietSince < quietBefore))
      .sort((a, b) => Number(b.awaitingPong) - Number(a.awaitingPong) || a.quietSince - b.quietSince);
    for (const connection of idle) {
      if (budget-- <= 0 || !critical()) return;
      this.telemetry.evicted(connection.identity, 'pressure');
      connection.end(CloseCode.Shed, retryAfterReason(5_000 + Math.random() * 5_000));
    }
  }
}
