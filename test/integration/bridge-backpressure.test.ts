/**
 * A client that stops reading holds its backend stream back through TCP (the bridge awaits each
 * frame's backpressure), but that wait is the client's, not the backend's: it must neither cut the
 * stream after the attempt's silence timeout nor count against the backend's circuit.
 */
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Session } from '../../src/index.js';
import { bridge, startBackend } from '../helpers/backend.js';
import { type TestClient, until, useGateway } from '../helpers/gateway.js';

const gw = useGateway();
const detachers: Array<() => void> = [];
afterEach(() => {
  for (const detach of detachers.splice(0)) detach();
});

/** The client's TCP socket: pausing it stops reading, so the gateway's send buffer fills. */
function rawSocket(client: TestClient): { pause(): void; resume(): void } {
  return (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
}

const LINES = 400;
const FILLER = 'x'.repeat(32 * 1024);
const ATTEMPT_TIMEOUT_MS = 300;

/** Streams LINES lines as fast as the gateway reads them, following TCP backpressure. */
async function streamFast(res: ServerResponse): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  for (let i = 0; i < LINES; i++) {
    if (res.destroyed) return;
    if (!res.write(`${JSON.stringify({ i, FILLER })}\n`))
      await new Promise((r) => res.once('drain', r).once('close', r));
  }
  res.end();
}

describe('backend bridge: a client that stops reading', () => {
  it('holds the stream without cutting it, resumes it when the client reads, and the breaker stays closed', async () => {
    const running = await gw.start({
      highWaterMarkBytes: 64 * 1024,
      maxBufferedBytes: 256 * 1024 * 1024,
      replay: { maxMessages: 1_000, maxBytes: 64 * 1024 * 1024 },
      governor: { attemptTimeoutMs: ATTEMPT_TIMEOUT_MS, breakerConsecutiveFailures: 1 },
    });
    let session: Session | undefined;
    running.gateway.on('session', (s) => {
      session = s;
    });
    const backend = await startBackend();
    backend.handle = (_request, res) => streamFast(res);
    detachers.push(bridge(running, backend.url));
    const client = await gw.open({ user: 'slow-reader' });
    rawSocket(client).pause();
    client.send({ type: 'message', id: 'long', data: 'go' });
    // The gateway is held back by the client, not by the backend.
    await until(() => session?.writable === false, 10_000, 'the client buffer to pass its high-water mark');
    // Paused for several silence timeouts: an attempt timer that ran on would have cut the stream.
    await new Promise((r) => setTimeout(r, ATTEMPT_TIMEOUT_MS * 4));
    rawSocket(client).resume();
    await until(() => client.messages().length === LINES, 20_000, 'the whole stream');
    expect(client.messages().map((m) => (m.data as { i: number }).i)).toEqual(
      Array.from({ length: LINES }, (_, i) => i),
    );
    expect(client.frames.filter((f) => f.type === 'error')).toEqual([]);
    // The call ends once the stream's end is read, a moment after its last line reached the client.
    await until(() => running.gateway.stats().upstream.backend?.successes === 1, 5_000, 'the call to end');
    expect(running.gateway.stats().upstream.backend).toMatchObject({ circuit: 'closed', failures: 0 });
  });
});
