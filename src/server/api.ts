/**
 * The server-mode HTTP API under `/api`, behind `Authorization: Bearer <api key>`. Bodies are
 * validated with zod before anything happens, so a bad request changes nothing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { SockwardenError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import { SESSION_ID_PATTERN } from '../protocol.js';
import { collectGarbage } from './garbage-collection.js';

const user = z.string().min(1).max(128);
const session = z.string().regex(SESSION_ID_PATTERN, 'must match [A-Za-z0-9_-]{1,64}');
const publishBody = z
  .strictObject({ user, session: session.optional(), data: z.unknown() })
  .refine((b) => b.data !== undefined, {
    message: 'is required',
    path: ['data'],
  });
const disconnectBody = z.strictObject({ user, session: session.optional() });

/** Who may call the API. */
export interface ApiAccess {
  /** The API key, or undefined when none was configured. */
  apiKey: string | undefined;
  /** With no key: whether loopback callers may use the API (insecure development mode). */
  openOnLoopback: boolean;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function isLoopback(address: string | undefined): boolean {
  return (
    address !== undefined &&
    (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'))
  );
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

/** Checks the caller against the API access rule; throws `unauthorized` when it may not call. */
export function authorize(req: IncomingMessage, access: ApiAccess): void {
  if (access.apiKey === undefined) {
    if (access.openOnLoopback && isLoopback(req.socket.remoteAddress)) return;
    throw new SockwardenError('unauthorized', 'the API is disabled: start the server with --api-key');
  }
  const header = req.headers.authorization ?? '';
  const given = header.startsWith('Bearer ') ? header.slice(7) : '';
  if (!timingSafeEqual(digest(given), digest(access.apiKey))) {
    throw new SockwardenError('unauthorized', 'missing or wrong API key in Authorization: Bearer');
  }
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

/** Handles one `/api/...` request; `serverStats` adds the server's own figures to `/api/stats`. */
export async function handleApi(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  gateway: Gateway,
  access: ApiAccess,
  serverStats: () => Record<string, unknown> = () => ({}),
): Promise<void> {
  authorize(req, access);
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'POST /api/publish': {
      const body = validate(publishBody, await readJson(req, gateway.config.maxPayloadBytes));
      const target =
        body.session === undefined ? { user: body.user } : { user: body.user, session: body.session };
      return sendJson(res, 200, gateway.publish(target, body.data));
    }
    case 'POST /api/disconnect': {
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
      return sendJson(res, 200, {
        ...gateway.stats(),
        process: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
        ...serverStats(),
      });
    }
    case 'POST /api/gc':
      // Takes no body: there is nothing to choose. One pause for every caller of a burst.
      return sendJson(res, 200, await collectGarbage());
  }
  const known = ['/api/publish', '/api/disconnect', '/api/sessions', '/api/stats', '/api/gc'];
  if (known.includes(url.pathname))
    throw new SockwardenError('method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
  throw new SockwardenError('not_found', `no API route ${url.pathname}; routes: ${known.join(', ')}`);
}
