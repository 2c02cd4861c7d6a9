/**
 * `/dashboard`: the live page, its script and the charting library (served from this package, never
 * from the internet), the sign-in for a browser (a POSTed form only: a key in the address would stay
 * in the browser's history and in proxy logs), and the stats stream.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { DASHBOARD_PAGE, signInPage } from '../dashboard/page.js';
import { SockwardenError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import { readBody } from './api.js';
import type { ApiKeyGuard } from './api-access.js';
import { refuseCrossSite } from './cross-site.js';
import { authorizeDashboard, signIn } from './dashboard-access.js';
import { DashboardStreams } from './dashboard-stream.js';

const require = createRequire(import.meta.url);

/** A sign-in form carries one short field. */
const SIGN_IN_BODY_LIMIT = 4_096;

/** Static files under `/dashboard/`: path to a resolver of the file on disk and its content type. */
const FILES: Record<string, { locate: () => string; type: string }> = {
  '/dashboard/app.js': {
    locate: () => new URL('../dashboard/app.js', import.meta.url).pathname,
    type: 'text/javascript; charset=utf-8',
  },
  '/dashboard/vendor/uPlot.esm.js': {
    locate: () => require.resolve('uplot/dist/uPlot.esm.js'),
    type: 'text/javascript; charset=utf-8',
  },
  '/dashboard/vendor/uPlot.min.css': {
    locate: () => require.resolve('uplot/dist/uPlot.min.css'),
    type: 'text/css; charset=utf-8',
  },
};

/** The dashboard of one server. */
export interface Dashboard {
  /** Answers a request under `/dashboard`. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
  /** Viewers streaming now. */
  readonly viewers: number;
  /** Ends every stream (shutdown). */
  close(): void;
}

function html(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res
    .writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // The page runs only its own script and talks only to this gateway.
      'content-security-policy':
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      ...headers,
    })
    .end(body);
}

/** What the sign-in page says to a viewer who put the key in the address. */
const KEY_IN_ADDRESS =
  'sign in with this form: a key in the address is not accepted, as it would stay in the browser history and in logs';

/** The sign-in page again, saying why; with Retry-After when the address is throttled. */
function refuseSignIn(res: ServerResponse, error: SockwardenError, problem: string | undefined): void {
  const retry: Record<string, string> =
    error.retryAfterMs === undefined ? {} : { 'retry-after': String(Math.ceil(error.retryAfterMs / 1000)) };
  html(res, error.status, signInPage(problem), retry);
}

/** Creates the dashboard routes for a gateway behind the API's access rule, checked by `guard`. */
export function createDashboard(gateway: Gateway, guard: ApiKeyGuard): Dashboard {
  const streams = new DashboardStreams(gateway);
  const cache = new Map<string, Buffer>();

  const signInWith = (key: string, req: IncomingMessage, res: ServerResponse) => {
    try {
      const tls = (req.socket as { encrypted?: boolean }).encrypted === true;
      const cookie = signIn(key, guard.addressOf(req), guard, Date.now(), tls);
      // Redirect so that a reload does not post the form again.
      res.writeHead(303, { location: '/dashboard', 'set-cookie': cookie, 'cache-control': 'no-store' }).end();
    } catch (error) {
      if (!(error instanceof SockwardenError)) throw error;
      refuseSignIn(res, error, error.message);
    }
  };

  const page = (req: IncomingMessage, res: ServerResponse, url: URL) => {
    try {
      authorizeDashboard(req, guard);
    } catch (error) {
      if (!(error instanceof SockwardenError)) throw error;
      const problem =
        guard.access.apiKey === undefined || error.code !== 'unauthorized'
          ? error.message
          : url.searchParams.has('key')
            ? KEY_IN_ADDRESS
            : undefined;
      refuseSignIn(res, error, problem);
      return;
    }
    html(res, 200, DASHBOARD_PAGE);
  };

  return {
    async handle(req, res, url) {
      if (req.method === 'POST' && (url.pathname === '/dashboard' || url.pathname === '/dashboard/')) {
        // Or another site could make its visitors' browsers guess the key for it, each from its own
        // address, past the per-address throttle.
        refuseCrossSite(req);
        const form = new URLSearchParams(await readBody(req, SIGN_IN_BODY_LIMIT));
        return signInWith(form.get('key') ?? '', req, res);
      }
      if (req.method !== 'GET') {
        throw new SockwardenError('method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
      }
      if (url.pathname === '/dashboard' || url.pathname === '/dashboard/') return page(req, res, url);
      if (url.pathname === '/dashboard/stream') {
        authorizeDashboard(req, guard);
        return streams.start(res);
      }
      const file = FILES[url.pathname];
      if (!file) throw new SockwardenError('not_found', `no dashboard file ${url.pathname}`);
      let body = cache.get(url.pathname);
      if (!body) {
        try {
          body = readFileSync(file.locate());
        } catch (cause) {
          // Only a source checkout that was never built lacks these.
          throw new SockwardenError('not_found', `${url.pathname} is missing: run \`npm run build\``, {
            cause,
          });
        }
        cache.set(url.pathname, body);
      }
      res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache' }).end(body);
    },
    get viewers() {
      return streams.size;
    },
    close: () => streams.closeAll(),
  };
}
