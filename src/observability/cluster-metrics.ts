/**
 * `/metrics` of a `serve --workers N` machine, whichever worker takes the scrape. The worker asks
 * the primary over the node:cluster channel; the primary asks every connected worker for its
 * registry as JSON (gauges refreshed), sums them with prom-client's cluster aggregation
 * (`AggregatorRegistry.aggregate`, what `clusterMetrics()` does) and answers with the text.
 *
 * prom-client's own `clusterMetrics()` is not used as is: it reads process-wide registries (each
 * gateway has its own), would skip the per-scrape gauge refresh, and gives up on every worker when
 * one is slow. Here a worker that exits, or does not answer within {@link COLLECT_TIMEOUT_MS}, is
 * left out of that scrape (and logged), and `sockwarden_workers` says how many were summed.
 *
 * The primary caches the machine's text for METRICS_CACHE_MS, so N workers scraped at once cost
 * one aggregation; each worker keeps a copy that expires no later than the primary's
 * (src/server/metrics-cache.ts), so no scrape sees older counters than the one before it.
 */
import type { Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, Gauge } from 'prom-client';
import { type AgedText, cachedAgedRender } from '../server/metrics-cache.js';
import { type GatewayMetrics, joinClusterOnCreate, type MetricsJson } from './metrics.js';

/** How long the primary waits for the workers' figures (ms). */
export const COLLECT_TIMEOUT_MS = 2_000;

/** The channel's messages, all tagged `sockwarden` like the primary's others. */
type MetricsMessage =
  | { sockwarden: 'metrics:request'; id: number }
  | { sockwarden: 'metrics:answer'; id: number; text?: string; ageMs?: number; error?: string }
  | { sockwarden: 'metrics:collect'; id: number }
  | { sockwarden: 'metrics:local'; id: number; metrics?: MetricsJson; error?: string };

function tagged<K extends MetricsMessage['sockwarden']>(
  message: unknown,
  kind: K,
): message is Extract<MetricsMessage, { sockwarden: K }> {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { sockwarden?: unknown }).sockwarden === kind &&
    typeof (message as { id?: unknown }).id === 'number'
  );
}

/**
 * Called once in a worker before its gateway is built: the gateway's metrics answer the primary's
 * collections, and its `/metrics` asks the primary for the machine's text.
 */
export function joinMetricsCluster(): void {
  let local: GatewayMetrics | undefined;
  let nextId = 0;
  const waiting = new Map<number, { resolve: (text: AgedText) => void; reject: (e: Error) => void }>();
  process.on('message', (message: unknown) => {
    if (tagged(message, 'metrics:collect')) {
      // A worker still building its gateway has nothing to add yet; it still answers, at once.
      const reply = (body: { metrics?: MetricsJson; error?: string }) =>
        process.send?.({ sockwarden: 'metrics:local', id: message.id, ...body });
      if (!local) reply({ metrics: [] });
      else
        local.localJson().then(
          (metrics) => reply({ metrics }),
          (error: unknown) => reply({ error: String(error) }),
        );
    } else if (tagged(message, 'metrics:answer')) {
      const request = waiting.get(message.id);
      waiting.delete(message.id);
      if (!request) return;
      if (message.text === undefined)
        request.reject(new Error(message.error ?? 'no metrics from the primary'));
      else request.resolve({ text: message.text, ageMs: message.ageMs ?? 0 });
    }
  });
  // The primary always answers, within its collection timeout, while the channel is up; once the
  // channel is gone nothing will, so every request waiting fails then instead of hanging.
  process.on('disconnect', () => {
    for (const request of waiting.values()) request.reject(new Error('the primary is gone'));
    waiting.clear();
  });
  const ask = (): Promise<AgedText> =>
    new Promise<AgedText>((resolve, reject) => {
      if (!process.connected) {
        reject(new Error('the primary is gone'));
        return;
      }
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      process.send?.({ sockwarden: 'metrics:request', id });
    });
  joinClusterOnCreate((metrics) => {
    local = metrics;
    const render = cachedAgedRender(ask);
    return () => render().then((answer) => answer.text);
  });
}

