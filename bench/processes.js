// Child processes of a benchmark run, and the small statistics every scenario shares.
import { fork } from 'node:child_process';
import { join } from 'node:path';

/** No step of any process may take longer than this; a stuck contender fails the run with its name. */
const STEP_TIMEOUT_MS = 120_000;
const here = import.meta.dirname;

/** Prints a progress line on stderr with the time of day. */
export function progress(text) {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
}

const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Forks `script` (relative to bench/) with `args`. The child gets `next(type)`, which waits for its
 * next message of that type, and `ask(message)`, which sends a message and waits for the reply of
 * the same type.
 */
export function start(script, args = [], { profileDir } = {}) {
  const child = fork(join(here, script), args, {
    execArgv: ['--expose-gc', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
    // A child's stdout goes to stderr: stdout is the run's, for --json.
    stdio: ['ignore', 2, 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const waiting = new Map();
  child.on('message', (message) => {
    if (message.type === 'progress') progress(`  ${script}: ${message.open} open`);
    const resolve = waiting.get(message.type);
    waiting.delete(message.type);
    resolve?.(message);
  });
  child.next = (type) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${script}: no ${type} within ${STEP_TIMEOUT_MS} ms`)),
        STEP_TIMEOUT_MS,
      );
      waiting.set(type, (message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
  child.ask = (message) => {
    const answer = child.next(message.type);
    child.send(message);
    return answer;
  };
  // Asks the child to exit (a CPU profile is only written on a normal exit), and kills it if it
  // cannot answer within 2 s, as a frozen load process cannot.
  child.stop = () => {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.connected) child.send({ type: 'exit' });
    const killer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    return exited.then(() => clearTimeout(killer));
  };
  return child;
}

function atRank(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The `p`th percentile (nearest rank) of `samples`, or null when there are none. */
export function percentile(samples, p) {
  return samples.length === 0 ? null : atRank(Float64Array.from(samples).sort(), p);
}

/** The 0th to 100th percentiles, for the distribution charts. */
export function ladder(samples) {
  if (samples.length === 0) return [];
  const sorted = Float64Array.from(samples).sort();
  return Array.from({ length: 101 }, (_, p) => round(atRank(sorted, p)));
}

/** Rounds to three decimals, enough for microseconds in milliseconds. */
export function round(value) {
  return Math.round(value * 1000) / 1000;
}

/** Resolves after `ms`. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
