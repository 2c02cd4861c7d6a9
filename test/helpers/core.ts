/**
 * The core on its own, for unit tests: a real {@link Hub} built the way `createGateway` builds it
 * (timer wheel, ledger, root scope, engine, resolved options), but on a manual clock, with
 * in-memory ports instead of sockets and a telemetry that records everything. Nothing here sleeps:
 * time moves only in {@link Core.advance}, which lets promises settle after every tick.
 *
 * Tests use the hub's public operations only; every construction of the hub is in this file.
 */
import type { AdmissionResult } from '../../src/core/admission.js';
import type { Connection } from '../../src/core/connection.js';
import type { EngineFactory } from '../../src/core/engine.js';
import { Hub } from '../../src/core/hub.js';
import type { Identity } from '../../src/core/identity.js';
import { ResourceLedger, Scope } from '../../src/core/scope.js';
import type { Session } from '../../src/core/session.js';
import type { SessionEndReason } from '../../src/core/session-end.js';
import type { GatewayStats } from '../../src/core/stats.js';
import type {
  AdmissionSubject,
  EvictionReason,
  MessageDirection,
  PressureLevel,
  Telemetry,
  ZombieDetection,
} from '../../src/core/telemetry.js';
import type { Principal, Ticket } from '../../src/core/ticket.js';
import { TimerWheel } from '../../src/core/timer-wheel.js';
import { memoryEngine } from '../../src/engines/memory.js';
import type { SockwardenError } from '../../src/errors.js';
import { type ResolvedConfig, resolveOptions, type TunableOptions } from '../../src/options.js';
import { ManualClock } from './clock.js';
import { MemoryPort, type PeerBehaviour } from './memory-port.js';

/**
 * Why sessions end, as the hub reports them to telemetry: tests compare against these, so that a
 * change in how the core names end reasons is adapted here once.
 */
export const ENDED = {
  expired: 'expired',
  dropped: 'dropped',
  shed: 'shed',
  drained: 'drained',
  /** The session's socket closed with a code after which the session is not kept. */
  finalClose: 'final_close',
} as const satisfies Record<string, SessionEndReason>;

/** A telemetry that keeps every event, in order, for assertions. */
export class RecordingTelemetry implements Telemetry {
  readonly admissions: Array<{ outcome: string; subject: AdmissionSubject }> = [];
  readonly openings: Array<{ identity: Identity; resumed: boolean }> = [];
  readonly closes: Array<{ identity: Identity; code: number }> = [];
  readonly zombies: Array<{ identity: Identity; via: ZombieDetection }> = [];
  readonly evictions: Array<{ identity: Identity; reason: EvictionReason }> = [];
  readonly inboundRejections: Array<{ identity: Identity; reason: string }> = [];
  readonly replays: Array<{ identity: Identity; count: number }> = [];
  readonly resumeFailures: Array<{ identity: Identity; reason: string }> = [];
  readonly pressureChanges: Array<{ from: PressureLevel; to: PressureLevel; ratio: number }> = [];
  readonly sessionsEnded: Array<{ user: string; session: string; reason: string }> = [];
  readonly failures: Array<{ where: string; error: unknown }> = [];
  readonly engineStates: boolean[] = [];
  /** Messages and characters by direction, summed. */
  readonly throughputs: Record<MessageDirection, { messages: number; chars: number }> = {
    sent: { messages: 0, chars: 0 },
    received: { messages: 0, chars: 0 },
    published: { messages: 0, chars: 0 },
    replayed: { messages: 0, chars: 0 },
  };