/** The primary's side: collects, aggregates and answers; see the module comment. */
export class ClusterMetricsPrimary {
  private nextId = 0;
  private readonly collections = new Map<
    number,
    { pending: Set<number>; figures: MetricsJson[]; finish: () => void }
  >();
  private readonly render = cachedAgedRender(() => this.aggregate());
  /** Each worker's figures from its last answer, for a scrape it misses and for when it exits. */
  private readonly lastFigures = new Map<number, MetricsJson>();
  /**
   * The counters and histograms of workers that exited, summed: kept in every scrape, so that a
   * machine-wide counter never goes down when a worker is replaced (Prometheus would read the drop
   * as a reset and count the whole remaining total again). Their gauges went with them.
   */
  private retired: MetricsJson[] = [];

  /** `workers` lists the workers to ask at each collection. */
  constructor(
    private readonly workers: () => Iterable<Worker>,
    private readonly logger: Logger,
  ) {}

  /**
   * A worker exited: its counters join the retired sum, and a collection waiting for it finishes
   * without it.
   */
  forget(worker: Worker): void {
    const last = this.lastFigures.get(worker.id);
    this.lastFigures.delete(worker.id);
    if (last) {
      const cumulative = last.filter((metric) => ['counter', 'histogram'].includes(String(metric.type)));
      this.retired.push(cumulative);
      void this.compactRetired();
    }
    for (const collection of this.collections.values())
      if (collection.pending.delete(worker.id) && collection.pending.size === 0) collection.finish();
  }

  /** Handles a worker's message; false when it is not about metrics. */
  handle(worker: Worker, message: unknown): boolean {
    if (tagged(message, 'metrics:request')) {
      const answer = (body: { text?: string; ageMs?: number; error?: string }) => {
        if (worker.isConnected()) worker.send({ sockwarden: 'metrics:answer', id: message.id, ...body });
      };
      this.render().then(answer, (error: unknown) => answer({ error: String(error) }));
      return true;
    }
    if (tagged(message, 'metrics:local')) {
      const collection = this.collections.get(message.id);
      if (!collection?.pending.delete(worker.id)) return true;
      if (message.metrics) {
        collection.figures.push(message.metrics);
        this.lastFigures.set(worker.id, message.metrics);
      } else this.logger.warn({ worker: worker.process.pid, error: message.error }, 'worker metrics failed');
      if (collection.pending.size === 0) collection.finish();
      return true;
    }
    return false;
  }

  /** Sums the retired workers' figures into one, so that their list does not grow with every restart. */
  private async compactRetired(): Promise<void> {
    const parts = [...this.retired];
    if (parts.length < 2) return;
    const summed = (await AggregatorRegistry.aggregate(parts).getMetricsAsJSON()) as unknown as MetricsJson;
    // Only if no worker retired meanwhile; otherwise the next compaction takes them all.
    if (this.retired.length === parts.length) this.retired = [summed];
  }

  /** Asks every connected worker for its figures and sums what arrives within the timeout. */
  private aggregate(): Promise<string> {
    const id = this.nextId++;
    const pending = new Set<number>();
    const figures: MetricsJson[] = [];
    return new Promise<string>((resolve, reject) => {
      // The primary runs no gateway and so no timer wheel (I5 governs the gateway's timers): its one
      // deadline is a signal, which needs no handle to clear and keeps no process alive.
      const deadline = AbortSignal.timeout(COLLECT_TIMEOUT_MS);
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        deadline.removeEventListener('abort', finish);
        this.collections.delete(id);
        if (pending.size > 0)
          this.logger.warn(
            { missing: pending.size },
            'workers late for a metrics scrape: their last figures stand in',
          );
        // A worker that did not answer in time is summed from its last answer, not left out.
        const late = [...pending]
          .map((workerId) => this.lastFigures.get(workerId))
          .filter((last): last is MetricsJson => last !== undefined);
        if (figures.length === 0 && late.length === 0) {
          reject(new Error('no worker answered for metrics'));
          return;
        }
        const answered = figures.length;
        const registry = AggregatorRegistry.aggregate([...figures, ...late, ...this.retired]);
        const workers = new Gauge({
          name: 'sockwarden_workers',
          help: 'Worker processes whose figures this scrape sums (serve --workers only).',
          registers: [registry],
        });
        workers.set(answered + late.length);
        registry.metrics().then(resolve, reject);
      };
      deadline.addEventListener('abort', finish);
      this.collections.set(id, { pending, figures, finish });
      for (const worker of this.workers()) {
        if (!worker.isConnected()) continue;
        pending.add(worker.id);
        worker.send({ sockwarden: 'metrics:collect', id });
      }
      if (pending.size === 0) finish();
    });
  }
}
