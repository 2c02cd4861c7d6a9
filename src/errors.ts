/**
 * The one registry of error codes. Every refusal, error frame, API error and configuration error
 * carries one of these codes; `docs/errors.md` lists the same codes and a test keeps the two in sync.
 * Codes are stable: clients and dashboards match on them, so a code is never renamed or reused.
 */
export const ERROR_CODES = {
  draining: { status: 503, summary: 'The gateway is draining for shutdown and admits no new connection.' },
  origin_not_allowed: { status: 403, summary: 'The Origin header is not in the allow-list.' },
  connect_rate_limited: { status: 429, summary: 'Too many connection attempts from this IP address.' },
  unauthenticated: { status: 401, summary: 'The token is missing, malformed, badly signed or expired.' },
  node_full: { status: 503, summary: 'This node holds maxConnections connections.' },
  cluster_full: {
    status: 503,
    summary:
      'The cluster holds its global cap of connections (redisEngine maxConnections, --redis-max-connections).',
  },
  engine_unavailable: {
    status: 503,
    summary: 'The shared engine (Redis) cannot be reached and the gateway is set to refuse until it can.',
  },
  shedding: {
    status: 503,
    summary: 'The node is under pressure and refuses new sessions (resumes are admitted).',
  },
  ip_limit: { status: 429, summary: 'This IP address holds maxConnectionsPerIp connections.' },
  user_limit: { status: 429, summary: 'This user holds maxConnectionsPerUser live connections.' },
  session_limit: { status: 429, summary: 'This user holds maxSessionsPerUser sessions.' },
  queue_timeout: {
    status: 429,
    summary: 'The upgrade waited queueTimeoutMs for a per-user slot and none freed.',
  },
  queue_full: { status: 503, summary: 'The admission queue holds maxQueuedUpgrades waiting upgrades.' },
  user_queue_full: {
    status: 429,
    summary: 'This user has maxQueuedUpgradesPerUser upgrades waiting in the admission queue already.',
  },
  bad_request: {
    status: 400,
    summary: 'The upgrade request or API request is malformed; the message names the field.',
  },
  bad_frame: {
    status: 400,
    summary: 'A client frame is not valid sockwarden.v1 JSON; the connection stays open.',
  },
  rate_limited: {
    status: 429,
    summary:
      'Too fast: the connection sends faster than inboundRatePerConnection, or the upstream throttles (429) past the retry budget.',
  },
  busy: {
    status: 503,
    summary: 'Upstream calls: the global or per-session wait queue of the governor is full.',
  },
  backend_unavailable: {
    status: 502,
    summary: 'Upstream calls: the backend failed, timed out, answered badly, or its circuit is open.',
  },
  backend_bad_reply: {
    status: 502,
    summary:
      'The backend answered against the bridge contract: invalid JSON, a line over maxPayloadBytes, a wrong content-type.',
  },
  backend_rejected: {
    status: 400,
    summary:
      'The backend refused the message with a 4xx (other than 408 and 429); not retried, and not held against the backend.',
  },
  upstream_cancelled: {
    status: 499,
    summary: 'Upstream calls: the session or connection that owned the call ended, so it was aborted.',
  },
  handler_error: {
    status: 500,
    summary: 'The application message handler threw; the message was not processed.',
  },
  unauthorized: {
    status: 401,
    summary: 'The HTTP API or dashboard request lacks the right API key (Authorization: Bearer).',
  },
  too_many_streams: {
    status: 503,
    summary: 'The dashboard already streams to its maximum number of viewers; retry after one leaves.',
  },
  auth_throttled: {
    status: 429,
    summary:
      'Too many wrong API keys from this address: the HTTP API and dashboard sign-in refuse it until Retry-After.',
  },
  cross_site_request: {
    status: 403,
    summary:
      'A browser request from another site (Origin or Sec-Fetch-Site) to the HTTP API or the dashboard sign-in.',
  },
  bad_content_type: {
    status: 415,
    summary: 'An HTTP API request body without Content-Type: application/json.',
  },
  not_found: { status: 404, summary: 'No such HTTP route.' },
  method_not_allowed: { status: 405, summary: 'The HTTP route exists but not for this method.' },
  gc_unavailable: {
    status: 501,
    summary: 'POST /api/gc: this Node.js build has no inspector, through which the gateway collects garbage.',
  },
  payload_too_large: { status: 413, summary: 'The HTTP request body is larger than maxPayloadBytes.' },
  invalid_config: {
    status: 400,
    summary: 'A configuration option is unknown or out of range; the message names it.',
  },
  invalid_data: { status: 400, summary: 'Data passed to send or publish cannot be serialized as JSON.' },
  send_queue_full: {
    status: 503,
    summary:
      'Client SDK: the client is offline and maxQueuedMessages sends already wait; this one is refused.',
  },
  client_closed: {
    status: 499,
    summary:
      'Client SDK: the client was closed, or the server closed it with a code that forbids reconnecting.',
  },
  connect_failed: {
    status: 502,
    summary:
      'Client SDK: the WebSocket could not be created (a blocked or mixed-content URL); retried with backoff.',
  },
  token_unavailable: {
    status: 401,
    summary: 'Client SDK: getToken threw or rejected; the attempt is retried with backoff.',
  },
  upgrade_refused: {
    status: 502,
    summary:
      'Client SDK (Node): the gateway refused the upgrade with an HTTP status and no readable error body.',
  },
} as const satisfies Record<string, { status: number; summary: string }>;

/** A stable error code from {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Options for {@link SockwardenError}. */
export interface SockwardenErrorOptions {
  /** The lower-level error that caused this one. */
  cause?: unknown;
  /** When the caller may retry, in milliseconds. */
  retryAfterMs?: number;
  /** The option, field or parameter the error is about. */
  field?: string;
}

/** The one error class of the project: a stable code, an HTTP status, and an optional cause. */
export class SockwardenError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** HTTP status that matches the code. */
  readonly status: number;
  /** Suggested wait before a retry, when one makes sense. */
  readonly retryAfterMs: number | undefined;
  /** The option or field the error names, when there is one. */
  readonly field: string | undefined;

  constructor(
    code: ErrorCode,
    message: string = ERROR_CODES[code].summary,
    options: SockwardenErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SockwardenError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.retryAfterMs = options.retryAfterMs;
    this.field = options.field;
  }

  /** The one-line JSON body used for HTTP refusals and API errors. */
  toJSON(): { error: ErrorCode; message: string; field?: string; retryAfterMs?: number } {
    return {
      error: this.code,
      message: this.message,
      ...(this.field === undefined ? {} : { field: this.field }),
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
    };
  }
}
