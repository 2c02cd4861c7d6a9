/**
 * The transport-free heart of a gateway: opens admitted connections onto sessions, routes client
 * frames, publishes, disconnects, sheds under pressure, reports stats and drains. Transports call
 * {@link Hub.open} with a port; everything after that is owned by scopes under the hub's root.
 */
import { CloseCode, PONG_FRAME, retryAfterReason } from '../protocol.js';
import { Admission, type AdmissionRequest, type AdmissionResult, type Ticket } from './admission.js';
import type { CoreConfig } from './config.js';
import { Connection, type ConnectionHost, type ConnectionPort } from './connection.js';
import type { Engine, RemoteOperation } from './engine.js';
import { sessionKeyOf } from './identity.js';
import { PressureMonitor } from './pressure.js';
import { Registry } from './registry.js';
import type { ResourceLedger, Scope } from './scope.js';
import {
  GIVEN_UP_REASONS,
  SESSION_DRAINED,
  SESSION_MOVED,
  type Session,
  SessionEnd,
  SessionState,
} from './session.js';
import { computeStats, type GatewayStats } from './stats.js';
import type { PressureLevel, Telemetry } from './telemetry.js';
import type { TimerWheel, WheelTimer } from './timer-wheel.js';
import type { UpstreamRunner } from './upstream.js';

/** Who a publish or disconnect is for: every session of a user, or one. */
export interface Target {
  user: string;
  session?: string;
}

/** Everything a hub is built from. */
export interface HubParts {
  config: CoreConfig;
  engine: Engine;
  wheel: TimerWheel;
  ledger: ResourceLedger;
  root: Scope;
  telemetry: Telemetry;
  /** Heap in use and the heap budget, for pressure. */
  heap(): { used: number; limit: number };
  /** Called with every session this node starts holding: new ones, and ones that moved here from another node. */
  onSession(session: Session): void;
  /** Runs sessions' upstream calls (the governor). */
  runUpstream: UpstreamRunner;
}

const MAINTENANCE_MS = 1_000;
/** Connect-rate buckets are pruned every 10 s. */
const PRUNE_EVERY_TICKS = 10;

/** See the module comment. */
export class Hub implements ConnectionHost {
  readonly config: CoreConfig;
  readonly telemetry: Telemetry;
  readonly registry = new Registry();
  readonly pressure: PressureMonitor;
  readonly admission: Admission;
  private readonly probing = new Map<string, Promise<number>>();
  /** While draining: checks whether what the drain waits for is done. */
  private drainCheck: (() => void) | null = null;
  private maintenance: WheelTimer | null = null;
  private maintenanceTicks = 0;
  private readonly sessionHost;

  constructor(private readonly parts: HubParts) {
    this.config = parts.config;
    this.telemetry = parts.telemetry;
    this.pressure = new PressureMonitor(
      {
        connections: () => this.registry.connections.size,
        maxConnections: parts.config.maxConnections,
        heap: parts.heap,
      },
      parts.telemetry,
    );
    this.admission = new Admission(
      parts.config,
      parts.engine,
      this.registry,
      this.pressure,
      this,
      parts.root.child('admission', { permanent: true }),
      parts.telemetry,
      () => this.now(),
    );
    this.sessionHost = {
      config: parts.config,
      telemetry: parts.telemetry,
      runUpstream: parts.runUpstream,
      store: parts.engine.sessions,
      now: () => this.now(),
      ended: (session: SessionState, reason: string) => {
        this.registry.removeSession(session, GIVEN_UP_REASONS.has(reason));
        this.telemetry.sessionEnded(session.user, session.id, reason);
        this.drainCheck?.();
      },
    };
    this.scheduleMaintenance();
  }

  now(): number {
    return this.parts.wheel.now();
  }

  /** Runs admission for one upgrade. */
  admit(request: AdmissionRequest): Promise<AdmissionResult> {
    return this.admission.admit(request);
  }

