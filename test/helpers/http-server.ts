/**
 * `sockwarden serve`'s HTTP server run in the test's own process, on a free loopback port, so a
 * test can pass limits the CLI does not expose and read the gateway directly. Each one is stopped
 * after its test.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach } from 'vitest';
import { createGateway, type Gateway } from '../../src/index.js';
import type { ApiAccess } from '../../src/server/api-access.js';
import { createHttpServer, type HttpServerLimits } from '../../src/server/http-server.js';

/** A started in-process server. */
export interface InProcessServer {
  gateway: Gateway;
  server: Server;
  port: number;
  /** http://127.0.0.1:PORT */
  base: string;
}

/** Registers the teardown and returns the function that starts servers for the current test. */
export function useInProcessServer(): (
  access?: ApiAccess,
  limits?: Partial<HttpServerLimits>,
) => Promise<InProcessServer> {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
  });
  return async (access = { apiKey: undefined, openOnLoopback: true }, limits = {}) => {
    const gateway = createGateway({ insecure: true, logger: pino({ level: 'silent' }) });
    const { server, dashboard } = createHttpServer(gateway, access, {}, limits);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    stops.push(async () => {
      dashboard.close();
      await gateway.close({ drainMs: 0 });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const port = (server.address() as AddressInfo).port;
    return { gateway, server, port, base: `http://127.0.0.1:${port}` };
  };
}
