/**
 * The backend bridge of server mode: every client message is POSTed, signed, to the backend, and the
 * reply is relayed to the session (one JSON message, or NDJSON streamed line by line). Each POST is a
 * governed call owned by the session (what `session.run()` does, through the governor directly so
 * that waiting on the client's backpressure stops the call's clocks): when the session ends (the
 * client left and did not resume in time) the request is aborted and the backend sees it close.
 * `connect` and `disconnect` go through a lane of their own (backend-lifecycle.ts). It is an
 * ordinary session listener; the gateway knows nothing of it.
 */
import type { Logger } from 'pino';
import type { Session } from '../core/session.js';
import { SockwardenError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import type { GovernedAttempt } from '../governor/governor.js';
import { LifecycleEvents } from './backend-lifecycle.js';
import { type BackendTarget, postToBackend } from './backend-post.js';
import { BackendRefusalError, BadReplyError, parseJson, readLimited, readNdjson } from './backend-reply.js';

/** Optional events besides `message`. */
export type BackendEvent = 'connect' | 'disconnect';

/** Options of {@link attachBackendBridge}. */
export interface BackendBridgeOptions {
  /** Where events are POSTed; http or https. */
  url: string;
  /** HMAC-SHA256 key for the signature header; without it requests are unsigned. */
  secret?: string;
  /** Which of `connect` and `disconnect` to send too. */
  events?: readonly BackendEvent[];
  logger: Logger;
}

/** The upstream name of the backend in stats and metrics. */
export const BACKEND_UPSTREAM = 'backend';

/** Checks a backend URL; throws `invalid_config` naming the flag. */
export function checkBackendUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SockwardenError('invalid_config', `--backend-url: "${url}" is not a URL`, {
      field: 'backend-url',
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new SockwardenError(
      'invalid_config',
      `--backend-url: must be an http:// or https:// URL, got ${parsed.protocol}//`,
      {
        field: 'backend-url',
      },
    );
  return parsed;
}

/** Connects a gateway's sessions to an HTTP backend. Returns a function that detaches the bridge. */
export function attachBackendBridge(gateway: Gateway, options: BackendBridgeOptions): () => void {
  const target: BackendTarget = { url: checkBackendUrl(options.url).toString(), secret: options.secret };
  const limit = gateway.config.maxPayloadBytes;
  const events = new Set(options.events ?? []);
  const background = gateway.scope('backend-bridge');
  const log = options.logger.child({ component: 'backend-bridge' });
  const post = (body: string, attempt: GovernedAttempt) => postToBackend(target, body, attempt);
  const lifecycle = new LifecycleEvents({
    governor: gateway.governor,
    owner: background,
    upstream: BACKEND_UPSTREAM,
    maxConnections: gateway.config.maxConnections,
    log,
    post,
  });
  // A drain waits (within its window) for the disconnects of the sessions it ended.
  const unhook = gateway.beforeDispose(() => lifecycle.flush());

  /** Relays one reply to the session; marks the call committed once anything reached it. */
  const relay = async (session: Session, res: Response, attempt: GovernedAttempt): Promise<void> => {
    if (res.status === 204) return;
    const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim();
    const deliver = async (value: unknown) => {
      attempt.commit();
      // The client's backpressure holds the backend back, but it is no silence of the backend's.
      await attempt.awaitDownstream(session.send(value));
    };
    if (type === 'application/x-ndjson') {
      await readNdjson(res.body, limit, deliver, attempt.progress);
    } else if (type === 'application/json') {
      const value = parseJson(await readLimited(res.body, limit), 'the JSON reply');
      if (value !== null) await deliver(value);
    } else {
      await res.body?.cancel();
      throw new BadReplyError(
        `the reply's content-type "${type}" is neither application/json nor application/x-ndjson`,
      );
    }
  };

  const onSession = (session: Session) => {
    const identity = { user: session.user, session: session.id };
    if (events.has('connect')) {
      lifecycle
        .connect(session, (res, attempt) => relay(session, res, attempt))
        .catch((error: unknown) => tellClient(session, error, undefined));
    }
    session.onMessage((data, ctx) => {
      const body = JSON.stringify({ event: 'message', ...identity, id: ctx.id ?? null, data });
      return gateway.governor
        .run(async (attempt) => relay(session, await post(body, attempt), attempt), {
          owner: session.scope,
          upstream: BACKEND_UPSTREAM,
        })
        .catch((error: unknown) => {
          logFailure(log, session, error, ctx.id);
          tellClient(session, error, ctx.id);
        });
    });
    // The session is gone when this runs, so the call belongs to the bridge (see LifecycleEvents).
    if (events.has('disconnect')) session.scope.own('disposer', () => lifecycle.disconnect(identity));
  };
  gateway.on('session', onSession);
  return () => {
    gateway.off('session', onSession);
    unhook();
    background.dispose();
  };
}

/** The error frame's code for a failed call: the governor's, or what the backend's answer says. */
function codeOf(error: SockwardenError): string {
  const cause = error.cause;
  if (cause instanceof BadReplyError) return 'backend_bad_reply';
  if (cause instanceof BackendRefusalError) return 'backend_rejected';
  return error.code;
}

function logFailure(log: Logger, session: Session, error: unknown, ref: string | undefined): void {
  const context = { user: session.user, session: session.id, ref };
  if (!(error instanceof SockwardenError)) {
    log.error({ ...context, err: error }, 'backend call failed unexpectedly');
  } else if (error.code === 'upstream_cancelled') {
    log.debug(context, 'backend call cancelled: the session ended');
  } else {
    log.warn(
      { ...context, code: codeOf(error), err: error.cause ?? error },
      `backend call failed: ${error.message}`,
    );
  }
}

/** Sends the client one error frame for a failed call, named by `ref`; nothing when the session ended. */
function tellClient(session: Session, error: unknown, ref: string | undefined): void {
  const withRef = ref === undefined ? {} : { ref };
  if (!(error instanceof SockwardenError)) {
    session.sendError('backend_unavailable', 'the backend call failed', withRef);
    return;
  }
  if (error.code === 'upstream_cancelled') return;
  const code = codeOf(error);
  // Waiting does not change a refusal: no hint to retry it as it is.
  const hint =
    code === 'backend_rejected' || error.retryAfterMs === undefined
      ? {}
      : { retryAfterMs: error.retryAfterMs };
  session.sendError(code, error.message, { ...withRef, ...hint });
}
