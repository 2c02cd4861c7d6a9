/**
 * Routing between gateway nodes on one Redis: a publish or disconnect asked for on one node is sent
 * on one pub/sub channel, and every other node applies it to the sessions it holds. Delivery is at
 * most once: an operation sent while Redis is away does not reach the other nodes, and the sender
 * is told so (its promise rejects) so that it can count and log it.
 *
 * The same channel carries the hand-over of sessions between nodes (claim, handed). Redis delivers
 * one channel's messages to every subscriber in the order it received them, and each node numbers
 * what it sends, so a claim is an ordering point every node agrees on: what was published before it
 * belongs to the old node, what comes after to the new one.
 */
import type { Redis } from 'ioredis';
import type { EngineHost, RemoteOperation } from '../core/engine.js';

/** A node asks the node holding a session to hand it over. */
export interface ClaimMessage {
  kind: 'claim';
  /** Matches the answer to the claim. */
  id: string;
  user: string;
  session: string;
  /** The node that held the session when the claim was made, the only one that answers. */
  holder: string;
}

/** The holder's answer: the session is gone from it and everything it sent is in Redis. */
export interface HandedMessage {
  kind: 'handed';
  /** The claim answered. */
  id: string;
  /** Whether a socket was on the session when it was handed over. */
  attached: boolean;
}

/** What the engine does with what arrives on the channel. */
export interface RouterListener {
  /** An operation from another node; `n` is its number in the sender's sequence. */
  operation(operation: RemoteOperation, from: string, n: number): void;
  /** A claim, including this node's own (its echo marks where the ordering point is). */
  claim(claim: ClaimMessage, from: string): void;
  /** An answer to a claim, from the node that sent it; `n` is its number in that node's sequence. */
  handed(handed: HandedMessage, from: string, n: number): void;
  /** A lease was evicted; the node holding it closes its connection. */
  revoke(lease: string): void;
  /** A detached session was dropped; the node holding it ends it. */
  drop(user: string, session: string): void;
}

/** Another node evicted one of this node's connections (policy evict-oldest): close it. */
export interface RevokeMessage {
  kind: 'revoke';
  /** The evicted connection's lease id, which starts with the id of the node holding it. */
  lease: string;
}

/** Another node dropped one of this node's detached sessions to admit a new one of the same user. */
export interface DropMessage {
  kind: 'drop';
  user: string;
  session: string;
}

/** What a message on the channel carries. */
export type Payload = RemoteOperation | ClaimMessage | HandedMessage | RevokeMessage | DropMessage;

/** One message on the channel: the sending node, its number in that node's sequence, and the payload. */
export interface RoutedMessage {
  from: string;
  n: number;
  payload: Payload;
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

/** Whether `value` is something another node could have sent; anything else is ignored. */
function isPayload(value: unknown): value is Payload {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Record<string, unknown>;
  switch (p.kind) {
    case 'publish':
    case 'disconnect':
      return (
        isString(p.user) &&
        (p.session === undefined || isString(p.session)) &&
        (p.kind === 'disconnect' || isString(p.json))
      );
    case 'claim':
      return isString(p.id) && isString(p.user) && isString(p.session) && isString(p.holder);
    case 'handed':
      return isString(p.id) && typeof p.attached === 'boolean';
    case 'revoke':
      return isString(p.lease);
    case 'drop':
      return isString(p.user) && isString(p.session);
    default:
      return false;
  }
}

/** The text of a message on the channel. */
export function encodeRouted(from: string, n: number, payload: Payload): string {
  return JSON.stringify({ from, n, payload });
}

/**
 * Reads a message from the channel. Text that is not JSON gives the parse error; JSON that is not
 * something a node sends gives `error: undefined`. Either way the message is ignored.
 */
export function decodeRouted(
  text: string,
): { ok: true; message: RoutedMessage } | { ok: false; error: unknown } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error };
  }
  // `null` and other non-objects are valid JSON too, and destructuring them would throw in the
  // subscriber's listener.
  if (typeof value !== 'object' || value === null) return { ok: false, error: undefined };
  const { from, n, payload } = value as { from?: unknown; n?: unknown; payload?: unknown };
  if (!isString(from) || typeof n !== 'number' || !isPayload(payload)) return { ok: false, error: undefined };
  return { ok: true, message: { from, n, payload } };
}

/**
 * Hands a message to the listener. Every claim goes through, this node's own included (its echo is
 * the ordering point); anything else this node sent is ignored, since it applied it when sending.
 */
export function routeMessage(message: RoutedMessage, nodeId: string, listener: RouterListener): void {
  const { from, n, payload } = message;
  if (payload.kind === 'claim') listener.claim(payload, from);
  else if (from === nodeId) return;
  else if (payload.kind === 'handed') listener.handed(payload, from, n);
  else if (payload.kind === 'revoke') listener.revoke(payload.lease);
  else if (payload.kind === 'drop') listener.drop(payload.user, payload.session);
  else listener.operation(payload, from, n);
}

/** See the module comment. */
export class RedisRouter {
  /** A connection in subscriber mode can send nothing else, so routing listens on its own. */
  private readonly subscriber: Redis;
  /** Resolves once this node hears the channel (ioredis subscribes again after a reconnect). */
  readonly subscribed: Promise<void>;
  /** Number of the last message this node sent. */
  private sent = 0;

  constructor(
    private readonly redis: Redis,
    private readonly channel: string,
    private readonly nodeId: string,
    private readonly host: Pick<EngineHost, 'failure'>,
    private readonly listener: RouterListener,
    /** Connection errors: an outage, which the engine reports once. */
    onConnectionError: (error: unknown) => void,
  ) {
    // With its offline queue, unlike the command connection: the subscription waits for the
    // connection instead of failing when it is asked for before Redis has answered.
    this.subscriber = redis.duplicate({ enableOfflineQueue: true });
    this.subscriber.on('error', onConnectionError);
    this.subscriber.on('message', (_channel: string, text: string) => this.received(text));
    this.subscribed = this.subscriber.subscribe(channel).then(
      () => undefined,
      (error: unknown) => onConnectionError(error),
    );
  }

  /** Number of the last message sent: every operation up to it was applied here before anything after. */
  get lastSent(): number {
    return this.sent;
  }

  /**
   * Sends `payload` to every node. The command is queued on the connection in this call, so what
   * this node sends reaches Redis in the order it was sent.
   */
  send(payload: Payload): Promise<void> {
    const n = ++this.sent;
    return this.redis.publish(this.channel, encodeRouted(this.nodeId, n, payload)).then(() => undefined);
  }

  /** Stops listening. */
  close(): void {
    this.subscriber.disconnect();
  }

  private received(text: string): void {
    const decoded = decodeRouted(text);
    if (!decoded.ok) {
      this.host.failure(decoded.error ?? new Error(`ignored a malformed message on ${this.channel}`));
      return;
    }
    routeMessage(decoded.message, this.nodeId, this.listener);
  }
}
