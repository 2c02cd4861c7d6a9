import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLAGS } from '../../src/cli/serve-flags.js';
import { DEFAULTS } from '../../src/options.js';

const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');

describe('README', () => {
  it('documents every option with its flag', () => {
    for (const flag of FLAGS) {
      if (flag.option === undefined) continue;
      const row = new RegExp(
        `^\\|\\s*\`${flag.option.replace('.', '\\.')}\`\\s*\\|\\s*\`--${flag.name}\`\\s*\\|`,
        'm',
      );
      expect(readme, flag.name).toMatch(row);
    }
  });

  it('has a flag for every option that takes a number', () => {
    const covered = new Set(FLAGS.map((f) => f.option?.split('.')[0]));
    expect(Object.keys(DEFAULTS).filter((key) => !covered.has(key))).toEqual([]);
  });
});
