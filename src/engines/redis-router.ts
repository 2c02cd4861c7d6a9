/**
 * Routing between gateway nodes on one Redis: a publish or disconnect asked for on one node is sent
 * on one pub/sub channel, and every other node applies it to the sessions it holds. Delivery is at
 * most once: an operation sent while Redis is away does not reach the other nodes, and the sender
 * is told so (its promise rejects) so that it can count and log it.
 */
import type { Redis } from 'ioredis';
import type { EngineHost, RemoteOperation } from '../core/engine.js';

/** Whether `value` is an operation another node could have sent; anything else is ignored. */
function isRemoteOperation(value: unknown): value is RemoteOperation {
  if (typeof value !== 'object' || value === null) return false;
  const op = value as Record<string, unknown>;
  if (typeof op.user !== 'string' || (op.session !== undefined && typeof op.session !== 'string'))
    return false;
  return op.kind === 'disconnect' || (op.kind === 'publish' && typeof op.json === 'string');
}

/** See the module comment. */
export class RedisRouter {
  /** A connection in subscriber mode can send nothing else, so routing listens on its own. */
  private readonly subscriber: Redis;
  /** Resolves once this node hears the channel (ioredis subscribes again after a reconnect). */
  readonly subscribed: Promise<void>;

  constructor(
    private readonly redis: Redis,
    private readonly channel: string,
    private readonly nodeId: string,
    private readonly host: Pick<EngineHost, 'deliver' | 'failure'>,
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

  /** Sends `operation` to every other node. */
  async relay(operation: RemoteOperation): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify({ from: this.nodeId, operation }));
  }

  /** Stops listening. */
  close(): void {
    this.subscriber.disconnect();
  }

  private received(text: string): void {
    let message: { from?: unknown; operation?: unknown };
    try {
      message = JSON.parse(text) as typeof message;
    } catch (error) {
      this.host.failure(error);
      return;
    }
    if (message.from === this.nodeId) return;
    if (!isRemoteOperation(message.operation)) {
      this.host.failure(new Error(`ignored a malformed operation on ${this.channel}`));
      return;
    }
    this.host.deliver(message.operation);
  }
}
