/**
 * Ownership tree (invariant I2). Every timer, abort controller, listener, buffer and upstream call
 * is registered in the Scope of the connection or session that owns it. Disposing a scope releases
 * its children first, then its own resources in reverse order of registration, exactly once.
 * A ledger counts live resources by kind, so "nothing left after drain" is a number, not a hope.
 */
import type { TimerWheel, WheelTask, WheelTimer } from './timer-wheel.js';

/** Kinds of owned resources that the ledger counts. */
export type ResourceKind =
  | 'connection'
  | 'session'
  | 'scope'
  | 'timer'
  | 'abort'
  | 'disposer'
  | 'waiter'
  | 'upstream';

/** Live resource counts by kind, shared by every scope of one gateway. */
export class ResourceLedger {
  private readonly counts = new Map<ResourceKind, number>();

  /** Counts one more live resource of `kind`. */
  acquire(kind: ResourceKind): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }

  /** Counts one fewer live resource of `kind`. */
  release(kind: ResourceKind): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) - 1);
  }

  /** Live count of one kind. */
  count(kind: ResourceKind): number {
    return this.counts.get(kind) ?? 0;
  }

  /** Every kind ever seen with its live count; a drained gateway reports 0 for all of them. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** The sum of every live count. */
  total(): number {
    let sum = 0;
    for (const value of this.counts.values()) sum += value;
    return sum;
  }
}

/** A handle on one owned resource: `dispose()` releases it now, once, and forgets it. */
export interface Owned {
  dispose(): void;
}

/** One owned resource. Classes rather than closures keep each one a single small object. */
class Resource implements Owned {
  done = false;

  constructor(
    protected readonly scope: Scope,
    readonly kind: ResourceKind,
    private readonly release: (() => void) | null,
  ) {}

  dispose(): void {
    if (this.done) return;
    this.done = true;
    this.scope.forget(this);
    this.cleanup();
  }

  protected cleanup(): void {
    this.release?.();
  }
}

/** A timer on the shared wheel, owned by a scope: the wheel runs it, the scope cancels it. */
class TimerResource extends Resource {
  entry: WheelTimer | null = null;

  constructor(
    scope: Scope,
    private readonly task: WheelTask,
  ) {
    super(scope, 'timer', null);
  }

  /** Called by the wheel when due. */
  run(): void {
    this.entry = null;
    this.dispose();
    const task = this.task;
    if (typeof task === 'function') task();
    else task.run();
  }

  protected override cleanup(): void {
    this.entry?.cancel();
  }
}

const DISPOSED: Owned = { dispose() {} };

/** A node of the ownership tree. See the module comment. */
export class Scope {
  private readonly resources = new Set<Resource>();
  /** Created on first child: most scopes (connections) never have one. */
  private children: Set<Scope> | null = null;
  private controller: AbortController | null = null;
  private isDisposed = false;

  private constructor(
    /** What this scope owns for, for logs: "connection", "session", "gateway". */
    readonly name: string,
    private readonly ledger: ResourceLedger,
    private readonly wheel: TimerWheel,
    private readonly parent: Scope | null,
    private readonly onError: (error: unknown) => void,
    /** Permanent scopes (the gateway's own) are not counted: an idle gateway holds zero resources. */
    private readonly counted: boolean,
  ) {
    if (counted) ledger.acquire('scope');
  }

  /** Creates the root scope of a gateway. */
  static root(
    name: string,
    ledger: ResourceLedger,
    wheel: TimerWheel,
    onError: (error: unknown) => void,
  ): Scope {
    return new Scope(name, ledger, wheel, null, onError, false);
  }

  /** Whether this scope has been disposed. */
  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Aborts when this scope is disposed. Created on first use so idle scopes stay small. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.isDisposed) this.controller.abort(new Error(`${this.name} scope disposed`));
    }
    return this.controller.signal;
  }

  /**
   * A child scope, disposed before this one's own resources. A `permanent` child lives as long as
   * the gateway (admission, for example): it is not counted itself, but what it owns is.
   */
  child(name: string, options: { permanent?: boolean } = {}): Scope {
    if (this.isDisposed) throw new Error(`cannot open a child of disposed ${this.name} scope`);
    const child = new Scope(name, this.ledger, this.wheel, this, this.onError, options.permanent !== true);
    this.children ??= new Set();
    this.children.add(child);
    return child;
  }

  /** Registers a disposer of `kind`. It runs once: on `dispose()` of the handle or of the scope. */
  own(kind: ResourceKind, dispose: () => void): Owned {
    if (this.isDisposed) {
      dispose();
      return DISPOSED;
    }
    return this.adopt(new Resource(this, kind, dispose));
  }

  /**
   * Runs `task` once after `delayMs` on the shared wheel, unless this scope is disposed first. A task
   * may be an object with `run()`, so that per-connection timers need no closure of their own.
   */
  timer(delayMs: number, task: WheelTask): Owned {
    if (this.isDisposed) return DISPOSED;
    const timer = this.adopt(new TimerResource(this, task));
    timer.entry = this.wheel.schedule(delayMs, timer);
    return timer;
  }

  /** Forgets a resource that released itself. Called by resources only. */
  forget(resource: Resource): void {
    this.resources.delete(resource);
    this.ledger.release(resource.kind);
  }

  private adopt<R extends Resource>(resource: R): R {
    this.ledger.acquire(resource.kind);
    this.resources.add(resource);
    return resource;
  }

  /** An AbortController that is aborted, with `reason`, when this scope is disposed. */
  abortController(): AbortController {
    const controller = new AbortController();
    const handle = this.own('abort', () => {
      if (!controller.signal.aborted) controller.abort(new Error(`${this.name} ended`));
    });
    // Once aborted by its user it has nothing left to release.
    controller.signal.addEventListener('abort', () => handle.dispose(), { once: true });
    return controller;
  }

  /** Releases children, then own resources newest first, then aborts `signal`. Idempotent. */
  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    if (this.children) for (const child of [...this.children]) child.dispose();
    const owned = [...this.resources];
    for (let i = owned.length - 1; i >= 0; i--) {
      // One failing disposer must not keep the rest alive.
      try {
        owned[i]?.dispose();
      } catch (error) {
        this.onError(error);
      }
    }
    this.controller?.abort(new Error(`${this.name} ended`));
    this.parent?.children?.delete(this);
    if (this.counted) this.ledger.release('scope');
  }
}
