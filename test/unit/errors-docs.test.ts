import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';

describe('docs/errors.md', () => {
  it('lists exactly the codes of the registry, with the same status', () => {
    const text = readFileSync(join(import.meta.dirname, '../../docs/errors.md'), 'utf8');
    const documented = new Map<string, number>();
    for (const match of text.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|/gm))
      documented.set(match[1] as string, Number(match[2]));
    const registry = new Map(
      Object.entries(ERROR_CODES).map(([code, entry]) => [code, entry.status as number]),
    );
    expect([...documented.entries()].sort()).toEqual([...registry.entries()].sort());
  });
});
