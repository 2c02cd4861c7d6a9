/**
 * The engine port: where connection slots are counted and reserved, where sessions are recorded
 * and how other nodes are reached. The memory engine (default) keeps everything in this process; a
 * cluster engine keeps it in a shared store. The core never knows which one it talks to, and never
 * asks whether a part exists: the memory engine implements every part for one node.
 */
import type { SessionStore } from './session-store.js';

/** Connection limits an engine enforces atomically in {@link Engine.reserve}. */
export interface SlotLimits {
  maxConnections: number;
  maxConnectionsPerUser: number;
  maxConnectionsPerIp: number;
}

/** One admission's request for a slot. */
export interface SlotRequest {
  user: string;
  ip: string;
  /** Live connections of this user that this admission replaces (a takeover), so they do not count. */
  replacing: number;
  /**
   * At the per-user limit, evict the user's oldest live connection wherever it is and take its
   * slot in the same step. An engine that cannot (one node only) refuses with `user_limit`, and
   * admission evicts on this node instead.
   */
  evictOldest?: boolean;
}

/** Why an engine refused a slot. */
export type SlotRefusal = 'node_full' | 'cluster_full' | 'ip_limit' | 'user_limit' | 'engine_unavailable';

/**
 * A reserved slot (invariant I3). Release uses this handle, never a key derived again; it is
 * idempotent, so the close handler and a forced removal may both call it.
 */
export interface SlotLease {
  release(): void;
  /**
   * Registers what to do when the engine takes the slot back (another node evicted this
   * connection to admit a newer one of the same user): close the connection. A single-node engine
   * never takes a slot back.
   */
  onRevoke(listener: () => void): void;
}

/** The outcome of {@link Engine.reserve}. */
export type SlotDecision = { ok: true; lease: SlotLease } | { ok: false; code: SlotRefusal };

/** Figures an engine reports for stats. */
export interface EngineCounts {
  connections: number;
  users: number;
  ips: number;
  topUsers: Array<{ user: string; connections: number }>;
}

/** The engine port. See the module comment. */
export interface Engine {
  /** Name for logs and stats, e.g. "memory". */
  readonly name: string;
  /** True while a shared engine cannot reach its store and admission runs on this node's limits. */
  readonly degraded: boolean;
  /**
   * True when other nodes share the limits and sessions: a slot may free on another node, so an
   * upgrade queued for one asks again now and then instead of waiting for a release on this node
   * only; and a draining node holds its sessions until other nodes claim them.
   */
  readonly shared: boolean;
  /** Checks every limit and reserves a slot in one atomic step (invariant I4). */
  reserve(request: SlotRequest): SlotDecision | Promise<SlotDecision>;
  /** Current figures, with the `top` users by connections. */
  counts(top: number): EngineCounts;
  /**
   * Sends an operation to every other node, which applies it to the sessions it holds. Nothing to
   * do on an engine that is one node only.
   */
  relay(operation: RemoteOperation): void;
  /** Where sessions are recorded, so that they resume on any node of a cluster. */
  readonly sessions: SessionStore;
  /** Releases what the engine holds outside the process. */
  close(): Promise<void>;
}

/**
 * A publish or disconnect that other nodes must apply to the sessions they hold. `json` is the
 * message data, serialized once by the node where it was asked for.
 */
export type RemoteOperation =
  | { kind: 'publish'; user: string; session?: string; json: string }
  | { kind: 'disconnect'; user: string; session?: string };

/** What the gateway lends an engine: its timer wheel, and where to report failures. */
export interface EngineHost {
  /**
   * Runs `task` once after `delayMs` on the gateway's shared timer wheel (invariant I5). An engine
   * with periodic work (lease refresh) schedules its next run from inside the task.
   */
  schedule(delayMs: number, task: () => void): { cancel(): boolean };
  /** Reports a failure the engine recovered from, for logs and the failures metric. */
  failure(error: unknown): void;
  /** Called when {@link Engine.degraded} changes, so the gateway can log it. */
  degradedChanged(degraded: boolean): void;
  /** Applies an operation another node relayed to the sessions this node holds. */
  deliver(operation: RemoteOperation): void;
  /**
   * Another node claimed a session: end it here (closing its socket with 4100) without forgetting
   * its shared state. Returns whether this node held it and whether a socket was on it.
   */
  handOver(user: string, sessionId: string): { held: boolean; attached: boolean };
  /**
   * Another node dropped one of this node's detached sessions to make room under the user's
   * session limit: end it here, unless a socket came back to it meanwhile.
   */
  dropDetached(user: string, sessionId: string): void;
  /**
   * How long a detached session stays resumable, and how many frames and bytes it keeps for replay
   * (the bounds of its replay ring, which a shared store keeps too).
   */
  readonly replay: {
    readonly resumeWindowMs: number;
    readonly maxMessages: number;
    readonly maxBytes: number;
  };
}

/** Builds an engine for a gateway's limits. `createGateway({ engine })` takes one of these. */
export type EngineFactory = (limits: SlotLimits, host: EngineHost) => Engine;
