/**
 * The standalone server's HTTP side: `/healthz`, `/readyz`, `/metrics`, the `/api` routes, the
 * dashboard, the SDK and pages, and the WebSocket upgrade path, all on one `node:http` server (or
 * `node:https`, given a certificate: then `https` and `wss` on the same port, nothing else
 * different), bounded against slow and pipelining clients (src/server/http-limits.ts).
 */

import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { SockwardenError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import { clientAddress, proxyTrust } from '../transports/client-address.js';
import { type ApiContext, handleApi, sendError, sendJson } from './api.js';
import { type ApiAccess, ApiKeyGuard } from './api-access.js';
import { createDashboard, type Dashboard } from './dashboard.js';
import { MAX_DASHBOARD_STREAMS } from './dashboard-stream.js';
import { GarbageCollectionPacer } from './garbage-collection.js';
import { HTTP_SERVER_LIMITS, type HttpServerLimits, PipeliningGuard } from './http-limits.js';
import { cachedRender } from './metrics-cache.js';
import { staticAssets } from './static-assets.js';

export { HTTP_SERVER_LIMITS, type HttpServerLimits } from './http-limits.js';

/** The HTTP server and its dashboard, whose streams the caller ends at shutdown. */
export interface GatewayHttpServer {
  server: Server;
  dashboard: Dashboard;
  /** The same server, when it serves TLS: `setSecureContext` replaces its certificate. */
  secure?: HttpsServer | undefined;
}

/** A certificate (chain) and its private key, PEM. */
export interface TlsIdentity {
  cert: Buffer | string;
  key: Buffer | string;
}

/** What a request is routed with. */
interface Routes {
  gateway: Gateway;
  guard: ApiKeyGuard;
  assets: ReturnType<typeof staticAssets>;
  dashboard: Dashboard;
  api: ApiContext;
  metricsText: () => Promise<string>;
}

/**
 * Builds the HTTP server around a gateway; the caller listens. `pages` maps paths to HTML pages;
 * `limits` overrides {@link HTTP_SERVER_LIMITS}; with `tls` it is an HTTPS server. Throws
 * `invalid_config` for an API key shorter than MIN_API_KEY_LENGTH.
 */
export function createHttpServer(
  gateway: Gateway,
  access: ApiAccess,
  pages: Record<string, string> = {},
  limits: Partial<HttpServerLimits> = {},
  tls?: TlsIdentity,
): GatewayHttpServer {
  const bounds: HttpServerLimits = { ...HTTP_SERVER_LIMITS, ...limits };
  const trust = proxyTrust(gateway.config.trustProxy);
  const guard = new ApiKeyGuard(access, gateway.logger, {
    addressOf: (req) => clientAddress(req.socket.remoteAddress, req.headers, trust),
  });
  const dashboard = createDashboard(gateway, guard);
  const routes: Routes = {
    gateway,
    guard,
    assets: staticAssets(pages),
    dashboard,
    api: {
      gateway,
      guard,
      gc: new GarbageCollectionPacer(bounds.gcMinIntervalMs),
      serverStats: () => ({ dashboard: { viewers: dashboard.viewers, maxViewers: MAX_DASHBOARD_STREAMS } }),
    },
    metricsText: cachedRender(() => gateway.metrics(), bounds.metricsCacheMs),
  };
  const pipelining = new PipeliningGuard(bounds, gateway.logger);
  const timeouts = {
    headersTimeout: bounds.headersTimeoutMs,
    requestTimeout: bounds.requestTimeoutMs,
    connectionsCheckingInterval: bounds.timeoutCheckIntervalMs,
  };
  const onRequest: RequestListener = (req, res) => {
    if (!pipelining.admit(req, res)) return;
    route(req, res, routes).catch((error: unknown) => {
      if (error instanceof SockwardenError) sendError(res, error);
      else {
        gateway.logger.error({ err: error, url: req.url }, 'HTTP request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: 'internal error' });
        else res.destroy();
      }
    });
  };
  // The handshake comes before the headers' clock starts: bounded like them, not by Node's 120 s,
  // or a peer that never finishes it holds its socket twelve times longer than a slow request.
  const secure = tls
    ? createHttpsServer(
        { ...timeouts, cert: tls.cert, key: tls.key, handshakeTimeout: bounds.headersTimeoutMs },
        onRequest,
      )
    : undefined;
  const server: Server = secure ?? createServer(timeouts, onRequest);
  server.keepAliveTimeout = bounds.keepAliveTimeoutMs;
  gateway.attach(server);
  return { server, dashboard, secure };
}

async function route(req: IncomingMessage, res: ServerResponse, routes: Routes): Promise<void> {
  const { gateway, guard, assets, dashboard } = routes;
  const url = new URL(req.url ?? '/', 'http://gateway.invalid');
  if (req.method === 'GET' && assets(url.pathname, res)) return;
  if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
  if (url.pathname === '/readyz') {
    const readiness = gateway.ready();
    return sendJson(res, readiness.ready ? 200 : 503, readiness);
  }
  if (url.pathname === '/metrics') {
    // Open by default like most exporters (labels are bounded and carry no user id); `key` puts it
    // behind the API's rule. Either way it is rendered at most once per metricsCacheMs.
    if (guard.access.metrics === 'key') guard.authorize(req);
    const text = await routes.metricsText();
    res.writeHead(200, { 'content-type': gateway.metricsContentType }).end(text);
    return;
  }
  if (url.pathname === '/dashboard' || url.pathname.startsWith('/dashboard/'))
    return dashboard.handle(req, res, url);
  if (url.pathname.startsWith('/api/')) return handleApi(req, res, url, routes.api);
  throw new SockwardenError('not_found', `no route ${url.pathname}`);
}
