/** A real `redis-server` per test file, on a free loopback port, with nothing saved to disk. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

/**
 * Whether cluster tests can run. Without `redis-server` on PATH they are skipped with a visible
 * notice, unless SOCKWARDEN_REQUIRE_REDIS=1 (set by CI), which turns the skip into a failure.
 */
export function redisAvailable(): boolean {
  if (spawnSync('redis-server', ['--version']).status === 0) return true;
  if (process.env.SOCKWARDEN_REQUIRE_REDIS === '1')
    throw new Error(
      'SOCKWARDEN_REQUIRE_REDIS=1 but redis-server is not on PATH (apt-get install redis-server)',
    );
  console.warn('[cluster tests skipped] redis-server not found: apt-get install -y redis-server to run them');
  return false;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A running redis-server that a test can stop and start again on the same port. */
export interface TestRedis {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGKILL: an outage, not a shutdown). */
  stop(): Promise<void>;
  /** Starts it again, empty, on the same port. */
  start(): Promise<void>;
}

/** Starts redis-server on a free port; resolves once it accepts connections. */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async () => {
    const server = spawn('redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ]);
    child = server;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (chunk) => {
        out += chunk;
        if (out.includes('Ready to accept connections')) resolve();
      });
      server.once('exit', (code) =>
        reject(new Error(`redis-server exited with ${code}: ${out.slice(-500)}`)),
      );
    });
  };
  const stop = async () => {
    const server = child;
    child = null;
    if (!server || server.exitCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}

/** The redis-server of one test file. */
export interface RedisFixture {
  /** Whether redis-server is on PATH, so the file's cluster tests run. */
  readonly available: boolean;
  /** The running server; only inside tests that run when `available`. */
  readonly server: TestRedis;
  /** Its URL. */
  readonly url: string;
}

/** Starts a redis-server before the file's tests (when one is available) and stops it after them. */
export function useRedis(): RedisFixture {
  const available = redisAvailable();
  let server: TestRedis | null = null;
  beforeAll(async () => {
    if (available) server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });
  const running = (): TestRedis => {
    if (!server) throw new Error('redis-server is not running (is the test guarded by `available`?)');
    return server;
  };
  return {
    available,
    get server() {
      return running();
    },
    get url() {
      return running().url;
    },
  };
}
