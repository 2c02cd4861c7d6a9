import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach } from 'vitest';
import WebSocket, { type ClientOptions } from 'ws';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/index.js';

// The integration tests take `until` from here along with the gateway they wait on.
export { until } from './until.js';

/** A gateway on a real HTTP server on a free port. */
export interface Running {
  gateway: Gateway;
  server: Server;
  port: number;
  /** ws://127.0.0.1:PORT/ws */
  url: string;
  stop(): Promise<void>;
}

/** A logger that writes nothing. */
export function quietLogger() {
  return pino({ level: 'silent' });
}

/** Starts a gateway (insecure by default, silent logs) on port 0. */
export async function startGateway(options: GatewayOptions = {}): Promise<Running> {
  const gateway = createGateway({ insecure: true, logger: pino({ level: 'silent' }), ...options });
  const server = createServer((_req, res) => res.writeHead(404).end());
  gateway.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    gateway,
    server,
    port,
    url: `ws://127.0.0.1:${port}${gateway.path}`,
    async stop() {
      const closing = gateway.close({ drainMs: 0 });
      // A manual clock does not move by itself: walk it through the drain window.
      const clock = options.clock as { advance?: (ms: number) => void } | undefined;
      let done = false;
      void closing.finally(() => {
        done = true;
      });
      while (clock?.advance && !done) {
        clock.advance(1_000);
        await new Promise((r) => setTimeout(r, 5));
      }
      await closing;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A frame the server sent, parsed. */
export type Frame = { type: string; [key: string]: unknown };

/** A test client that records every frame and close. */
export interface TestClient {
  ws: WebSocket;
  frames: Frame[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first frame (already received or future) that matches. */
  next(predicate: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  /** Data of every `message` frame, in order. */
  messages(): Array<{ seq: number; data: unknown }>;
  send(frame: unknown): void;
}

/** Opens a client; resolves once the welcome frame arrived, rejects with the HTTP status on refusal. */
export function connect(
  url: string,
  query: Record<string, string | number> = {},
  options: ClientOptions = {},
): Promise<TestClient> {
  const target = new URL(url);
  for (const [key, value] of Object.entries(query)) target.searchParams.set(key, String(value));
  const ws = new WebSocket(target, 'sockwarden.v1', options);
  const frames: Frame[] = [];
  const waiters = new Set<{ predicate: (f: Frame) => boolean; resolve: (f: Frame) => void }>();
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Frame;
    frames.push(frame);
    for (const waiter of waiters)
      if (waiter.predicate(frame)) {
        waiters.delete(waiter);
        waiter.resolve(frame);
      }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  const client: TestClient = {
    ws,
    frames,
    closed,
    next(predicate, timeoutMs = 5_000) {
      const found = frames.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (f: Frame) => {
            clearTimeout(timer);
            resolve(f);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames.slice(-5))}`),
          );
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    messages() {
      return frames.filter((f) => f.type === 'message').map((f) => ({ seq: f.seq as number, data: f.data }));
    },
    send(frame) {
      ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk;
      });
      res.on('end', () =>
        reject(
          Object.assign(new Error(`refused ${res.statusCode}: ${body}`), {
            status: res.statusCode,
            body,
            headers: res.headers,
          }),
        ),
      );
    });
    ws.once('error', reject);
    client.next((f) => f.type === 'welcome').then(() => resolve(client), reject);
  });
}

/** The client's TCP socket: pausing it stops reading, so the server's send buffer grows. */
export function rawSocket(client: TestClient): { pause(): void; resume(): void } {
  return (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
}

/**
 * The value of one series in the gateway's metrics, e.g. `metricValue(gw, 'sockwarden_closes_total',
 * '{code="1009"}')`: 0 for a labelled series not counted yet. Throws for a metric that does not exist,
 * so a renamed metric cannot read as a zero.
 */
export async function metricValue(gateway: Gateway, name: string, labels = ''): Promise<number> {
  const text = await gateway.metrics();
  if (!text.includes(`# TYPE ${name} `)) throw new Error(`the gateway has no metric ${name}`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** One gateway per test and every client it opened, all torn down after each test. */
export interface GatewayHarness {
  /** Starts the test's gateway (stopping an earlier one of the same test first). */
  start(options?: GatewayOptions): Promise<Running>;
  /** Registers a client to be terminated after the test, and returns it. */
  track(client: TestClient): TestClient;
  /** Opens a client on the current gateway and tracks it. */
  open(query?: Record<string, string | number>, options?: ClientOptions): Promise<TestClient>;
  /** Terminates the tracked clients without a close frame; the gateway keeps running. */
  terminateClients(): void;
  /** Terminates the tracked clients and stops the gateway now. */
  reset(): Promise<void>;
}

/** Builds a {@link GatewayHarness} and registers its `afterEach` teardown. */
export function useGateway(): GatewayHarness {
  let running: Running | undefined;
  const clients: TestClient[] = [];
  const harness: GatewayHarness = {
    async start(options = {}) {
      await harness.reset();
      running = await startGateway(options);
      return running;
    },
    track(client) {
      clients.push(client);
      return client;
    },
    async open(query = {}, options = {}) {
      if (!running) throw new Error('start a gateway first');
      return harness.track(await connect(running.url, query, options));
    },
    terminateClients() {
      for (const client of clients.splice(0)) client.ws.terminate();
    },
    async reset() {
      harness.terminateClients();
      const stopping = running;
      running = undefined;
      await stopping?.stop();
    },
  };
  afterEach(() => harness.reset());
  return harness;
}
