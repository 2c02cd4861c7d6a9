import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SESSION_END_REASONS } from '../../src/core/session-end.js';

// Code and tests cite the invariants of docs/architecture.md by number; a clone has no other copy
// of the contract, so every citation and every file the doc names must resolve.
const root = join(import.meta.dirname, '../..');
const doc = readFileSync(join(root, 'docs/architecture.md'), 'utf8');

/** Text files under `dir`, as paths relative to the repository root. */
function textFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      // Benchmark results are generated JSON, not prose or code.
      if (path !== 'bench/results') out.push(...textFiles(path));
    } else if (/\.(ts|js|mjs|md)$/.test(entry.name)) out.push(path);
  }
  return out;
}

const cited = ['src', 'test', 'bench', 'docs'].flatMap(textFiles).concat('README.md');

/** Invariant numbers the doc defines, from its headings `### I<n> <title>`. */
function definedInvariants(text: string): Set<string> {
  return new Set([...text.matchAll(/^### (I\d+) \S/gm)].map((m) => m[1] as string));
}

/**
 * Invariant tokens in a file: `I4` standing alone, as in "invariant I4", "(I2, I7)", "'I1 release",
 * or a range "I1-I7". Inside a word or an identifier it is not one.
 */
function invariantTokens(text: string): string[] {
  return [...text.matchAll(/(?<=^|[\s('"`,\-–])(I\d+)(?=$|[\s),.:;'"`\-–])/gm)].map((m) => m[1] as string);
}

/** The section of the doc about one invariant: from its heading to the next heading. */
function section(text: string, invariant: string): string {
  const heading = text.search(new RegExp(`^### ${invariant} `, 'm'));
  const rest = text.slice(text.indexOf('\n', heading) + 1);
  const end = rest.search(/^#{1,3} /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** Repository paths the text names: `src/...`, `test/...`, `bench/...`, `docs/...`. */
function namedPaths(text: string): string[] {
  const paths = [...text.matchAll(/(?<![\w/.-])((?:src|test|bench|docs)\/[\w./*-]*[\w/*])/g)].map(
    (m) => m[1] as string,
  );
  // A glob names a family of files, not one.
  return [...new Set(paths)].filter((path) => !path.includes('*'));
}

describe('docs/architecture.md', () => {
  const defined = definedInvariants(doc);

  it('defines the invariants in order, from I1 up', () => {
    expect(defined.size).toBeGreaterThanOrEqual(7);
    expect([...defined]).toEqual(Array.from({ length: defined.size }, (_, i) => `I${i + 1}`));
  });

  it('defines every invariant that src, test, bench, docs or the README cite', () => {
    const undefinedCitations = cited.flatMap((path) =>
      invariantTokens(readFileSync(join(root, path), 'utf8'))
        .filter((token) => !defined.has(token))
        .map((token) => `${path}: ${token}`),
    );
    expect(undefinedCitations).toEqual([]);
  });

  it('names, for every invariant, a test that guards it', () => {
    for (const invariant of defined) {
      const tests = namedPaths(section(doc, invariant)).filter((path) => path.endsWith('.test.ts'));
      expect(tests, invariant).not.toEqual([]);
    }
  });

  it('names only files and folders that exist', () => {
    const named = namedPaths(doc);
    expect(named.filter((path) => /^test\/.+\.test\.ts$/.test(path)).length).toBeGreaterThan(10);
    expect(named.filter((path) => /^src\/.+\.ts$/.test(path)).length).toBeGreaterThan(30);
    expect(named.filter((path) => !existsSync(join(root, path)))).toEqual([]);
  });

  it('is where citations point: nothing cites the design file a clone never has', () => {
    const stale = cited.filter((path) => /DESIGN\.md/.test(readFileSync(join(root, path), 'utf8')));
    expect(stale).toEqual([]);
  });

  it('is linked from the README', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain('](docs/architecture.md)');
  });
});

describe('the end-reason table of docs/architecture.md', () => {
  it('lists exactly the reasons of SESSION_END_REASONS, with the same columns', () => {
    const documented = [...doc.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(yes|no)\s*\|\s*(yes|no)\s*\|/gm)].map(
      (m) => [m[1], m[2] === 'yes', m[3] === 'yes'],
    );
    const inCode = Object.entries(SESSION_END_REASONS).map(([reason, m]) => [reason, m.givenUp, m.livesOn]);
    expect(documented.sort()).toEqual(inCode.sort());
  });
});
