/**
 * The deployment files say only what `sockwarden serve` understands: every `--flag` in the systemd
 * unit and the Dockerfile's CMD is one of FLAGS, every SOCKWARDEN_* variable they or the example
 * environment file name is a known one, the unit gives the drain time to finish before systemd
 * kills, and the image is multi-stage, non-root, health-checked and stopped with SIGTERM. No
 * container engine runs here, so the Dockerfile is checked as text (README, Deploying). The package
 * ships the MIT LICENSE.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envName, FLAGS } from '../../src/cli/serve-flags.js';

const ROOT = join(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const UNIT = read('deploy/systemd/sockwarden.service');
const DOCKERFILE = read('Dockerfile');
const ENV_EXAMPLE = read('deploy/systemd/sockwarden.env.example');

const KNOWN_FLAGS = new Set(FLAGS.map((flag) => flag.name));
const KNOWN_VARIABLES = new Set(FLAGS.map((flag) => envName(flag.name)));

/** `--flags` of a command line, without the dashes. */
function flagsOf(commandLine: string): string[] {
  return [...commandLine.matchAll(/(?:^|[\s"])--([a-z][a-z0-9-]*)/g)].map((m) => m[1] as string);
}

/** The value of a systemd directive (the last one wins, as in systemd). */
function directive(name: string): string {
  const values = [...UNIT.matchAll(new RegExp(`^${name}=(.*)$`, 'gm'))].map((m) => m[1] as string);
  const value = values.at(-1);
  if (value === undefined) throw new Error(`no ${name}= in the unit`);
  return value;
}

/** The value of `--name` on a command line. */
function flagValue(commandLine: string, name: string): string | undefined {
  return new RegExp(`--${name}[ =]"?([^\\s"]+)`).exec(commandLine)?.[1];
}

describe('deploy/systemd/sockwarden.service', () => {
  const execStart = directive('ExecStart');

  it('runs serve with flags that exist', () => {
    expect(execStart).toMatch(/ serve /);
    const flags = flagsOf(execStart);
    expect(flags.length).toBeGreaterThan(0);
    for (const flag of flags) expect(KNOWN_FLAGS, `--${flag}`).toContain(flag);
  });

  it('names only known SOCKWARDEN_* variables, in the unit and its example environment file', () => {
    const named = [...`${UNIT}\n${ENV_EXAMPLE}`.matchAll(/\bSOCKWARDEN_[A-Z0-9_]+/g)].map((m) => m[0]);
    expect(named.length).toBeGreaterThan(0);
    for (const variable of named) expect(KNOWN_VARIABLES, variable).toContain(variable);
  });

  it('stops with SIGTERM and waits longer than the shutdown delay and a drain that holds sessions for claims', () => {
    expect(directive('KillSignal')).toBe('SIGTERM');
    expect(directive('EnvironmentFile')).toMatch(/^-?\//);
    const drainMs = Number(flagValue(execStart, 'drain-timeout'));
    expect(drainMs).toBeGreaterThan(0);
    // The shutdown delay before the drain, if the unit sets one; a few seconds by default otherwise.
    const delayMs = Number(flagValue(execStart, 'shutdown-delay') ?? 5_000);
    const stopSeconds = Number(directive('TimeoutStopSec').replace(/s$/, ''));
    // With --redis the drain holds sessions for other nodes up to a second drain window.
    expect(stopSeconds * 1000).toBeGreaterThan(delayMs + 2 * drainMs);
  });

  it('is hardened', () => {
    for (const [name, value] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
    ])
      expect(directive(name as string), name).toBe(value);
    expect(directive('User')).not.toBe('root');
  });
});

describe('Dockerfile', () => {
  const cmd = /^CMD (\[.*\])$/m.exec(DOCKERFILE)?.[1];

  it('runs serve with flags that exist and names only known SOCKWARDEN_* variables', () => {
    expect(cmd).toBeDefined();
    const args = JSON.parse(cmd as string) as string[];
    expect(args[0]).toBe('serve');
    const flags = args.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0] as string);
    for (const flag of flags) expect(KNOWN_FLAGS, `--${flag}`).toContain(flag);
    for (const variable of DOCKERFILE.match(/\bSOCKWARDEN_[A-Z0-9_]+/g) ?? [])
      expect(KNOWN_VARIABLES, variable).toContain(variable);
  });

  it('is multi-stage, non-root, health-checked on /healthz, stopped with SIGTERM, and exposes the port it serves', () => {
    expect(DOCKERFILE.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(DOCKERFILE).toMatch(/^COPY --from=build /m);
    expect(DOCKERFILE).toMatch(/^USER (?!root)\S+$/m);
    expect(DOCKERFILE).toMatch(/^STOPSIGNAL SIGTERM$/m);
    const args = JSON.parse(cmd as string) as string[];
    const port = args[args.indexOf('--port') + 1];
    expect(port).toMatch(/^\d+$/);
    expect(DOCKERFILE).toMatch(new RegExp(`^EXPOSE ${port}$`, 'm'));
    expect(DOCKERFILE).toMatch(new RegExp(`^HEALTHCHECK [\\s\\S]*127\\.0\\.0\\.1:${port}/healthz`, 'm'));
    expect(read('.dockerignore')).toMatch(/^node_modules$/m);
  });
});

describe('LICENSE', () => {
  it('is the MIT license package.json names, and npm pack ships it', () => {
    expect((JSON.parse(read('package.json')) as { license: string }).license).toBe('MIT');
    expect(read('LICENSE')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} sockwarden authors\n/);
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as Array<{ files: Array<{ path: string }> }>;
    expect(packed[0]?.files.map((f) => f.path)).toContain('LICENSE');
  }, 30_000);
});
