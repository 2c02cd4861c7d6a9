/**
 * The transport-free heart of a gateway: opens admitted connections onto sessions, publishes,
 * disconnects, sheds under pressure, reports stats and drains. Transports call {@link Hub.admit}
 * and then {@link Hub.open} with a port; everything after that is owned by scopes under the hub's
 * root. The hub builds its engine and is the engine's host, so nothing outside reaches in.
 */
import { CloseCode } from '../protocol.js';
import { Admission, type AdmissionRequest, type AdmissionResult } from './admission.js';
import type { CoreConfig } from './config.js';
import { Connection, type ConnectionContext, type ConnectionPort } from './connection.js';
import { Drain } from './drain.js';
import type { Engine, EngineFactory, EngineHost, RemoteOperation } from './engine.js';
import { sessionKeyOf } from './identity.js';
import { PressureMonitor } from './pressure.js';
import { Registry } from './registry.js';
import type { ResourceLedger, Scope } from './scope.js';
import { type Session, type SessionHost, SessionState } from './session.js';
import { SESSION_END_REASONS } from './session-end.js';
import { computeStats, type GatewayStats } from './stats.js';
import type { PressureLevel, Telemetry } from './telemetry.js';
import type { Ticket } from './ticket.js';
import type { TimerWheel, WheelTimer } from './timer-wheel.js';
import type { UpstreamRunner } from './upstream.js';
import { UserConnections } from './user-connections.js';

/** Who a publish or disconnect is for: every session of a user, or one. */
export interface Target {
  user: string;
  session?: string;
}

/** Everything a hub is built from. */
export interface HubParts {
  config: CoreConfig;
  /** Builds the engine; the hub hands it the host it calls back. */
  engine: EngineFactory;
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
  /**
   * Work to finish before a drain disposes the root scope (a backend's disconnect events for the
   * sessions the drain ended): awaited for at most what is left of the drain window.
   */
  beforeDispose?(): Promise<unknown>;
}

const MAINTENANCE_MS = 1_000;
/** Connect-rate buckets are pruned every 10 s. */
const PRUNE_EVERY_TICKS = 10;

/** See the module comment. */
export class Hub {
  readonly config: CoreConfig;
  private readonly telemetry: Telemetry;
  private readonly registry = new Registry();
  private readonly pressure: PressureMonitor;
  private readonly users: UserConnections;
  private readonly engine: Engine;
  private readonly admission: Admission;
  private readonly context: ConnectionContext;
  private readonly sessionHost: SessionHost;
  private readonly drainer: Drain;
  private maintenance: WheelTimer | null = null;
  /** Set once drain() starts; until then maintenance keeps running, refusals or not. */
  private drainStarted = false;
  private maintenanceTicks = 0;

  constructor(private readonly parts: HubParts) {
    const { config, telemetry } = parts;
    this.config = config;
    this.telemetry = telemetry;
    this.pressure = new PressureMonitor(
      {
        connections: () => this.registry.connections.size,
        maxConnections: config.maxConnections,
        heap: parts.heap,
      },
      telemetry,
    );
    this.users = new UserConnections(this.registry, config, telemetry);
    this.engine = parts.engine(config, this.engineHost());
    this.admission = new Admission({
      config,
      engine: this.engine,
      registry: this.registry,
      pressure: this.pressure,
      host: this.users,
      scope: parts.root.child('admission', { permanent: true }),
      telemetry,
      now: () => this.now(),
    });
    const now = () => this.now();
    this.drainer = new Drain({
      config,
      registry: this.registry,
      engine: this.engine,
      root: parts.root,
      wheel: parts.wheel,
      now,
      ...(parts.beforeDispose ? { beforeDispose: parts.beforeDispose } : {}),
    });
    this.context = {
      config,
      telemetry,
      now,
      finished: (connection) => {
        this.registry.removeConnection(connection);
        this.drainer.check();
      },
    };
    this.sessionHost = {
      config,
      telemetry,
      now,
      runUpstream: parts.runUpstream,
      store: this.engine.sessions,
      ended: (session, reason) => {
        this.registry.removeSession(session, SESSION_END_REASONS[reason].givenUp);
        telemetry.sessionEnded(session.user, session.id, reason);
        this.drainer.check();
      },
    };
    this.scheduleMaintenance();
  }

  /** The gateway's time, from its timer wheel. */
  now(): number {
    return this.parts.wheel.now();
  }

  /** Whether the hub is draining: every new upgrade is refused. */
  get draining(): boolean {
    return this.admission.draining;
  }

  /** Runs admission for one upgrade. */
  admit(request: AdmissionRequest): Promise<AdmissionResult> {
    return this.admission.admit(request);
  }

