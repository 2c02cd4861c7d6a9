import type { Clock } from '../../src/core/timer-wheel.js';

/** A clock that moves only when a test says so; its `every` callbacks run on `advance`. */
export class ManualClock implements Clock {
  private time = 1_700_000_000_000;
  private readonly periodic = new Set<{ ms: number; next: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  every(ms: number, fn: () => void): () => void {
    const entry = { ms, next: this.time + ms, fn };
    this.periodic.add(entry);
    return () => this.periodic.delete(entry);
  }

  /** Moves time forward, running periodic callbacks at each of their due times. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      let soonest: { ms: number; next: number; fn: () => void } | undefined;
      for (const entry of this.periodic)
        if (entry.next <= target && (!soonest || entry.next < soonest.next)) soonest = entry;
      if (!soonest) break;
      this.time = soonest.next;
      soonest.next += soonest.ms;
      soonest.fn();
    }
    this.time = target;
  }
}

/** Wraps a clock to count how many periodic tickers were started on it. */
export function countingClock(clock: Clock): Clock & { tickers: number } {
  const counted = {
    tickers: 0,
    now: () => clock.now(),
    every(ms: number, fn: () => void) {
      counted.tickers++;
      return clock.every(ms, fn);
    },
  };
  return counted;
}
