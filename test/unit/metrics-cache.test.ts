/**
 * The `/metrics` render cache on a fake clock: concurrent callers share one render, later callers
 * reuse its text while it is fresh, then one render is made again; a failed render is not kept.
 */
import { describe, expect, it } from 'vitest';
import { cachedRender } from '../../src/server/metrics-cache.js';

describe('metrics render cache', () => {
  it('shares one render, reuses it for maxAgeMs, then renders once more', async () => {
    let time = 0;
    let renders = 0;
    const render = cachedRender(
      async () => `text ${++renders}`,
      1_000,
      () => time,
    );
    expect(await Promise.all([render(), render(), render()])).toEqual(['text 1', 'text 1', 'text 1']);
    time = 999;
    expect(await render()).toBe('text 1');
    time = 1_000;
    expect(await Promise.all([render(), render()])).toEqual(['text 2', 'text 2']);
    expect(renders).toBe(2);
  });

  it('does not keep a failed render: the next caller tries again', async () => {
    let fail = true;
    const render = cachedRender(
      async () => {
        if (fail) throw new Error('registry broke');
        return 'ok';
      },
      1_000,
      () => 0,
    );
    await expect(render()).rejects.toThrow('registry broke');
    fail = false;
    expect(await render()).toBe('ok');
  });
});