  /** Opens an admitted connection on its session and sends the welcome and any replay. */
  open(ticket: Ticket, port: ConnectionPort): Connection {
    const { identity, claimed } = ticket;
    let session = this.registry.sessions.get(identity.sessionKey);
    const resumed = session !== undefined || claimed !== undefined;
    let movedMeanwhile: { messages: string[]; disconnected: boolean } | undefined;
    const createdHere = session === undefined;
    if (!session) {
      session = new SessionState(identity, this.parts.root.child('session'), this.sessionHost, claimed);
      this.registry.addSession(session);
      // Registered first, so that from this turn on publishes find the session here.
      movedMeanwhile = claimed?.adopt();
      this.engine.sessions.opened(identity.user, identity.session, claimed !== undefined);
      for (const json of movedMeanwhile?.messages ?? []) session.sendJson(json);
    } else if (claimed) {
      // Another upgrade opened the session here first: what moved meanwhile still reaches it, and
      // the claim does not stay pending.
      for (const json of claimed.adopt().messages) session.sendJson(json);
    }
    const connection = new Connection(
      identity,
      port,
      this.parts.root.child('connection'),
      ticket.lease,
      this.context,
      session,
      ticket.principal.expiresAt ?? 0,
    );
    this.registry.addConnection(connection);
    ticket.lease.onRevoke(() => this.users.evict(connection));
    ticket.consume();
    session.attach(connection, ticket.lastSeq, resumed, ticket.resumeFailure);
    this.telemetry.admission('admitted', { ip: identity.ip, user: identity.user, session: identity.session });
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

  /**
   * Sends data to every session of the target, here and (through the engine) on every other node.
   * Returns how many sessions of this node were on a socket and how many only queued; other nodes
   * deliver on their own.
   */
  publish(target: Target, json: string): { delivered: number; queued: number } {
    this.engine.relay({ kind: 'publish', ...target, json });
    // Once per call on the node it was made on; each session's copy counts as sent.
    this.telemetry.throughput('published', 1, json.length);
    return this.publishHere(target, json);
  }

  /** Ends every session of the target with close 4103, here and on every other node; returns how many here. */
  disconnect(target: Target): number {
    this.engine.relay({ kind: 'disconnect', ...target });
    return this.disconnectHere(target);
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
      this.engine,
      this.pressure,
      this.parts.ledger,
      this.admission.queuedUpgrades,
      this.admission.draining,
    );
  }

  /**
   * Refuses every new upgrade (503 `draining`) and the queued ones, and makes readiness false, while
   * open sockets and sessions carry on: the first step of a drain, taken early when a load balancer
   * needs time to stop sending traffic here before the sockets close. Idempotent.
   */
  stopAdmitting(): void {
    this.admission.draining = true;
    this.admission.rejectQueued();
    this.pressure.update();
  }

  /**
   * Drains: refuses new upgrades, closes every socket with 1012 and a retry hint spread over the
   * drain window, waits up to `drainTimeoutMs`, terminates the rest and releases every resource.
   */
  async drain(drainMs: number = this.config.drainTimeoutMs): Promise<void> {
    this.drainStarted = true;
    this.maintenance?.cancel();
    this.stopAdmitting();
    await this.drainer.run(drainMs);
  }

  /** What the engine may call back: the wheel, failures, and what other nodes ask of this one. */
  private engineHost(): EngineHost {
    const { wheel, telemetry, config } = this.parts;
    return {
      schedule: (delayMs, task) => wheel.schedule(delayMs, task),
      failure: (error) => telemetry.failure('engine', error),
      degradedChanged: (degraded) => telemetry.engineDegraded(degraded),
      deliver: (operation) => this.deliverRemote(operation),
      handOver: (user, sessionId) => this.handOver(user, sessionId),
      dropDetached: (user, sessionId) => {
        const session = this.registry.sessions.get(sessionKeyOf(user, sessionId));
        if (session && !session.attached) session.end('dropped');
      },
      replay: {
        resumeWindowMs: config.resumeWindowMs,
        maxMessages: config.replay.maxMessages,
        maxBytes: config.replay.maxBytes,
      },
    };
  }

  /**
   * Another node claimed one of this node's sessions: close its socket with 4100 and end it here,
   * leaving its shared state to the node that now holds it.
   */
  private handOver(user: string, sessionId: string): { held: boolean; attached: boolean } {
    const session = this.registry.sessions.get(sessionKeyOf(user, sessionId));
    if (!session) return { held: false, attached: false };
    const attached = session.attached?.open ?? false;
    session.end('moved', CloseCode.Replaced, 'resumed on another node');
    return { held: true, attached };
  }

  /** Applies what another node relayed to this node's sessions. */
  private deliverRemote(operation: RemoteOperation): void {
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
        if (this.pressure.sample() === 'critical') {
          this.users.shed(this.now(), () => this.pressure.update() === 'critical');
        }
        // Not stopped by stopAdmitting(): shedding at critical pressure still matters while a
        // shutdown waits for its load balancer.
        if (!this.drainStarted) this.scheduleMaintenance();
      },
    });
  }
}
