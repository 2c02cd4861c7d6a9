/**
 * The gateway's recent past: one sample per second in a bounded ring (15 minutes by default), so an
 * operator who opens the dashboard after something went wrong sees how it went wrong. Counters are
 * turned into per-second rates here, once, rather than in every viewer.
 */
import type { GatewayStats } from '../core/stats.js';
import type { UpstreamStats } from '../governor/figures.js';
import { CloseCode, closeCodeSpec } from '../protocol.js';
import type { GatewayTotals } from './metrics.js';
import { type WorkerIdentity, workerIdentity } from './worker-identity.js';

/** Close codes grouped the way a client reacts to them (docs/architecture.md, "Close codes"). */
export type CloseRange = 'clean' | 'resumable' | 'final' | 'abnormal';

/**
 * Codes a WebSocket reports for a failure rather than a decision of either side: charted as
 * abnormal, whatever the client does next.
 */
const FAILURES = new Set<number>([CloseCode.ProtocolError, 1005, 1006, 1011]);

/**
 * The range of a close-code label from `/metrics` (`other` is any code a peer chose), from the
 * close-code table: what the client does next.
 */
export function closeRange(label: string): CloseRange {
  const code = Number(label);
  if (code === CloseCode.Normal) return 'clean';
  const spec = closeCodeSpec(code);
  if (!spec || FAILURES.has(code)) return 'abnormal';
  return spec.reconnects ? 'resumable' : 'final';
}

/** One second of the gateway's life: levels at the instant, and rates per second since the last one. */
export interface StatsPoint {
  /** Milliseconds since the epoch (the gateway's clock). */
  t: number;
  connections: number;
  sessions: number;
  users: number;
  /** Upgrades admitted per second. */
  admitted: number;
  /** Upgrades refused per second, whatever the reason. */
  refused: number;
  /** Closes per second by range. */
  closes: Record<CloseRange, number>;
  /** Zombies removed per second. */
  zombies: number;
  /** Live connections evicted per second. */
  evictions: number;
  /** Upstream answers of 429 per second, all upstreams together. */
  throttled: number;
  pressureRatio: number;
}

/** What the stats history samples: the gateway's figures with the governor's. */
export type SampledFigures = GatewayStats & { upstream: Record<string, UpstreamStats> };

/** The newest sample in full: what only the present needs (tables, gauges), never kept in the ring. */
export interface StatsLatest {
  figures: SampledFigures;
  totals: GatewayTotals;
  /** Which worker of the machine these figures are (with `serve --workers`, one worker's only). */
  worker: WorkerIdentity;
}

/** A sample as listeners get it. */
export interface StatsSample {
  point: StatsPoint;
  latest: StatsLatest;
}

/** Seconds of history kept by default: the 15 minutes the dashboard shows. */
export const HISTORY_SECONDS = 900;

function total(record: Record<string, number>): number {
  let sum = 0;
  for (const value of Object.values(record)) sum += value;
  return sum;
}

/** The counters behind a point's rates, as totals since the gateway started. */
type Cumulative = Pick<StatsPoint, 'admitted' | 'refused' | 'closes' | 'zombies' | 'evictions' | 'throttled'>;

function cumulative(figures: SampledFigures, totals: GatewayTotals): Cumulative {
  const closes: Record<CloseRange, number> = { clean: 0, resumable: 0, final: 0, abnormal: 0 };
  for (const [label, count] of Object.entries(totals.closes)) closes[closeRange(label)] += count;
  const admitted = totals.admissions.admitted ?? 0;
  let throttled = 0;
  for (const upstream of Object.values(figures.upstream)) throttled += upstream.throttled;
  return {
    admitted,
    refused: total(totals.admissions) - admitted,
    closes,
    zombies: totals.zombies,
    evictions: total(totals.evictions),
    throttled,
  };
}

/** The ring of samples and the listeners of new ones. */
export class StatsHistory {
  private readonly ring: StatsPoint[] = [];
  private next = 0;
  private previous: { t: number; counts: Cumulative } | undefined;
  private newest: StatsLatest | undefined;
  private readonly listeners = new Set<(sample: StatsSample) => void>();
  /** Read once: a process keeps its slot for life. */
  private readonly worker = workerIdentity();

  constructor(
    readonly capacity: number = HISTORY_SECONDS,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /** Records one sample taken at `t`; rates are per second since the previous sample. */
  add(t: number, figures: SampledFigures, totals: GatewayTotals): StatsSample {
    const counts = cumulative(figures, totals);
    const before = this.previous;
    // The first sample has no interval to divide by: it reports no activity rather than a burst.
    const seconds = before ? Math.max((t - before.t) / 1000, 0.001) : 1;
    const rate = (now: number, then: number | undefined) =>
      before === undefined ? 0 : Math.max(0, now - (then ?? 0)) / seconds;
    const closes = { clean: 0, resumable: 0, final: 0, abnormal: 0 };
    for (const range of Object.keys(closes) as CloseRange[]) {
      closes[range] = rate(counts.closes[range], before?.counts.closes[range]);
    }
    const point: StatsPoint = {
      t,
      connections: figures.connections,
      sessions: figures.sessions,
      users: figures.users,
      admitted: rate(counts.admitted, before?.counts.admitted),
      refused: rate(counts.refused, before?.counts.refused),
      closes,
      zombies: rate(counts.zombies, before?.counts.zombies),
      evictions: rate(counts.evictions, before?.counts.evictions),
      throttled: rate(counts.throttled, before?.counts.throttled),
      pressureRatio: figures.pressureRatio,
    };
    this.previous = { t, counts };
    if (this.ring.length < this.capacity) this.ring.push(point);
    else this.ring[this.next] = point;
    this.next = (this.next + 1) % this.capacity;
    this.newest = { figures, totals, worker: this.worker };
    const sample = { point, latest: this.newest };
    for (const listener of this.listeners) {
      // One failing viewer must not starve the others.
      try {
        listener(sample);
      } catch (error) {
        this.onError(error);
      }
    }
    return sample;
  }

  /** Every kept point, oldest first. */
  points(): StatsPoint[] {
    if (this.ring.length < this.capacity) return [...this.ring];
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }

  /** The newest sample's full figures, or undefined before the first sample. */
  latest(): StatsLatest | undefined {
    return this.newest;
  }

  /** Calls `listener` with every new sample; returns the function that stops it. */
  subscribe(listener: (sample: StatsSample) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
