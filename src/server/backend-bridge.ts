/**
 * The backend bridge of server mode: every client message is POSTed, signed, to the backend, and the
 * reply is relayed to the session (one JSON message, or NDJSON streamed line by line). Each POST is a
 * governed call owned by the session (what `session.run()` does, through the governor directly so
 * that waiting on the client's backpressure stops the call's clocks): when the session ends (the
 * client left and did not resume in time) the request is aborted and the backend sees it close.
 * It is an ordinary session listener; the gateway knows nothing of it.
 */
import type { Logger } from 'pino';
import type { Scope } from '../core/scope.js';
import type { Session } from '../core/session.js';
import { SockwardenError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import type { GovernedAttempt } from '../governor/governor.js';
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
  const background: Scope = gateway.scope('backend-bridge');
  const log = options.logger.child({ component: 'backend-bridge' });

  const post = (body: string, attempt: GovernedAttempt) => postToBackend(target, body, attempt);

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

  const report = (session: Session, error: unknown, ref: string | undefined) => {
    const context = { user: session.user, session: session.id, ref };
    if (error instanceof SockwardenError) {
      if (error.code === 'upstream_cancelled') {
        log.debug(context, 'backend call cancelled: the session ended');
        return;
      }
      const code = codeOf(error);
      log.warn({ ...context, code, err: error.cause ?? error }, `backend call failed: ${error.message}`);
      // Waiting does not change a refusal: no hint to retry it as it is.
      const hint = code === 'backend_rejected' ? undefined : error.retryAfterMs;
      const extra = {
        ...(ref === undefined ? {} : { ref }),
        ...(hint === undefined ? {} : { retryAfterMs: hint }),
      };
      session.sendError(code, error.message, extra);
      return;
    }
    log.error({ ...context, err: error }, 'backend call failed unexpectedly');
    session.sendError('backend_unavailable', 'the backend call failed', ref === undefined ? {} : { ref });
  };

  const onSession = (session: Session) => {
    const identity = { user: session.user, session: session.id };
    if (events.has('connect')) {
      const body = JSON.stringify({ event: 'connect', ...identity });
      gateway.governor
        .run(async (attempt) => relay(session, await post(body, attempt), attempt), {
          owner: session.scope,
          upstream: BACKEND_UPSTREAM,
        })
        .catch((error: unknown) => report(session, error, undefined));
    }
    session.onMessage((data, ctx) => {
      const body = JSON.stringify({ event: 'message', ...identity, id: ctx.id ?? null, data });
      return gateway.governor
        .run(async (attempt) => relay(session, await post(body, attempt), attempt), {
          owner: session.scope,
          upstream: BACKEND_UPSTREAM,
        })
        .catch((error: unknown) => report(session, error, ctx.id));
    });
    if (events.has('disconnect')) {
      // The session is gone when this runs, so the call belongs to the bridge's own scope.
      session.scope.own('disposer', () => {
        const body = JSON.stringify({ event: 'disconnect', ...identity });
        gateway.governor
          .run(async (attempt) => void (await post(body, attempt)).body?.cancel(), {
            owner: background,
            upstream: BACKEND_UPSTREAM,
          })
          .catch((error: unknown) => log.warn({ ...identity, err: error }, 'disconnect event not delivered'));
      });
    }
  };
  gateway.on('session', onSession);
  return () => {
    gateway.off('session', onSession);
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
