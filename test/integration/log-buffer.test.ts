/**
 * `serve`'s log buffer is bounded: with a reader that never reads, a burst of log lines is dropped
 * past the bound and counted, instead of growing the process by every line.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIST = join(import.meta.dirname, '../../dist/cli/log-destination.js');

/** Logs 40 MB of lines to a stderr nobody reads; answers the heap's growth and the drop count. */
async function floodStalledLog(maxBytes: number): Promise<{ grewBytes: number; dropped: number }> {
  const script = `
    import { writeSync } from 'node:fs';
    import { pino } from 'pino';
    const { boundedLogDestination } = await import(${JSON.stringify(DIST)});
    const logs = boundedLogDestination(2, ${maxBytes});
    const logger = pino({ level: 'info' }, logs.stream);
    globalThis.gc?.();
    const before = process.memoryUsage().heapUsed;
    const padding = 'x'.repeat(180);
    for (let i = 0; i < 200_000; i++) {
      logger.info({ i, padding }, 'upgrade refused: connect_rate_limited');
      if (i % 10_000 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    globalThis.gc?.();
    const grewBytes = process.memoryUsage().heapUsed - before;
    writeSync(1, JSON.stringify({ grewBytes, dropped: logs.dropped }) + '\\n');
  `;
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '../..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The reader that stalls: stderr is never read, so the pipe fills after 64 KiB.
  child.stderr.pause();
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.split('\n', 1)[0] as string);
      });
      child.once('exit', (code) => reject(new Error(`child exited with ${code} before reporting`)));
    });
    return JSON.parse(line);
  } finally {
    // Its last lines can never be written: it would wait for them at exit.
    child.kill('SIGKILL');
  }
}

describe("serve's log buffer", () => {
  it('drops and counts lines past its bound when the reader stalls, and stays small', {
    timeout: 60_000,
  }, async () => {
    const bounded = await floodStalledLog(1024 * 1024);
    expect(bounded.dropped).toBeGreaterThan(150_000);
    // 40 MB of lines were logged; the buffer holds at most 1 MiB of them.
    expect(bounded.grewBytes).toBeLessThan(8 * 1024 * 1024);
    // The same flood with no bound (what serve had): the reader really stalled, and it all waited.
    const unbounded = await floodStalledLog(0);
    expect(unbounded.dropped).toBe(0);
    expect(unbounded.grewBytes).toBeGreaterThan(30 * 1024 * 1024);
  });
});
