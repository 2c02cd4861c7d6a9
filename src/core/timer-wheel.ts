/**
 * The one shared coarse timer of a gateway (invariant I5). Heartbeats, idle checks, lifetimes,
 * token expiry, probes and resume windows are entries here, never per-connection setTimeout or
 * setInterval. Entries are bucketed by the absolute tick they fall due in, so a tick touches only
 * the entries that are due, and cancelling is O(1).
 */

/** A source of time and of one periodic callback. Tests pass a manual clock; production uses the system. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
}

/** The system clock. Its interval is unref'd so that an idle gateway never keeps a process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  every(ms, fn) {
    const handle = setInterval(fn, ms);
    handle.unref();
    return () => clearInterval(handle);
  },
};

/** A scheduled entry; `cancel()` returns false when it already fired or was cancelled. */
export interface WheelTimer {
  cancel(): boolean;
}

/** Something the wheel can run: a function, or an object whose `run()` it calls (no closure needed). */
export type WheelTask = (() => void) | { run(): void };

/** One scheduled task. A class rather than closures: there are a few per connection. */
class Entry implements WheelTimer {
  bucket: Set<Entry> | null;

  constructor(
    private readonly wheel: TimerWheel,
    readonly task: WheelTask,
    readonly due: number,
    bucket: Set<Entry>,
  ) {
    this.bucket = bucket;
  }

  cancel(): boolean {
    return this.wheel.unschedule(this);
  }
}

/** Options of {@link TimerWheel}. */
export interface TimerWheelOptions {
  /** Resolution of the wheel in milliseconds. */
  tickMs: number;
  clock: Clock;
  /** Called when an entry's callback throws, so one bad callback never stops the wheel. */
  onError?: (error: unknown) => void;
}

/** Shared coarse timer: see the module comment. */
export class TimerWheel {
  private readonly buckets = new Map<number, Set<Entry>>();
  private readonly tickMs: number;
  private readonly clock: Clock;
  private readonly onError: (error: unknown) => void;
  private lastTick: number;
  private stopTicker: (() => void) | null = null;
  private count = 0;
  private visited = 0;

  constructor(options: TimerWheelOptions) {
    this.tickMs = options.tickMs;
    this.clock = options.clock;
    this.onError = options.onError ?? (() => {});
    this.lastTick = Math.floor(this.clock.now() / this.tickMs);
  }

  /** Number of pending entries. */
  get size(): number {
    return this.count;
  }

  /** Entries looked at by ticks so far: with bucketing, exactly the entries that fell due. */
  get entriesVisited(): number {
    return this.visited;
  }

  /** The clock this wheel reads. */
  now(): number {
    return this.clock.now();
  }

  /** Runs `task` once, no earlier than `delayMs` from now and at most one tick later. */
  schedule(delayMs: number, task: WheelTask): WheelTimer {
    // The first tick boundary at or after the deadline: never early, at most one tick late. While a
    // tick is being processed, lastTick is that tick, so a callback's new entry lands on a later one.
    const due = Math.max(
      Math.ceil((this.clock.now() + Math.max(0, delayMs)) / this.tickMs),
      this.lastTick + 1,
    );
    let bucket = this.buckets.get(due);
    if (!bucket) {
      bucket = new Set();
      this.buckets.set(due, bucket);
    }
    const entry = new Entry(this, task, due, bucket);
    bucket.add(entry);
    this.count++;
    if (!this.stopTicker) this.stopTicker = this.clock.every(this.tickMs, () => this.advance());
    return entry;
  }

  /** Removes a pending entry; false when it already fired or was cancelled. */
  unschedule(entry: Entry): boolean {
    const bucket = entry.bucket;
    if (!bucket) return false;
    bucket.delete(entry);
    if (bucket.size === 0) this.buckets.delete(entry.due);
    entry.bucket = null;
    this.count--;
    this.idleCheck();
    return true;
  }

  /** Fires every entry due by now. The ticker calls it; tests with a manual clock may too. */
  advance(): void {
    const current = Math.floor(this.clock.now() / this.tickMs);
    if (current <= this.lastTick) return;
    if (current - this.lastTick > this.buckets.size) {
      // After a long pause, walking the due keys is cheaper than walking every tick in between.
      // Entries that callbacks add now are due after `current`, so they cannot be missed.
      const due = [...this.buckets.keys()].filter((tick) => tick <= current).sort((a, b) => a - b);
      this.lastTick = current;
      for (const tick of due) this.fire(tick);
    } else {
      while (this.lastTick < current) {
        this.lastTick++;
        this.fire(this.lastTick);
      }
    }
    this.lastTick = current;
    this.idleCheck();
  }

  /** Stops the ticker. Pending entries stay and fire if the wheel is used again. */
  stop(): void {
    this.stopTicker?.();
    this.stopTicker = null;
  }

  private fire(tick: number): void {
    const bucket = this.buckets.get(tick);
    if (!bucket) return;
    this.buckets.delete(tick);
    for (const entry of bucket) {
      this.visited++;
      entry.bucket = null;
      this.count--;
      try {
        const task = entry.task;
        if (typeof task === 'function') task();
        else task.run();
      } catch (error) {
        this.onError(error);
      }
    }
  }

  private idleCheck(): void {
    if (this.count === 0) this.stop();
  }
}
