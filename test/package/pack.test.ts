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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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

let work: string;
let tarball: string;
let jsProject: string;
let tsProject: string;
const installOutput: Record<string, string> = {};

/** A fresh project with `package.json`, the tarball and `extra` installed from the registry. */
async function project(name: string, extra: string[]): Promise<string> {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name, version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--fetch-retries=1'];
  const ran = await run('npm', [...args, '--fetch-timeout=30000', tarball, ...extra], dir);
  if (ran.code !== 0) {
    throw new Error(
      `npm install of the packed tarball into a temporary project failed (exit ${ran.code}). This test ` +
        `needs the npm registry for the package's dependencies: check the network or the registry ` +
        `configuration (npm config get registry).\n${ran.out}`,
    );
  }
  installOutput[name] = ran.out;
  return dir;
}

beforeAll(async () => {
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
  tarball = join(packed, file);
  [jsProject, tsProject] = await Promise.all([
    project('plain-js', []),
    project('plain-ts', [`@types/node@${PKG.devDependencies['@types/node']}`]),
  ]);
}, 180_000);

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

describe('the packed package', () => {
  it('installs without an install-time script or a warning about one', () => {
    for (const [name, out] of Object.entries(installOutput)) {
      expect(out, name).not.toMatch(/prepare/i);
      expect(out, name).not.toMatch(new RegExp(`${PKG.name}@\\S+ \\(`));
    }
  });

  it('ships no source map, and no sourceMappingURL, that points outside the package', () => {
    const pkgDir = join(jsProject, 'node_modules', PKG.name);
    const files = walk(pkgDir);
    expect(files).toContain(join('dist', 'index.js'));
    const outside: string[] = [];
    const inside = (path: string) => path.startsWith(pkgDir + sep) && existsSync(path);
    for (const file of files) {
      const path = join(pkgDir, file);
      if (file.endsWith('.map')) {
        const map = JSON.parse(readFileSync(path, 'utf8')) as { sourceRoot?: string; sources?: string[] };
        for (const s of map.sources ?? []) {
          const target = resolve(dirname(path), map.sourceRoot ?? '', s);
          if (!inside(target)) outside.push(`${file} -> ${s}`);
        }
      } else if (/\.(js|d\.ts)$/.test(file)) {
        const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(path, 'utf8'))?.[1];
        if (url && !url.startsWith('data:') && !inside(resolve(dirname(path), url))) {
          outside.push(`${file} -> ${url}`);
        }
      }
    }
    expect(outside).toEqual([]);
  });

  it('imports both entry points and runs the CLI from plain JavaScript', async () => {
    writeFileSync(
      join(jsProject, 'check.mjs'),
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
    const out = mustSucceed('node check.mjs', await run(process.execPath, ['check.mjs'], jsProject));
    // nodeSocket: Node picked the `node` build of the client, not the browser one.
    expect(JSON.parse(out)).toEqual({
      createGateway: 'function',
      memoryEngine: 'function',
      connect: 'function',
      nodeSocket: 'function',
    });
    const bin = join(jsProject, 'node_modules', '.bin', 'sockwarden');
    const version = mustSucceed('sockwarden --version', await run(bin, ['--version'], jsProject));
    expect(version.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  describe('type-checks both entry points from plain TypeScript', () => {
    beforeAll(() => {
      writeFileSync(
        join(tsProject, 'index.ts'),
        [
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
        ].join('\n'),
      );
    });

    const settings: Record<string, Record<string, unknown>> = {
      node10: { module: 'commonjs', moduleResolution: 'node', esModuleInterop: true },
      node16: { module: 'node16', moduleResolution: 'node16' },
      bundler: { module: 'esnext', moduleResolution: 'bundler' },
    };
    for (const [name, options] of Object.entries(settings)) {
      it(`under moduleResolution ${name}`, async () => {
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
        writeFileSync(join(tsProject, config), JSON.stringify({ compilerOptions, files: ['index.ts'] }));
        const ran = await run(process.execPath, [TSC, '-p', config], tsProject);
        expect(ran.out).toBe('');
        expect(ran.code).toBe(0);
      });
    }
  });
});
