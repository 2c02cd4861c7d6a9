/**
 * The standalone server's HTTP side: `/healthz`, `/readyz`, `/metrics`, the `/api` routes, the
 * dashboard, the SDK and pages, and the WebSocket upgrade path, all on one `node:http` server.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SockwardenError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import { type ApiAccess, handleApi, sendError, sendJson } from './api.js';
import { createDashboard, type Dashboard } from './dashboard.js';
import { MAX_DASHBOARD_STREAMS } from './dashboard-stream.js';
import { staticAssets } from './static-assets.js';

/** The HTTP server and its dashboard, whose streams the caller ends at shutdown. */
export interface GatewayHttpServer {
  server: Server;
  dashboard: Dashboard;
}

/** Builds the HTTP server around a gateway; the caller listens. `pages` maps paths to HTML pages. */
export function createHttpServer(
  gateway: Gateway,
  access: ApiAccess,
  pages: Record<string, string> = {},
): GatewayHttpServer {
  const assets = staticAssets(pages);
  const dashboard = createDashboard(gateway, access);
  const server = createServer((req, res) => {
    route(req, res, gateway, access, assets, dashboard).catch((error: unknown) => {
      if (error instanceof SockwardenError) sendError(res, error);
      else {
        gateway.logger.error({ err: error, url: req.url }, 'HTTP request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: 'internal error' });
        else res.destroy();
      }
    });
  });
  gateway.attach(server);
  return { server, dashboard };
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  gateway: Gateway,
  access: ApiAccess,
  assets: ReturnType<typeof staticAssets>,
  dashboard: Dashboard,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://gateway.invalid');
  if (req.method === 'GET' && assets(url.pathname, res)) return;
  if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
  if (url.pathname === '/readyz') {
    const readiness = gateway.ready();
    return sendJson(res, readiness.ready ? 200 : 503, readiness);
  }
  if (url.pathname === '/metrics') {
    // Open like most exporters: labels are bounded and carry no user id.
    const text = await gateway.metrics();
    res.writeHead(200, { 'content-type': gateway.metricsContentType }).end(text);
    return;
  }
  if (url.pathname === '/dashboard' || url.pathname.startsWith('/dashboard/'))
    return dashboard.handle(req, res, url);
  if (url.pathname.startsWith('/api/'))
    return handleApi(req, res, url, gateway, access, () => ({
      dashboard: { viewers: dashboard.viewers, maxViewers: MAX_DASHBOARD_STREAMS },
    }));
  throw new SockwardenError('not_found', `no route ${url.pathname}`);
}
