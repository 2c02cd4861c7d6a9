import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TimerWheel } from '../../src/core/timer-wheel.js';
import { countingClock, ManualClock } from '../helpers/clock.js';

describe('timer wheel (I5)', () => {
  it('fires no earlier than the delay and at most one tick late', () => {
    const clock = new ManualClock();
    const wheel = new TimerWheel({ tickMs: 100, clock });
    const fired: number[] = [];
    const start = clock.now();
    wheel.schedule(250, () => fired.push(clock.now() - start));
    clock.advance(200);
    expect(fired).toEqual([]);
    clock.advance(200);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(250);
    expect(fired[0]).toBeLessThanOrEqual(350);
  });

  it('visits only the entries that fall due, however many wait further out', () => {
    const clock = new ManualClock();
    const wheel = new TimerWheel({ tickMs: 100, clock });
    for (let i = 0; i < 10_000; i++) wheel.schedule(3_600_000, () => {});
    let due = 0;
    for (let i = 0; i < 5; i++) wheel.schedule(1_000, () => due++);
    clock.advance(1_200);
    expect(due).toBe(5);
    expect(wheel.entriesVisited).toBe(5);
    expect(wheel.size).toBe(10_000);
  });

  it('cancels in O(1) and stops its one ticker when empty', () => {
    const clock = new ManualClock();
    const counting = countingClock(clock);
    const wheel = new TimerWheel({ tickMs: 50, clock: counting });
    const entries = Array.from({ length: 100 }, () =>
      wheel.schedule(500, () => {
        throw new Error('cancelled entry fired');
      }),
    );
    expect(counting.tickers).toBe(1);
    for (const entry of entries) expect(entry.cancel()).toBe(true);
    expect(entries[0]?.cancel()).toBe(false);
    expect(wheel.size).toBe(0);
    clock.advance(1_000);
    expect(wheel.entriesVisited).toBe(0);
  });

  it('runs an entry scheduled from a callback on a later tick, never orphaning it', () => {
    const clock = new ManualClock();
    const wheel = new TimerWheel({ tickMs: 100, clock });
    const fired: string[] = [];
    wheel.schedule(100, () => {
      fired.push('first');
      wheel.schedule(0, () => fired.push('second'));
    });
    clock.advance(100);
    expect(fired).toEqual(['first']);
    clock.advance(100);
    expect(fired).toEqual(['first', 'second']);
    // Same after a long pause, when the wheel walks due keys instead of ticks.
    wheel.schedule(100, () => wheel.schedule(0, () => fired.push('third')));
    clock.advance(10_000);
    clock.advance(100);
    expect(fired).toEqual(['first', 'second', 'third']);
  });

  it('keeps ticking when a callback throws, and reports the error', () => {
    const clock = new ManualClock();
    const errors: unknown[] = [];
    const wheel = new TimerWheel({ tickMs: 100, clock, onError: (e) => errors.push(e) });
    let ran = false;
    wheel.schedule(100, () => {
      throw new Error('boom');
    });
    wheel.schedule(100, () => {
      ran = true;
    });
    clock.advance(300);
    expect(ran).toBe(true);
    expect(errors).toHaveLength(1);
  });

  it('is the only place in the gateway that calls setInterval or setTimeout', () => {
    const offenders: string[] = [];
    // The client SDK, the soak harness and the demo backend are not the gateway (they stand for a
    // browser, a load generator and a backend): their timers are their own, so I5 does not govern them.
    const notGateway = new Set(['client', 'soak', 'demo']);
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (!notGateway.has(entry.name)) walk(path);
        } else if (path.endsWith('.ts') && !path.endsWith('timer-wheel.ts')) {
          if (/\bset(Interval|Timeout)\(/.test(readFileSync(path, 'utf8'))) offenders.push(path);
        }
      }
    };
    walk(join(import.meta.dirname, '../../src'));
    expect(offenders).toEqual([]);
  });
});
