/**
 * The dashboard's live feed: Server-Sent Events carrying the gateway's history once, then one sample
 * a second. Viewers are connections too, so they are counted and bounded: at most
 * {@link MAX_DASHBOARD_STREAMS} at once, and a viewer that stops reading is cut once its buffer
 * passes {@link MAX_STREAM_BUFFER_BYTES} rather than making the gateway hold its backlog.
 */
import type { ServerResponse } from 'node:http';
import { PRESSURE_THRESHOLDS } from '../core/pressure.js';
import { SockwardenError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import { HISTORY_SECONDS } from '../observability/stats-history.js';

/** Viewers streaming at once; one more is refused with `too_many_streams`. */
export const MAX_DASHBOARD_STREAMS = 16;

/** Bytes a viewer may fall behind by before it is cut (about ten minutes of samples). */
export const MAX_STREAM_BUFFER_BYTES = 1024 * 1024;

/** The limits a viewer draws against: the dashboard marks them on its gauges. */
export interface DashboardLimits {
  maxConnections: number;
  maxConnectionsPerUser: number;
  thresholds: typeof PRESSURE_THRESHOLDS;
  historySeconds: number;
}

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The open dashboard streams of one server. */
export class DashboardStreams {
  private readonly open = new Set<ServerResponse>();

  constructor(
    private readonly gateway: Gateway,
    private readonly max: number = MAX_DASHBOARD_STREAMS,
  ) {}

  /** Viewers streaming now. */
  get size(): number {
    return this.open.size;
  }

  /** Starts a stream on `res`; throws `too_many_streams` (before writing anything) at the bound. */
  start(res: ServerResponse): void {
    if (this.open.size >= this.max) {
      throw new SockwardenError(
        'too_many_streams',
        `the dashboard already streams to ${this.max} viewers; retry when one closes`,
        { retryAfterMs: 5_000 },
      );
    }
    this.open.add(res);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    const { config } = this.gateway;
    const { points, latest } = this.gateway.history();
    const limits: DashboardLimits = {
      maxConnections: config.maxConnections,
      maxConnectionsPerUser: config.maxConnectionsPerUser,
      thresholds: PRESSURE_THRESHOLDS,
      historySeconds: HISTORY_SECONDS,
    };
    res.write(event('history', { points, latest, limits, viewers: this.open.size }));
    const stop = this.gateway.onSample((sample) => {
      if (res.writableLength > MAX_STREAM_BUFFER_BYTES) {
        res.destroy();
        return;
      }
      res.write(event('sample', { ...sample, viewers: this.open.size }));
    });
    res.once('close', () => {
      stop();
      this.open.delete(res);
    });
  }

  /** Ends every stream: the server is shutting down. */
  closeAll(): void {
    for (const res of this.open) res.end();
  }
}
