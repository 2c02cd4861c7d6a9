/**
 * `sockwarden bench`: runs the benchmark of the source repository (bench/run.js) with the flags
 * given. The benchmark needs the peers it compares against, which are development dependencies, so
 * it runs from a clone of the repository, not from an installed package.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SockwardenError } from '../errors.js';

/** Runs bench/run.js in a child process; resolves with its exit code. */
export function bench(args: string[]): Promise<number> {
  const script = fileURLToPath(new URL('../../bench/run.js', import.meta.url));
  if (!existsSync(script)) {
    throw new SockwardenError(
      'invalid_config',
      'the benchmark is part of the source repository, not the package: clone it, then npm ci && npm run bench',
    );
  }
  const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
