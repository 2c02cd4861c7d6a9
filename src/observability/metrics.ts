/**
 * Prometheus metrics (listed in the README; each bound of invariant I6 in docs/architecture.md has one),
 * on a registry of the gateway's own (so several gateways in one process never collide). Gauges are
 * refreshed from one stats computation per scrape. Labelled counters start at 0 for every known
 * label value (src/observability/metric-labels.ts).
 *
 * Every metric says how workers of one machine add up (`aggregator`, prom-client's cluster
 * aggregation): counts are summed, levels and states take the highest worker's. In a `serve
 * --workers` worker, `render()` answers with the machine's text (src/observability/cluster-metrics.ts).
 */
import {
  type Aggregator,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client';
import type { GatewayStats } from '../core/stats.js';
import type { MessageDirection, PressureLevel } from '../core/telemetry.js';
import type { UpstreamStats } from '../governor/governor.js';
import {
  ADMISSION_OUTCOMES,
  CLOSE_CODE_LABELS,
  EVICTION_REASONS,
  FAILURE_SITES,
  INBOUND_REASONS,
  KNOWN_CLOSE_CODES,
  MESSAGE_DIRECTIONS,
  RESUME_FAILURE_REASONS,
  SOCKET_REFUSALS,
  ZOMBIE_VIA,
} from './metric-labels.js';
import { UpstreamMetrics } from './upstream-metrics.js';
import { workerIdentity } from './worker-identity.js';

/** Bounded label for a close code: peers may send any code from 3000 to 4999. */
export function closeCodeLabel(code: number): string {
  return KNOWN_CLOSE_CODES.has(code) ? String(code) : 'other';
}

/** Cumulative counts since the gateway started: what rates and the dashboard are computed from. */
export interface GatewayTotals {
  /** Upgrade admissions by outcome: `admitted` or the refusal's error code. */
  admissions: Record<string, number>;
  /** Closed connections by close code (bounded labels, as in `/metrics`). */
  closes: Record<string, number>;
  /** Zombie connections removed, by heartbeat or by probe. */
  zombies: number;
  /** Live connections evicted, by reason. */
  evictions: Record<string, number>;
  /** Cleanup latency: upper bounds in seconds and the count in each bucket (not cumulative; the last is +Inf). */
  cleanup: { bounds: number[]; counts: number[] };
}

type Values = Awaited<ReturnType<Counter['get']>>['values'];

function byLabel(values: Values, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    const key = String(v.labels[label]);
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

function sum(values: Values): number {
  return values.reduce((total, v) => total + v.value, 0);
}

/** One registry's metrics as prom-client's cluster aggregation takes them. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/**
 * How a new {@link GatewayMetrics} joins its machine's cluster: given the metrics, returns the
 * render `/metrics` uses instead of the local one. Set by a `serve` worker before its gateway exists.
 */
export type ClusterJoin = (metrics: GatewayMetrics) => () => Promise<string>;

let clusterJoin: ClusterJoin | undefined;

/**
 * Makes every {@link GatewayMetrics} created from now on in this process join a cluster through
 * `join` (undefined: render locally again). Process-wide because node:cluster's channel is: a
 * worker has one primary, and `serve` builds one gateway per worker.
 */
export function joinClusterOnCreate(join: ClusterJoin | undefined): void {
  clusterJoin = join;
}

/** Numeric value of a pressure level for the gauge. */
export const PRESSURE_VALUE: Record<PressureLevel, number> = { ok: 0, warning: 1, shedding: 2, critical: 3 };

/** The gateway's metrics. */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly admissions: Counter<'outcome'>;
  readonly closes: Counter<'code'>;
  readonly heartbeatTimeouts: Counter;
  readonly zombies: Counter<'via'>;
  readonly evictions: Counter<'reason'>;
  readonly replayed: Counter;
  readonly inboundRejected: Counter<'reason'>;
  readonly resumeFailures: Counter<'reason'>;
  readonly failures: Counter<'where'>;
  readonly socketsRefused: Counter<'reason'>;
  readonly cleanup: Histogram;
  /**
   * Messages and characters by direction since start, bumped by the telemetry in O(1) with no
   * allocation (a labelled `inc` hashes its labels) and copied into the counters at each scrape.
   */
  readonly throughput: Record<MessageDirection, { messages: number; chars: number }> = {
    sent: { messages: 0, chars: 0 },
    received: { messages: 0, chars: 0 },
    published: { messages: 0, chars: 0 },
    replayed: { messages: 0, chars: 0 },
  };
  private readonly messages: Counter<'direction'>;
  private readonly chars: Counter<'direction'>;
  /** The `worker` label of the per-worker gauges: this process's slot (src/observability/worker-identity.ts). */
  private readonly worker = String(workerIdentity().id);
  /** The machine's render when this process is a cluster worker. */
  private readonly clusterRender: (() => Promise<string>) | undefined;
  /** The governor's metrics; it reports to them as its observer. */
  readonly upstream: UpstreamMetrics;
  private readonly gauges: {
    connections: Gauge;
    sessions: Gauge;
    detached: Gauge;
    users: Gauge;
    pressure: Gauge;
    pressureRatio: Gauge;
    buffered: Gauge;
    replay: Gauge;
    queued: Gauge;
    engineDegraded: Gauge;
    resources: Gauge<'kind'>;
    workerConnections: Gauge<'worker'>;
    workerSessions: Gauge<'worker'>;
  };

  /** Where gauges are read from at each scrape; set once the gateway's parts exist. */
  private stats: (() => GatewayStats & { upstream?: Record<string, UpstreamStats> }) | null = null;

  constructor() {
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      new Counter<L>({ name: `sockwarden_${name}`, help, labelNames, registers });
    // Counters and sizes add up across workers; a level or a state is the highest worker's.
    const gauge = <L extends string>(
      name: string,
      help: string,
      labelNames: L[] = [],
      aggregator: Aggregator = 'sum',
    ) => new Gauge<L>({ name: `sockwarden_${name}`, help, labelNames, registers, aggregator });
    this.admissions = counter(
      'admissions_total',
      'Upgrade admissions by outcome (admitted or an error code).',
      ['outcome'],
    );
    this.closes = counter('closes_total', 'Closed connections by close code.', ['code']);
    this.heartbeatTimeouts = counter('heartbeat_timeouts_total', 'Connections terminated for a missed pong.');
    this.zombies = counter('zombies_removed_total', 'Zombie connections removed, by how they were found.', [
      'via',
    ]);
    this.evictions = counter('evictions_total', 'Live connections evicted, by reason.', ['reason']);
    this.inboundRejected = counter(
      'inbound_rejected_total',
      'Inbound frames refused, by reason (bad_frame, rate_limited).',
      ['reason'],
    );
    this.replayed = counter('replayed_messages_total', 'Messages replayed to resuming connections.');
    this.resumeFailures = counter(
      'resume_failures_total',
      'Resumes that could not replay the gap, by reason.',
      ['reason'],
    );
    this.failures = counter('failures_total', 'Application handlers and callbacks that threw.', ['where']);
    this.socketsRefused = counter(
      'sockets_refused_total',
      'Sockets closed before any byte was read, by cap (max_sockets, max_sockets_per_ip).',
      ['reason'],
    );
    this.messages = counter(
      'messages_total',
      'Application messages: sent to sockets, received from them, published (once per call), replayed.',
      ['direction'],
    );
    this.chars = counter(
      'message_chars_total',
      "Characters of those messages' frames (bytes for ASCII text), by direction.",
      ['direction'],
    );
    this.cleanup = new Histogram({
      name: 'sockwarden_cleanup_seconds',
      help: 'Time from a close event to every resource of the connection released.',
      buckets: [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01, 0.05],
      registers,
    });
    this.gauges = {
      connections: gauge('connections', 'Live sockets on this node (with --workers, on this machine).'),
      sessions: gauge('sessions', 'Live sessions, attached or resumable.'),
      detached: gauge('detached_sessions', 'Sessions waiting for a resume.'),
      users: gauge('users', 'Users with at least one live session.'),
      pressure: gauge(
        'pressure_level',
        "Pressure level: 0 ok, 1 warning, 2 shedding, 3 critical (the highest worker's).",
        [],
        'max',
      ),
      pressureRatio: gauge(
        'pressure_ratio',
        "Share of the connection or heap budget in use (the highest worker's).",
        [],
        'max',
      ),
      buffered: gauge('buffered_bytes', 'Bytes waiting in per-connection send buffers.'),
      replay: gauge('replay_bytes', 'Bytes held in per-session replay rings.'),
      queued: gauge('queued_upgrades', 'Upgrades waiting in the per-user admission queue.'),
      engineDegraded: gauge(
        'engine_degraded',
        '1 while the shared engine cannot reach Redis and admission falls back to this node.',
        [],
        'max',
      ),
      resources: gauge('resources', 'Live owned resources by kind; all 0 after a drain.', ['kind']),
      workerConnections: gauge('worker_connections', 'Live sockets by worker process.', ['worker']),
      workerSessions: gauge('worker_sessions', 'Live sessions by worker process.', ['worker']),
    };
    this.upstream = new UpstreamMetrics(this.registry);
    this.zeroKnownLabels();
    // No prefix: process_* and nodejs_* keep the names stock Node.js dashboards query.
    collectDefaultMetrics({ register: this.registry });
    this.clusterRender = clusterJoin?.(this);
  }

  /** Zero from the start, so that rate() and alerts work before the first event of each kind. */
  private zeroKnownLabels(): void {
    for (const outcome of ADMISSION_OUTCOMES) this.admissions.inc({ outcome }, 0);
    for (const code of CLOSE_CODE_LABELS) this.closes.inc({ code }, 0);
    for (const via of ZOMBIE_VIA) this.zombies.inc({ via }, 0);
    for (const reason of EVICTION_REASONS) this.evictions.inc({ reason }, 0);
    for (const reason of INBOUND_REASONS) this.inboundRejected.inc({ reason }, 0);
    for (const reason of RESUME_FAILURE_REASONS) this.resumeFailures.inc({ reason }, 0);
    for (const where of FAILURE_SITES) this.failures.inc({ where }, 0);
    for (const reason of SOCKET_REFUSALS) this.socketsRefused.inc({ reason }, 0);
    for (const direction of MESSAGE_DIRECTIONS) {
      this.messages.inc({ direction }, 0);
      this.chars.inc({ direction }, 0);
    }
  }

  /**
   * Names where the gauges come from. The counters are fed from the start, while the gateway is
   * still being built; the gauges are read from its figures at each scrape.
   */
  collectFrom(stats: () => GatewayStats & { upstream?: Record<string, UpstreamStats> }): void {
    this.stats = stats;
  }

  /**
   * The exposition text: this gateway's, with gauges refreshed from one stats computation, or in a
   * `serve --workers` worker the machine's, aggregated by the primary.
   */
  render(): Promise<string> {
    return this.clusterRender ? this.clusterRender() : this.localRender();
  }

  /** This gateway's own exposition text, whatever the process is. */
  async localRender(): Promise<string> {
    if (this.stats) this.refresh(this.stats());
    return this.registry.metrics();
  }

  /** This gateway's metrics as prom-client's cluster aggregation takes them, gauges refreshed. */
  async localJson(): Promise<MetricsJson> {
    if (this.stats) this.refresh(this.stats());
    return this.registry.getMetricsAsJSON();
  }

  private refresh(s: GatewayStats & { upstream?: Record<string, UpstreamStats> }): void {
    const g = this.gauges;
    g.connections.set(s.connections);
    g.sessions.set(s.sessions);
    g.detached.set(s.detachedSessions);
    g.users.set(s.users);
    g.pressure.set(PRESSURE_VALUE[s.pressure]);
    g.pressureRatio.set(s.pressureRatio);
    g.buffered.set(s.bufferedBytes);
    g.replay.set(s.replayBytes);
    g.queued.set(s.queuedUpgrades);
    g.engineDegraded.set(s.engineDegraded ? 1 : 0);
    for (const [kind, value] of Object.entries(s.resources)) g.resources.set({ kind }, value);
    g.workerConnections.set({ worker: this.worker }, s.connections);
    g.workerSessions.set({ worker: this.worker }, s.sessions);
    this.upstream.refresh(s.upstream ?? {});
    // A counter can only go up: set to the running totals by starting from 0 again.
    this.messages.reset();
    this.chars.reset();
    for (const direction of MESSAGE_DIRECTIONS) {
      const t = this.throughput[direction];
      this.messages.inc({ direction }, t.messages);
      this.chars.inc({ direction }, t.chars);
    }
  }

  /** Cumulative counters, read from the same metrics `/metrics` exposes. */
  async totals(): Promise<GatewayTotals> {
    const [admissions, closes, zombies, evictions, cleanup] = await Promise.all([
      this.admissions.get(),
      this.closes.get(),
      this.zombies.get(),
      this.evictions.get(),
      this.cleanup.get(),
    ]);
    const buckets = cleanup.values.filter((v) => v.metricName === 'sockwarden_cleanup_seconds_bucket');
    const bounds: number[] = [];
    const counts: number[] = [];
    let below = 0;
    for (const bucket of buckets) {
      // prom-client reports buckets cumulatively, in ascending order, ending with +Inf.
      bounds.push(bucket.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(bucket.labels.le));
      counts.push(bucket.value - below);
      below = bucket.value;
    }
    return {
      admissions: byLabel(admissions.values, 'outcome'),
      closes: byLabel(closes.values, 'code'),
      zombies: sum(zombies.values),
      evictions: byLabel(evictions.values, 'reason'),
      cleanup: { bounds, counts },
    };
  }

  /** Content type of {@link render}'s output. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
