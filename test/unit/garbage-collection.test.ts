import { describe, expect, it } from 'vitest';
import { collectGarbage } from '../../src/server/garbage-collection.js';

describe('collectGarbage', () => {
  it('frees unreachable objects, and callers of a burst share one collection', async () => {
    // Garbage as soon as it is made: only the WeakRef still sees it, and only a collection clears that.
    const garbage = new WeakRef(Array.from({ length: 200_000 }, (_, n) => ({ n })));
    // A new WeakRef keeps its target alive until the current job ends: collect in a later one.
    await new Promise((r) => setImmediate(r));
    const first = collectGarbage();
    const second = collectGarbage();
    expect(second).toBe(first);
    const result = await first;
    expect(garbage.deref()).toBeUndefined();
    // 200,000 small objects are several MB; most of them must be gone.
    expect(result.before.heapUsedBytes - result.after.heapUsedBytes).toBeGreaterThan(2_000_000);
    // Once it is over, the next caller gets a collection of its own.
    const next = collectGarbage();
    expect(next).not.toBe(first);
    await next;
  });
});
