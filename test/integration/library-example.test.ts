/**
 * The README's library example, run as written: its code block is copied into a module that imports
 * the built package, with stand-ins for the two helpers it leaves to the reader. On SIGTERM it must
 * drain and exit on its own, and an upgrade that arrives after `gateway.close()` must be refused at
 * once rather than hang.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../helpers/gateway.js';

const ROOT = join(import.meta.dirname, '../..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The first code block of the README's "As a library" section. */
function librarySnippet(): string {
  const section = readme.slice(readme.indexOf('## As a library'));
  const block = /```ts\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('no code block under "## As a library"');
  return block[1] as string;
}

/** What the snippet leaves to the reader, as small as it can be. */
const STAND_INS = `
const userIdFromToken = async (token) => token ?? 'anonymous';
async function* streamReply(data) { yield data; }
`;

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Runs the snippet on a free port; resolves once it listens. */
async function runExample() {
  const snippet = librarySnippet();
  expect(snippet).toContain("from 'sockwarden'");
  expect(snippet).toContain('server.listen(8080)');
  const dist = pathToFileURL(join(ROOT, 'dist/index.js')).href;
  const code =
    STAND_INS +
    snippet
      .replace("from 'sockwarden'", `from '${dist}'`)
      .replace('server.listen(8080)', 'server.listen(0)') +
    "server.on('listening', () => console.log('example listening on', server.address().port));\n";
  const dir = mkdtempSync(join(tmpdir(), 'sockwarden-example-'));
  dirs.push(dir);
  const file = join(dir, 'example.mjs');
  writeFileSync(file, code);
  // The imports above are hoisted above the stand-ins, which is what an ES module does anyway.
  const child = spawn(process.execPath, [file]);
  children.push(child);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.on('exit', (code) => resolve({ code, at: performance.now() })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', () => {
      const match = /example listening on (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`the example exited with ${code}: ${out}`)));
  });
  return { child, port, exited, output: () => out };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("the README's library example", () => {
  it('drains and exits on SIGTERM, refusing an upgrade that arrives after close() at once', async () => {
    const { child, port, exited, output } = await runExample();
    const client = await connect(`ws://127.0.0.1:${port}/ws`, { token: 'alice', session: 'chat-1' });
    client.send({ type: 'message', data: 'hi' });
    expect(await client.next((f) => f.type === 'message')).toMatchObject({ data: { token: 'hi' } });
    // An upgrade whose headers are still arriving when the gateway closes: its socket is busy, so
    // server.close() leaves it open, and its request reaches the server after close().
    const late = tcpConnect(port, '127.0.0.1');
    let answer = '';
    late.on('data', (d) => {
      answer += d;
    });
    late.on('error', () => {});
    await new Promise((r) => late.once('connect', r));
    late.write(`GET /ws?token=late HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);

    const signalledAt = performance.now();
    child.kill('SIGTERM');
    expect((await client.closed).code).toBe(1012);
    await waitFor(() => output().includes('gateway drained'), 'the gateway to finish closing');
    late.end(
      'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sockwarden.v1\r\n\r\n',
    );
    await waitFor(() => answer.includes('\r\n\r\n'), 'an answer to the late upgrade', 2_000);
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toContain('"error":"draining"');

    const { code, at } = await exited;
    expect(code).toBe(0);
    expect(at - signalledAt).toBeLessThan(5_000);
  });
});