  /** Opens an admitted connection on its session and sends the welcome and any replay. */
  open(ticket: Ticket, port: ConnectionPort): Connection {
    const { identity } = ticket;
    const scope = this.parts.root.child('connection');
    const connection = new Connection(
      identity,
      port,
      scope,
      ticket.lease,
      this,
      ticket.principal.expiresAt ?? 0,
    );
    this.registry.addConnection(connection);
    ticket.lease.onRevoke?.(() => {
      if (!connection.open) return;
      this.telemetry.evicted(identity, 'user_limit');
      connection.end(CloseCode.Evicted, 'evicted by a newer connection of the same user');
    });
    let session = this.registry.sessions.get(identity.sessionKey);
    const { claimed } = ticket;
    const resumed = session !== undefined || claimed !== undefined;
    let movedMeanwhile: { messages: string[]; disconnected: boolean } | undefined;
    const createdHere = session === undefined;
    if (!session) {
      session = new SessionState(identity, this.parts.root.child('session'), this.sessionHost, claimed);
      this.registry.addSession(session);
      // Registered first, so that from this turn on publishes find the session here.
      movedMeanwhile = claimed?.adopt();
      this.parts.engine.sessions?.opened(identity.user, identity.session, claimed !== undefined);
      for (const json of movedMeanwhile?.messages ?? []) session.sendJson(json);
    } else if (claimed) {
      // Another upgrade opened the session here first: what moved meanwhile still reaches it, and
      // the claim does not stay pending.
      for (const json of claimed.adopt().messages) session.sendJson(json);
    }
    ticket.consume();
    connection.session = session;
    session.attach(connection, ticket.lastSeq, resumed, ticket.resumeFailure);
    this.telemetry.opened(identity, resumed);
    if (movedMeanwhile?.disconnected) session.close(CloseCode.DisconnectedByApi, 'disconnected by the API');
    // A session that moved here is new to this node's application, which has no handlers on it yet.
    if (createdHere) {
      try {
        this.parts.onSession(session);
      } catch (error) {
        this.telemetry.failure('session listener', error, identity);
      }
    }
    return connection;
  }

  frame(connection: Connection, frame: Parameters<ConnectionHost['frame']>[1]): void {
    const session = connection.session;
    if (frame.type === 'ping') connection.send(PONG_FRAME, false);
    else if (session?.attached !== connection) return;
    else if (frame.type === 'ack') session.ack(frame.seq);
    else session.deliver(connection, frame.data, frame.id);
  }

  detached(connection: Connection, code: number): void {
    connection.session?.detach(connection, code);
  }