  admission(outcome: string, subject: AdmissionSubject): void {
    this.admissions.push({ outcome, subject });
  }
  opened(identity: Identity, resumed: boolean): void {
    this.openings.push({ identity, resumed });
  }
  closed(identity: Identity, code: number): void {
    this.closes.push({ identity, code });
  }
  zombie(identity: Identity, via: ZombieDetection): void {
    this.zombies.push({ identity, via });
  }
  evicted(identity: Identity, reason: EvictionReason): void {
    this.evictions.push({ identity, reason });
  }
  inboundRejected(identity: Identity, reason: 'bad_frame' | 'rate_limited'): void {
    this.inboundRejections.push({ identity, reason });
  }
  replayed(identity: Identity, count: number): void {
    this.replays.push({ identity, count });
  }
  throughput(direction: MessageDirection, messages: number, chars: number): void {
    const total = this.throughputs[direction];
    total.messages += messages;
    total.chars += chars;
  }
  resumeFailed(identity: Identity, reason: string): void {
    this.resumeFailures.push({ identity, reason });
  }
  pressure(from: PressureLevel, to: PressureLevel, ratio: number): void {
    this.pressureChanges.push({ from, to, ratio });
  }
  sessionEnded(user: string, session: string, reason: string): void {
    this.sessionsEnded.push({ user, session, reason });
  }
  engineDegraded(degraded: boolean): void {
    this.engineStates.push(degraded);
  }
  failure(where: string, error: unknown): void {
    this.failures.push({ where, error });
  }

  /** Admission outcomes in order: `admitted` or the refusal code. */
  outcomes(): string[] {
    return this.admissions.map((a) => a.outcome);
  }

  /** How many admissions ended with `outcome`. */
  count(outcome: string): number {
    return this.admissions.filter((a) => a.outcome === outcome).length;
  }

  /** Close codes of every connection that finished, in order. */
  closeCodes(): number[] {
    return this.closes.map((c) => c.code);
  }

  /** End reasons of the sessions that ended, in order. */
  endReasons(): string[] {
    return this.sessionsEnded.map((s) => s.reason);
  }
}

/** Options of {@link createCore}: the gateway's own option names, plus what a test controls. */
export interface CoreOptions extends TunableOptions {
  /** Heap in use and its budget, for pressure; change it later with `core.heap`. Default: none used. */
  heap?: { used: number; limit: number };
  /** Where slots are counted; default the memory engine, as in `createGateway`. */
  engine?: EngineFactory;
  /** Called with every new session, after the one the harness keeps in `sessions`. */
  onSession?: (session: Session) => void;
  /** Work a drain awaits before it disposes the root scope, as the gateway's `beforeDispose`. */
  beforeDispose?: () => Promise<unknown>;
}

/** One upgrade, as a transport would hand it to admission. */
export interface AdmitOptions {
  /** Default `u`. */
  user?: string;
  session?: string;
  lastSeq?: number;
  /** Default `10.0.0.1`. */
  ip?: string;
  origin?: string;
  /** When the credentials expire (ms since the epoch, on the manual clock). */
  expiresAt?: number;
  /** Replaces the default authenticator, which admits `user`. */
  authenticate?: () => Principal | Promise<Principal>;
  /** Aborts when the "client" goes away during admission. */
  signal?: AbortSignal;
}

/** What {@link Core.connect} opened. */
export interface Opened {
  connection: Connection;
  port: MemoryPort;
  /** The session the connection is on (new, or the one it resumed). */
  session: Session;
  ticket: Ticket;
}

/** An admission was refused where the test expected a connection. */
export class Refused extends Error {
  constructor(readonly error: SockwardenError) {
    super(`refused: ${error.code} ${error.message}`);
  }
}

/** See the module comment. */
export interface Core {
  readonly hub: Hub;
  readonly config: ResolvedConfig;
  readonly clock: ManualClock;
  readonly telemetry: RecordingTelemetry;
  /** Every session the hub reported through `onSession`, by user and id. */
  readonly sessions: Map<string, Session>;
  /** Heap in use and its budget, read by the pressure monitor on its next sample. */
  heap: { used: number; limit: number };
  /** Runs admission for one upgrade. */
  admit(options?: AdmitOptions): Promise<AdmissionResult>;
  /** Opens an admitted ticket on a fresh in-memory port. */
  open(ticket: Ticket, peer?: PeerBehaviour): Opened;
  /** Admits and opens; rejects with {@link Refused} when admission refuses. */
  connect(options?: AdmitOptions & { peer?: PeerBehaviour }): Promise<Opened>;
  /** Admits, expecting a refusal; returns it (and fails when the upgrade was admitted). */
  refuse(options?: AdmitOptions): Promise<SockwardenError>;
  /** The session `user`/`id` the hub reported, if any. */
  session(user: string, id: string): Session | undefined;
  /** Moves the clock `ms` forward one timer tick at a time, letting promises settle after each. */
  advance(ms: number): Promise<void>;
  /** Lets every pending promise callback run. */
  flush(): Promise<void>;
  /** Drains the hub, moving the clock until the drain is done. */
  drain(drainMs?: number): Promise<void>;
  stats(): GatewayStats;
  /** Live resources by kind, zero counts left out: `{}` when nothing is held. */
  resources(): Record<string, number>;
}

