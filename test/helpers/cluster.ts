/** Gateways in this process sharing the test file's redis-server, as nodes of one cluster. */
import { afterEach } from 'vitest';
import { type RedisEngineOptions, redisEngine } from '../../src/engines/redis.js';
import type { GatewayOptions } from '../../src/index.js';
import { connect, type Running, startGateway, type TestClient } from './gateway.js';
import type { RedisFixture } from './redis.js';

/** An upgrade the gateway refused: its HTTP status, body and headers. */
export type Refusal = { status: number; body: string; headers: Record<string, string> };

/** What {@link useClusterNodes} gives a test file. */
export interface ClusterNodes {
  /** Starts a gateway on the Redis engine; nodes with the same `prefix` form one cluster. */
  node(
    prefix: string,
    options?: GatewayOptions,
    engine?: Omit<RedisEngineOptions, 'url' | 'keyPrefix'>,
  ): Promise<Running>;
  /** Opens a client on a node; resolves once welcomed. */
  open(running: Running, query: Record<string, string | number>): Promise<TestClient>;
  /** Tries to open a client; resolves with the refusal, or null when it was admitted. */
  refusal(running: Running, query: Record<string, string | number>): Promise<Refusal | null>;
}

/** Nodes and clients of each test, all closed after it; `defaults` apply to every node. */
export function useClusterNodes(redis: RedisFixture, defaults: GatewayOptions = {}): ClusterNodes {
  const nodes: Running[] = [];
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.ws.terminate();
    for (const node of nodes.splice(0)) await node.stop();
  });
  const open = async (running: Running, query: Record<string, string | number>) => {
    const client = await connect(running.url, query);
    clients.push(client);
    return client;
  };
  return {
    async node(prefix, options = {}, engine = {}) {
      const running = await startGateway({
        ...defaults,
        engine: redisEngine({ url: redis.url, keyPrefix: prefix, ...engine }),
        ...options,
      });
      nodes.push(running);
      return running;
    },
    open,
    async refusal(running, query) {
      try {
        await open(running, query);
      } catch (error) {
        return error as Refusal;
      }
      return null;
    },
  };
}
