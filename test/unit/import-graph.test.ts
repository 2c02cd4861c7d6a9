/**
 * The layering of docs/architecture.md, checked on the source: no module of src/ reaches itself
 * through its imports (type-only imports count: a cycle of types is a cycle of concepts), and
 * src/core imports nothing but itself, the protocol and the error registry.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');
const IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gms;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module of src/ (relative path) with the specifiers it imports. */
function importsOf(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const specifiers = [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => m[1] as string);
    graph.set(relative(SRC, file), specifiers);
  }
  return graph;
}

/** The src/-relative module a relative specifier names, or null for a package or node: import. */
function target(from: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  return relative(SRC, resolve(SRC, dirname(from), specifier)).replace(/\.js$/, '.ts');
}

/** One cycle per strongly connected group of modules, found by depth-first search. */
function cycles(graph: Map<string, string[]>): string[][] {
  const edges = new Map(
    [...graph].map(([from, specifiers]) => [
      from,
      specifiers.map((s) => target(from, s)).filter((t): t is string => t !== null && graph.has(t)),
    ]),
  );
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    path.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node);
  return found;
}

describe('import graph of src/', () => {
  it('reads the imports it checks', () => {
    const graph = importsOf();
    expect(graph.get('core/hub.ts')).toContain('./session.js');
    expect(graph.get('gateway.ts')).toContain('./core/hub.js');
  });

  it('has no import cycle', () => {
    expect(cycles(importsOf()).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it('finds a cycle when there is one', () => {
    const graph = new Map([
      ['a.ts', ['./b.js']],
      ['b.ts', ['./c.js', 'node:fs']],
      ['c.ts', ['./a.js']],
    ]);
    expect(cycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });

  it('keeps src/core free of transports, engines, metrics, logging and node: modules', () => {
    const outside: string[] = [];
    for (const [file, specifiers] of importsOf()) {
      if (!file.startsWith('core/')) continue;
      for (const specifier of specifiers) {
        const module = target(file, specifier);
        const allowed =
          module !== null &&
          (module.startsWith('core/') || module === 'protocol.ts' || module === 'errors.ts');
        if (!allowed) outside.push(`${file} imports ${specifier}`);
      }
    }
    expect(outside).toEqual([]);
  });
});
