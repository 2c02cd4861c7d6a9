import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { attachBackendBridge, type BackendBridgeOptions } from '../../src/server/backend-bridge.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyBody } from '../../src/server/backend-signature.js';
import type { Running } from './gateway.js';
import { quietLogger } from './gateway.js';

/** One request the test backend received. */
export interface BackendRequest {
  body: { event: string; user: string; session: string; id: string | null; data: unknown };
  signed: boolean;
  at: number;
  req: IncomingMessage;
  /** Resolves when the gateway closes (or aborts) the request's connection. */
  closed: Promise<number>;
}

/** A real HTTP backend on loopback whose answers the test scripts. */
export interface TestBackend {
  url: string;
  requests: BackendRequest[];
  handle: (request: BackendRequest, res: ServerResponse) => void | Promise<void>;
  close(): Promise<void>;
}

const backends: Server[] = [];
afterEach(async () => {
  for (const server of backends.splice(0)) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

/** Starts a backend; `secret` is checked on every request (recorded as `signed`). */
export async function startBackend(secret = 'backend-secret'): Promise<TestBackend> {
  const backend: TestBackend = {
    url: '',
    requests: [],
    handle: (_r, res) => void res.writeHead(204).end(),
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const signature = req.headers[SIGNATURE_HEADER] as string | undefined;
      const timestamp = req.headers[TIMESTAMP_HEADER] as string | undefined;
      const closed = new Promise<number>((resolve) => res.on('close', () => resolve(Date.now())));
      const request: BackendRequest = {
        body: JSON.parse(text) as BackendRequest['body'],
        signed: verifyBody(secret, { signature, timestamp }, text),
        at: Date.now(),
        req,
        closed,
      };
      backend.requests.push(request);
      void Promise.resolve(backend.handle(request, res)).catch(() => res.destroy());
    });
  });
  backends.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  return backend;
}

/** One request a {@link Recorder} received, whatever its method or body. */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A plain HTTP server that records every request and answers 200 with a JSON body. */
export interface Recorder {
  url: string;
  requests: RecordedRequest[];
}

/**
 * Starts a {@link Recorder}: the stand-in for a host the gateway must never talk to (a redirect's
 * target), so it accepts anything and keeps it as evidence.
 */
export async function startRecorder(): Promise<Recorder> {
  const recorder: Recorder = { url: '', requests: [] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      recorder.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"from":"elsewhere"}');
    });
  });
  backends.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  recorder.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/steal`;
  return recorder;
}

/** Attaches the bridge to a running test gateway. */
export function bridge(
  running: Running,
  url: string,
  options: Partial<BackendBridgeOptions> = {},
): () => void {
  return attachBackendBridge(running.gateway, {
    url,
    secret: 'backend-secret',
    logger: quietLogger(),
    ...options,
  });
}

/** Writes NDJSON lines with a pause between them; stops when the request is aborted. */
export async function streamLines(res: ServerResponse, lines: unknown[], gapMs: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  for (const line of lines) {
    if (res.destroyed) return;
    res.write(`${JSON.stringify(line)}\n`);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  res.end();
}
