/**
 * The server-mode HTTP API under `/api`, behind `Authorization: Bearer <api key>`. Cross-site
 * requests and bodies other than JSON are refused before anything else, and bodies are validated
 * with zod before anything happens, so a bad request changes nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { SockwardenError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import { workerIdentity } from '../observability/worker-identity.js';
import { SESSION_ID_PATTERN } from '../protocol.js';
import type { ApiKeyGuard } from './api-access.js';
import { hasBody, refuseCrossSite, requireJsonBody } from './cross-site.js';
import type { GarbageCollectionPacer } from './garbage-collection.js';

const user = z.string().min(1).max(128);
const session = z.string().regex(SESSION_ID_PATTERN, 'must match [A-Za-z0-9_-]{1,64}');
const publishBody = z
  .strictObject({ user, session: session.optional(), data: z.unknown() })
  .refine((b) => b.data !== undefined, {
    message: 'is required',
    path: ['data'],
  });
const disconnectBody = z.strictObject({ user, session: session.optional() });

/** What the API of one server works with. */
export interface ApiContext {
  gateway: Gateway;
  /** Checks the caller's key and throttles wrong ones. */
  guard: ApiKeyGuard;
  /** Runs `POST /api/gc`, at most one collection per interval. */
  gc: GarbageCollectionPacer;
  /** The server's own figures, added to `/api/stats`. */
  serverStats: () => Record<string, unknown>;
}

/** Sends a JSON response. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    })
    .end(text);
}

/** Sends a SockwardenError as its one-line JSON body. */
export function sendError(res: ServerResponse, error: SockwardenError): void {
  const headers: Record<string, string> =
    error.retryAfterMs === undefined ? {} : { 'retry-after': String(Math.ceil(error.retryAfterMs / 1000)) };
  sendJson(res, error.status, error.toJSON(), headers);
}

/** Reads a request body as text; throws `payload_too_large` past `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit)
      throw new SockwardenError('payload_too_large', `the request body is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const text = await readBody(req, limit);
  try {
    return JSON.parse(text);
  } catch {
    throw new SockwardenError('bad_request', 'the request body is not valid JSON', { field: 'body' });
  }
}

function validate<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    throw new SockwardenError('bad_request', `unknown field '${issue.keys[0]}'`, { field: issue.keys[0] });
  }
  const field = issue?.path.join('.') || 'body';
  const missing =
    issue?.path.length === 1 &&
    (typeof value !== 'object' || value === null || !((issue.path[0] as string) in value));
  const detail = missing ? 'is required' : (issue?.message ?? 'is invalid');
  const message = issue?.path.length
    ? `field '${field}' ${detail}`
    : `the body must be a JSON object (${detail})`;
  throw new SockwardenError('bad_request', message, { field });
}

/** Handles one `/api/...` request. */
export async function handleApi(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  { gateway, guard, gc, serverStats }: ApiContext,
): Promise<void> {
  // Before the key: a forged request is refused whatever it carries, and is no guess at the key.
  refuseCrossSite(req);
  guard.authorize(req);
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'POST /api/publish': {
      requireJsonBody(req);
      const body = validate(publishBody, await readJson(req, gateway.config.maxPayloadBytes));
      const target =
        body.session === undefined ? { user: body.user } : { user: body.user, session: body.session };
      return sendJson(res, 200, gateway.publish(target, body.data));
    }
    case 'POST /api/disconnect': {
      requireJsonBody(req);
      const body = validate(disconnectBody, await readJson(req, gateway.config.maxPayloadBytes));
      const target =
        body.session === undefined ? { user: body.user } : { user: body.user, session: body.session };
      return sendJson(res, 200, { disconnected: gateway.disconnect(target) });
    }
    case 'GET /api/sessions': {
      const who = validate(z.strictObject({ user }), { user: url.searchParams.get('user') ?? undefined });
      return sendJson(res, 200, { user: who.user, sessions: gateway.sessions(who.user) });
    }
    case 'GET /api/stats': {
      // The process figures let a soak or an operator see memory next to the counts that drive it.
      const memory = process.memoryUsage();
      // With --workers these are the figures of the worker that took the request (/metrics has the
      // machine's): say which, so that two answers are never mistaken for the same process's.
      const { id, pid, workers } = workerIdentity();
      return sendJson(res, 200, {
        ...gateway.stats(),
        // How long a session without a socket is kept: a soak counting sessions after its clients
        // left must wait this long before it may call them leaked.
        resumeWindowMs: gateway.config.resumeWindowMs,
        worker: { id, pid },
        workers,
        process: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
        ...serverStats(),
      });
    }
    case 'POST /api/gc':
      // Takes no body: there is nothing to choose. A body, though, must be JSON like any other, or
      // a cross-site form could still reach it. One pause per interval, whoever calls.
      if (hasBody(req)) requireJsonBody(req);
      return sendJson(res, 200, await gc.collect());
  }
  const known = ['/api/publish', '/api/disconnect', '/api/sessions', '/api/stats', '/api/gc'];
  if (known.includes(url.pathname))
    throw new SockwardenError('method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
  throw new SockwardenError('not_found', `no API route ${url.pathname}; routes: ${known.join(', ')}`);
}