  finished(connection: Connection): void {
    this.registry.removeConnection(connection);
    this.drainCheck?.();
  }

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
      this.telemetry.evicted(connection.identity, 'user_limit');
      connection.end(CloseCode.Evicted, 'evicted by a newer connection of the same user');
      return true;
    }
    return false;
  }

  dropLongestDetached(user: string): boolean {
    // The session away longest is the least likely to come back; one that dropped a moment ago is
    // probably reconnecting right now, however old the session itself is.
    let longest: SessionState | undefined;
    for (const session of this.registry.sessionsOf(user)) {
      if (!session.attached && (!longest || session.detachedAt < longest.detachedAt)) longest = session;
    }
    longest?.end(SessionEnd.Dropped);
    return longest !== undefined;
  }

  /**
   * Sends data to every session of the target, here and (through the engine) on every other node.
   * Returns how many sessions of this node were on a socket and how many only queued; other nodes
   * deliver on their own.
   */
  publish(target: Target, json: string): { delivered: number; queued: number } {
    this.parts.engine.relay?.({ kind: 'publish', ...target, json });
    return this.publishHere(target, json);
  }

  /** Ends every session of the target with close 4103, here and on every other node; returns how many here. */
  disconnect(target: Target): number {
    this.parts.engine.relay?.({ kind: 'disconnect', ...target });
    return this.disconnectHere(target);
  }

  /**
   * Another node claimed one of this node's sessions: close its socket with 4100 and end it here,
   * leaving its shared state to the node that now holds it.
   */
  handOver(user: string, sessionId: string): { held: boolean; attached: boolean } {
    const session = this.registry.sessions.get(sessionKeyOf(user, sessionId));
    if (!session) return { held: false, attached: false };
    const connection = session.attached;
    const attached = connection?.open ?? false;
    connection?.end(CloseCode.Replaced, 'resumed on another node');
    session.end(SESSION_MOVED);
    return { held: true, attached };
  }

  /** Ends a detached session another node dropped to make room under the user's session limit. */
  dropDetached(user: string, sessionId: string): void {
    const session = this.registry.sessions.get(sessionKeyOf(user, sessionId));
    if (session && !session.attached) session.end(SessionEnd.Dropped);
  }

  /** Applies what another node relayed to this node's sessions. */
  deliverRemote(operation: RemoteOperation): void {
    const target: Target =
      operation.session === undefined
        ? { user: operation.user }
        : { user: operation.user, session: operation.session };
    if (operation.kind === 'publish') this.publishHere(target, operation.json);
    else this.disconnectHere(target);
  }

  private publishHere(target: Target, json: string): { delivered: number; queued: number } {
    let delivered = 0;
    let queued = 0;
    for (const session of this.sessionsFor(target)) {
      if (session.attached?.open) delivered++;
      else queued++;
      session.sendJson(json);
    }
    return { delivered, queued };
  }

  private disconnectHere(target: Target): number {
    const sessions = this.sessionsFor(target);
    for (const session of sessions) session.close(CloseCode.DisconnectedByApi, 'disconnected by the API');
    return sessions.length;
  }

  /** A user's sessions, for the API. */
  sessionsOf(user: string): SessionState[] {
    return [...this.registry.sessionsOf(user)];
  }

  /** Whether new sessions are welcome: not draining and below shedding. O(1), for readiness probes. */
  readiness(): { ready: boolean; pressure: PressureLevel; draining: boolean } {
    const pressure = this.pressure.update();
    const draining = this.admission.draining;
    return { ready: !draining && pressure !== 'shedding' && pressure !== 'critical', pressure, draining };
  }

  /** Figures for `/api/stats`, metrics and the dashboard. */
  stats(): GatewayStats {
    // From the live connection count, so /readyz never lags behind the last admission.
    this.pressure.update();
    return computeStats(
      this.registry,
      this.parts.engine,
      this.pressure,
      this.parts.ledger,
      this.admission.queuedUpgrades,
      this.admission.draining,
    );
  }

  /**
   * Drains: refuses new upgrades, closes every socket with 1012 and a retry hint spread over the
   * drain window, waits up to `drainTimeoutMs`, terminates the rest and releases every resource.
   */
  async drain(drainMs: number = this.config.drainTimeoutMs): Promise<void> {
    this.admission.draining = true;
    this.maintenance?.cancel();
    this.admission.rejectQueued();
    this.pressure.update();
    for (const connection of [...this.registry.connections]) {
      connection.end(CloseCode.Restart, retryAfterReason(Math.random() * drainMs));
    }
    await this.drainUntil(() => this.registry.connections.size === 0, this.config.drainTimeoutMs);
    // With a shared session store, the clients told to come back over `drainMs` resume on other
    // nodes, which claim their sessions from here: held until then, so nothing published meanwhile
    // is lost.
    if (this.parts.engine.sessions && drainMs > 0) {
      await this.drainUntil(() => this.registry.sessions.size === 0, drainMs);
    }
    for (const connection of [...this.registry.connections]) connection.terminate();
    for (const session of [...this.registry.sessions.values()]) session.end(SESSION_DRAINED);
    this.parts.root.dispose();
    this.parts.wheel.stop();
    await this.parts.engine.close();
  }

  private async drainUntil(done: () => boolean, timeoutMs: number): Promise<void> {
    if (done()) return;
    await new Promise<void>((resolve) => {
      const timer = this.parts.root.timer(timeoutMs, resolve);
      this.drainCheck = () => {
        if (!done()) return;
        timer.dispose();
        resolve();
      };
    });
    this.drainCheck = null;
  }

  private sessionsFor(target: Target): SessionState[] {
    if (target.session === undefined) return [...this.registry.sessionsOf(target.user)];
    const session = this.registry.sessions.get(sessionKeyOf(target.user, target.session));
    return session ? [session] : [];
  }

  private scheduleMaintenance(): void {
    // On the wheel directly, not in a scope: the gateway's own tick is not a client-owned resource,
    // and an idle gateway must report zero of those. drain() cancels it.
    this.maintenance = this.parts.wheel.schedule(MAINTENANCE_MS, {
      run: () => {
        if (++this.maintenanceTicks % PRUNE_EVERY_TICKS === 0) this.admission.pruneConnectBuckets();
        const level = this.pressure.sample();
        if (level === 'critical') this.shed();
        if (!this.admission.draining) this.scheduleMaintenance();
      },
    });
  }

  /** At critical pressure: evict detached sessions, then zombies and the quietest sockets, oldest first. */
  private shed(): void {
    let budget = Math.max(1, Math.ceil(this.config.maxConnections * 0.02));
    const detached = [...this.registry.sessions.values()]
      .filter((s) => !s.attached)
      .sort((a, b) => a.detachedAt - b.detachedAt);
    for (const session of detached) {
      if (budget-- <= 0) return;
      session.end(SessionEnd.Shed);
    }
    const quietBefore = this.now() - this.config.heartbeatIntervalMs;
    const idle = [...this.registry.connections]
      .filter((c) => c.open && (c.awaitingPong || c.quietSince < quietBefore))
      .sort((a, b) => Number(b.awaitingPong) - Number(a.awaitingPong) || a.quietSince - b.quietSince);
    for (const connection of idle) {
      if (budget-- <= 0 || this.pressure.update() !== 'critical') return;
      this.telemetry.evicted(connection.identity, 'pressure');
      connection.end(CloseCode.Shed, retryAfterReason(5_000 + Math.random() * 5_000));
    }
  }
}
