import { describe, expect, it } from 'vitest';
import { collectGarbage } from '../../src/server/garbage-collection.js';

describe('collectGarbage', () => {
  it('frees unreachable objects, and callers of a burst share one collection', async () => {
    let garbage: Array<{ n: number }> | null = Array.from({ length: 200_000 }, (_, n) => ({ n }));
    expect(garbage.length).toBe(200_000);
    garbage = null;
    const first = collectGarbage();
    const second = collectGarbage();
    expect(second).toBe(first);
    const result = await first;
    // 200,000 small objects are several MB; most of them must be gone.
    expect(result.before.heapUsedBytes - result.after.heapUsedBytes).toBeGreaterThan(2_000_000);
    // Once it is over, the next caller gets a collection of its own.
    const next = collectGarbage();
    expect(next).not.toBe(first);
    await next;
  });
});
