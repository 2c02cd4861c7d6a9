import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useGateway } from '../helpers/gateway.js';

const CLIENT = join(import.meta.dirname, '../../dist/client/node.js');

/**
 * Runs `body` in a fresh Node process with `connect` imported from the built SDK. The process gets no
 * process.exit(): it ends only if close() left no timer, listener or socket behind.
 */
function runClient(body: string): Promise<{ code: number | null; output: string; exitMs: number }> {
  const script = `import { connect } from ${JSON.stringify(CLIENT)};\n${body}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'pipe' });
  let output = '';
  let closedAt = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk;
    if (closedAt === 0 && output.includes('closed')) closedAt = Date.now();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, output, exitMs: Date.now() - closedAt });
    }),
  );
}

describe('client close() lets the process exit', () => {
  const harness = useGateway();

  it('after an open session with traffic', async () => {
    const running = await harness.start({ heartbeatIntervalMs: 1_000, pongTimeoutMs: 500 });
    running.gateway.on('session', (session) => void session.send({ hi: 1 }));
    const result = await runClient(`
      const client = connect(${JSON.stringify(running.url)}, { params: { user: 'exit-test' } });
      client.on('message', () => { client.close(); console.log('closed'); });
    `);
    expect(result.output).toContain('closed');
    expect(result.code).toBe(0);
    expect(result.exitMs).toBeLessThan(2_000);
  });

  it('while waiting to reconnect to an unreachable server', async () => {
    const result = await runClient(`
      const client = connect('ws://127.0.0.1:9/ws', { backoffBaseMs: 60000, backoffCapMs: 60000 });
      client.on('close', (event) => {
        if (event.willReconnect) { client.close(); console.log('closed'); }
      });
    `);
    expect(result.output).toContain('closed');
    expect(result.code).toBe(0);
    expect(result.exitMs).toBeLessThan(2_000);
  });
});
