/**
 * The published package, as a consumer gets it: `npm pack` (its prepack builds dist/) in a copy of
 * this working tree, so the suite's own dist/ is never rebuilt under the other tests, then the
 * tarball installed into two fresh projects. A plain JavaScript one imports both entry points with
 * Node and runs the CLI; a plain TypeScript one type-checks both entry points with the repository's
 * `tsc` under `moduleResolution` node10 (module commonjs), node16 and bundler, with skipLibCheck
 * off so the package's own declarations are checked too. The install must not warn about an
 * install-time script, and every source map shipped must point at files inside the package.
 * The installs need the npm registry for the package's dependencies: without it the test fails and
 * says so (README, Development).
 */
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  files: string[];
  devDependencies: Record<string, string>;
};

/** npm's own variables from an enclosing `npm test` would describe this repository, not the temp projects. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^npm_(package|lifecycle)_|^npm_config_local_prefix$|^INIT_CWD$/i.test(key)) delete env[key];
  }
  return env;
}

interface Ran {
  code: number;
  out: string;
}

/** Runs a command to its exit; never rejects, the caller judges the code and output. */
function run(command: string, args: string[], cwd: string): Promise<Ran> {
  return new Promise((done) => {
    execFile(
      command,
      args,
      { cwd, env: childEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 150_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

function mustSucceed(what: string, ran: Ran): string {
  if (ran.code !== 0) throw new Error(`${what} exited with ${ran.code}:\n${ran.out}`);
  return ran.out;
}

let work: string | undefined;

/** A fresh project with `package.json`, the tarball and `extra` installed from the registry. */
async function project(
  root: string,
  name: string,
  tarball: string,
  extra: string[],
): Promise<{ dir: string; out: string }> {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name, version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  // One quick retry: an unreachable registry fails in seconds, not after npm's minutes of backoff.
  const fetch = ['--fetch-retries=1', '--fetch-retry-mintimeout=1000', '--fetch-retry-maxtimeout=5000'];
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', ...fetch, '--fetch-timeout=30000'];
  const ran = await run('npm', [...args, tarball, ...extra], dir);
  if (ran.code !== 0) {
    throw new Error(
      `npm install of the packed tarball into a temporary project failed (exit ${ran.code}). This test ` +
        `needs the npm registry for the package's dependencies: check the network or the registry ` +
        `configuration (npm config get registry).\n${ran.out}`,
    );
  }
  return { dir, out: ran.out };
}

interface Installed {
  js: string;
  ts: string;
  /** What each project's `npm install` printed. */
  output: Record<string, string>;
}

async function packAndInstall(): Promise<Installed> {
  work = mkdtempSync(join(tmpdir(), 'sockwarden-pack-'));
  // What npm pack reads: package.json's `files` (dist/ is what prepack must build, so it is left
  // out), what npm always ships, and what the build reads. node_modules is the repository's own.
  const source = join(work, 'source');
  const copied = [
    ...PKG.files,
    'package.json',
    'README.md',
    'LICENSE',
    'src',
    'tsconfig.json',
    'tsconfig.build.json',
  ];
  for (const entry of new Set(copied)) {
    if (entry === 'dist' || !existsSync(join(ROOT, entry))) continue;
    cpSync(join(ROOT, entry), join(source, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
  const packed = join(work, 'packed');
  mkdirSync(packed);
  mustSucceed('npm pack', await run('npm', ['pack', '--pack-destination', packed], source));
  const [file] = readdirSync(packed).filter((f) => f.endsWith('.tgz'));
  if (!file) throw new Error(`npm pack wrote no tarball to ${packed}`);
  const tarball = join(packed, file);
  const [js, ts] = await Promise.all([
    project(work, 'plain-js', tarball, []),
    project(work, 'plain-ts', tarball, [`@types/node@${PKG.devDependencies['@types/node']}`]),
  ]);
  return { js: js.dir, ts: ts.dir, output: { 'plain-js': js.out, 'plain-ts': ts.out } };
}

let installing: Promise<Installed> | undefined;
/**
 * Packs and installs once, on first use. Not a beforeAll: Vitest reports the tests of a failed hook
 * as skipped, and without the registry every test here must fail, with the reason.
 */
function installed(): Promise<Installed> {
  installing ??= packAndInstall();
  return installing;
}

/** The first test waits for the pack, the build and both installs. */
const TIMEOUT = 180_000;

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Every file under `dir`, relative to it. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path, base) : [relative(base, path)];
  });
}

/** Type-checked only, never run: both entry points, a type of each, and a call that must not compile. */
const TS_SOURCE = [
  `import { createGateway, type Gateway } from 'sockwarden';`,
  `import { type ClientStatus, connect, type SockwardenClient } from 'sockwarden/client';`,
  '',
  `export const gateway: Gateway = createGateway({ authenticate: async () => ({ user: 'u' }) });`,
  `export const client: SockwardenClient = connect('ws://127.0.0.1:1/ws');`,
  `export const status: ClientStatus = 'open';`,
  '// Fails to compile if the package resolved to `any`: a number is not a URL.',
  '// @ts-expect-error',
  'connect(42);',
  '',
].join('\n');

/** What a plain TypeScript project would set for each resolution mode. */
const TS_SETTINGS: Record<string, Record<string, unknown>> = {
  node10: { module: 'commonjs', moduleResolution: 'node', esModuleInterop: true },
  node16: { module: 'node16', moduleResolution: 'node16' },
  bundler: { module: 'esnext', moduleResolution: 'bundler' },
};

describe('the packed package', () => {
  it(
    'installs without an install-time script or a warning about one',
    async () => {
      const { output } = await installed();
      for (const [name, out] of Object.entries(output)) {
        expect(out, name).not.toMatch(/prepare/i);
        expect(out, name).not.toMatch(new RegExp(`${PKG.name}@\\S+ \\(`));
      }
    },
    TIMEOUT,
  );

  it(
    'ships no source map, and no sourceMappingURL, that points outside the package',
    async () => {
      const pkgDir = join((await installed()).js, 'node_modules', PKG.name);
      const files = walk(pkgDir);
      expect(files).toContain(join('dist', 'index.js'));
      const outside: string[] = [];
      const inside = (path: string) => path.startsWith(pkgDir + sep) && existsSync(path);
      for (const file of files) {
        const path = join(pkgDir, file);
        if (file.endsWith('.map')) {
          const map = JSON.parse(readFileSync(path, 'utf8')) as { sourceRoot?: string; sources?: string[] };
          for (const s of map.sources ?? []) {
            if (!inside(resolve(dirname(path), map.sourceRoot ?? '', s))) outside.push(`${file} -> ${s}`);
          }
        } else if (/\.(js|d\.ts)$/.test(file)) {
          const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(path, 'utf8'))?.[1];
          if (url && !url.startsWith('data:') && !inside(resolve(dirname(path), url))) {
            outside.push(`${file} -> ${url}`);
          }
        }
      }
      expect(outside).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'imports both entry points and runs the CLI from plain JavaScript',
    async () => {
      const { js } = await installed();
      writeFileSync(
        join(js, 'check.mjs'),
        [
          `import { createGateway, memoryEngine } from 'sockwarden';`,
          `import * as client from 'sockwarden/client';`,
          `const seen = {`,
          `  createGateway: typeof createGateway,`,
          `  memoryEngine: typeof memoryEngine,`,
          `  connect: typeof client.connect,`,
          `  nodeSocket: typeof client.nodeSocket,`,
          `};`,
          `process.stdout.write(JSON.stringify(seen));`,
          '',
        ].join('\n'),
      );
      const out = mustSucceed('node check.mjs', await run(process.execPath, ['check.mjs'], js));
      // nodeSocket: Node picked the `node` build of the client, not the browser one.
      expect(JSON.parse(out)).toEqual({
        createGateway: 'function',
        memoryEngine: 'function',
        connect: 'function',
        nodeSocket: 'function',
      });
      const bin = join(js, 'node_modules', '.bin', 'sockwarden');
      const version = mustSucceed('sockwarden --version', await run(bin, ['--version'], js));
      expect(version.trim()).toMatch(/^\d+\.\d+\.\d+/);
    },
    TIMEOUT,
  );

  for (const [name, options] of Object.entries(TS_SETTINGS)) {
    it(
      `type-checks both entry points from plain TypeScript under moduleResolution ${name}`,
      async () => {
        const { ts } = await installed();
        writeFileSync(join(ts, 'index.ts'), TS_SOURCE);
        const config = `tsconfig.${name}.json`;
        const compilerOptions = {
          target: 'ES2022',
          lib: ['ES2023'],
          types: ['node'],
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          ...options,
        };
        writeFileSync(join(ts, config), JSON.stringify({ compilerOptions, files: ['index.ts'] }));
        const ran = await run(process.execPath, [TSC, '-p', config], ts);
        expect(ran.out).toBe('');
        expect(ran.code).toBe(0);
      },
      TIMEOUT,
    );
  }
});
