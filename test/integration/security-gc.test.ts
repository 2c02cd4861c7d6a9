/**
 * `POST /api/gc` pauses the whole process: a burst of calls, or a caller in a loop, must cost one
 * collection per interval, not one per call.
 */
import { describe, expect, it } from 'vitest';
import { type CollectionResult, GarbageCollectionPacer } from '../../src/server/garbage-collection.js';
import { serve } from '../helpers/cli.js';

const KEY = 'gc-test-key-0123456789abcdef';

function result(n: number): CollectionResult {
  return {
    before: { rssBytes: n, heapUsedBytes: n },
    after: { rssBytes: n, heapUsedBytes: n },
    tookMs: n,
  };
}

describe('POST /api/gc', () => {
  it('collects once for 20 calls within the interval, and says which answers were shared', async () => {
    const { base } = await serve(['--insecure', '--api-key', KEY]);
    const gc = async () =>
      (await (
        await fetch(`${base}/api/gc`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` } })
      ).json()) as CollectionResult & { shared: boolean; ageMs: number };
    const answers = await Promise.all(Array.from({ length: 10 }, gc));
    for (let i = 0; i < 10; i++) answers.push(await gc());
    expect(answers.filter((a) => !a.shared)).toHaveLength(1);
    expect(new Set(answers.map((a) => JSON.stringify(a.after))).size).toBe(1);
    expect(answers.every((a) => a.ageMs >= 0 && a.tookMs > 0)).toBe(true);
  });
});

describe('GarbageCollectionPacer', () => {
  it('shares the running collection, reuses the last for the interval, then collects again', async () => {
    let now = 0;
    let collections = 0;
    const pacer = new GarbageCollectionPacer(
      10_000,
      async () => result(++collections),
      () => now,
    );
    const burst = await Promise.all([pacer.collect(), pacer.collect(), pacer.collect()]);
    expect(burst.map((r) => [r.tookMs, r.shared])).toEqual([
      [1, false],
      [1, true],
      [1, true],
    ]);
    now = 9_999;
    expect(await pacer.collect()).toMatchObject({ tookMs: 1, shared: true, ageMs: 9_999 });
    now = 10_000;
    expect(await pacer.collect()).toMatchObject({ tookMs: 2, shared: false, ageMs: 0 });
    expect(collections).toBe(2);
  });

  it('does not keep a failed collection: the next call tries again', async () => {
    let attempts = 0;
    const pacer = new GarbageCollectionPacer(
      10_000,
      async () => {
        attempts++;
        if (attempts === 1) throw new Error('inspector unavailable');
        return result(attempts);
      },
      () => 0,
    );
    await expect(pacer.collect()).rejects.toThrow('inspector unavailable');
    expect(await pacer.collect()).toMatchObject({ tookMs: 2, shared: false });
  });
});