const keyOf = (user: string, id: string) => `${user.length}:${user}/${id}`;

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Builds a core; see the module comment. */
export function createCore(options: CoreOptions = {}): Core {
  const { heap, engine, onSession, beforeDispose, ...tunables } = options;
  const config = resolveOptions(tunables);
  const clock = new ManualClock();
  const telemetry = new RecordingTelemetry();
  const wheel = new TimerWheel({
    tickMs: config.timerTickMs,
    clock,
    onError: (e) => telemetry.failure('timer', e),
  });
  const ledger = new ResourceLedger();
  const root = Scope.root('gateway', ledger, wheel, (e) => telemetry.failure('dispose', e));
  const sessions = new Map<string, Session>();
  const hub: Hub = new Hub({
    config,
    engine: engine ?? memoryEngine(),
    ...(beforeDispose ? { beforeDispose } : {}),
    wheel,
    ledger,
    root,
    telemetry,
    heap: () => core.heap,
    onSession: (session) => {
      sessions.set(keyOf(session.user, session.id), session);
      onSession?.(session);
    },
    runUpstream: (call, owner) => {
      const controller = owner.abortController();
      return call({ signal: controller.signal, attempt: 1, progress() {}, commit() {} }).finally(() =>
        controller.abort(),
      );
    },
  });

  const admit = (request: AdmitOptions = {}): Promise<AdmissionResult> => {
    const user = request.user ?? 'u';
    const principal: Principal =
      request.expiresAt === undefined ? { user } : { user, expiresAt: request.expiresAt };
    return hub.admit({
      ip: request.ip ?? '10.0.0.1',
      origin: request.origin,
      sessionId: request.session,
      lastSeq: request.lastSeq,
      authenticate: request.authenticate ?? (() => principal),
      signal: request.signal ?? new AbortController().signal,
    });
  };

  const open = (ticket: Ticket, peer: PeerBehaviour = {}): Opened => {
    const port = new MemoryPort(peer);
    const connection = hub.open(ticket, port);
    port.bind(connection);
    const { user, session: id } = ticket.identity;
    const session = sessions.get(keyOf(user, id));
    if (!session) throw new Error(`the hub reported no session ${user}/${id}`);
    return { connection, port, session, ticket };
  };

  const core: Core = {
    hub,
    config,
    clock,
    telemetry,
    sessions,
    heap: heap ?? { used: 0, limit: 1 },
    admit,
    open,
    async connect(request = {}) {
      const result = await admit(request);
      if (!result.ok) throw new Refused(result.error);
      return open(result.ticket, request.peer);
    },
    async refuse(request = {}) {
      const result = await admit(request);
      if (result.ok) {
        result.ticket.abandon();
        throw new Error(`expected a refusal, but ${result.ticket.identity.user} was admitted`);
      }
      return result.error;
    },
    session: (user, id) => sessions.get(keyOf(user, id)),
    async advance(ms) {
      await flush();
      for (let left = ms; left > 0; left -= config.timerTickMs) {
        clock.advance(Math.min(config.timerTickMs, left));
        await flush();
      }
    },
    flush,
    async drain(drainMs) {
      let done = false;
      const draining = hub.drain(drainMs).finally(() => {
        done = true;
      });
      await flush();
      // Bounded, so a drain that never ends fails the test instead of hanging it.
      for (let i = 0; !done && i < 100_000; i++) await core.advance(config.timerTickMs);
      await draining;
    },
    stats: () => hub.stats(),
    resources: () => Object.fromEntries(Object.entries(hub.stats().resources).filter(([, n]) => n !== 0)),
  };
  return core;
}
