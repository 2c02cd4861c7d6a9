/**
 * Metrics of the upstream governor: outcomes, retries and 429s as counters fed by the governor's
 * observer hooks, and circuit state, in-flight and queued calls as gauges read at scrape time.
 * The `upstream` label is the upstream's configured name, never anything from a request.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CircuitStateName } from '../governor/breaker.js';
import type { GovernorObserver, UpstreamStats } from '../governor/governor.js';
import { UPSTREAM_OUTCOMES } from './metric-labels.js';

/** Gauge value of a circuit state. */
export const CIRCUIT_VALUE: Record<CircuitStateName, number> = { closed: 0, 'half-open': 1, open: 2 };

/** See the module comment. */
export class UpstreamMetrics implements GovernorObserver {
  private readonly outcomes: Counter<'upstream' | 'outcome'>;
  private readonly retries: Counter<'upstream'>;
  private readonly throttles: Counter<'upstream'>;
  private readonly circuitGauge: Gauge<'upstream'>;
  private readonly inFlight: Gauge<'upstream'>;
  private readonly queued: Gauge<'upstream'>;
  /** Upstreams whose counters exist already. */
  private readonly known = new Set<string>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.outcomes = new Counter({
      name: 'sockwarden_upstream_requests_total',
      help: 'Upstream calls by outcome: success, failure, rejected (queue full or circuit open), cancelled.',
      labelNames: ['upstream', 'outcome'],
      registers,
    });
    this.retries = new Counter({
      name: 'sockwarden_upstream_retries_total',
      help: 'Upstream attempts that were retries.',
      labelNames: ['upstream'],
      registers,
    });
    this.throttles = new Counter({
      name: 'sockwarden_upstream_throttled_total',
      help: 'Upstream answers 429 (throttled).',
      labelNames: ['upstream'],
      registers,
    });
    this.circuitGauge = new Gauge({
      name: 'sockwarden_upstream_circuit_state',
      help: "Circuit state: 0 closed, 1 half-open, 2 open (the highest worker's).",
      labelNames: ['upstream'],
      registers,
      // Workers keep their own breakers: the machine's state is its most open one.
      aggregator: 'max',
    });
    this.inFlight = new Gauge({
      name: 'sockwarden_upstream_in_flight',
      help: 'Upstream attempts running.',
      labelNames: ['upstream'],
      registers,
    });
    this.queued = new Gauge({
      name: 'sockwarden_upstream_queued',
      help: 'Upstream calls waiting for a slot or a rate token.',
      labelNames: ['upstream'],
      registers,
    });
  }

  outcome(upstream: string, outcome: 'success' | 'failure' | 'rejected' | 'cancelled'): void {
    this.outcomes.inc({ upstream, outcome });
  }

  retry(upstream: string): void {
    this.retries.inc({ upstream });
  }

  throttled(upstream: string): void {
    this.throttles.inc({ upstream });
  }

  circuit(upstream: string, state: CircuitStateName): void {
    this.circuitGauge.set({ upstream }, CIRCUIT_VALUE[state]);
  }

  /** Refreshes the gauges from the governor's figures; called once per scrape. */
  refresh(stats: Record<string, UpstreamStats>): void {
    for (const [upstream, s] of Object.entries(stats)) {
      if (!this.known.has(upstream)) {
        // Zero from the first scrape, so that rate() and alerts see each upstream before its first call.
        this.known.add(upstream);
        for (const outcome of UPSTREAM_OUTCOMES) this.outcomes.inc({ upstream, outcome }, 0);
        this.retries.inc({ upstream }, 0);
        this.throttles.inc({ upstream }, 0);
      }
      this.circuitGauge.set({ upstream }, CIRCUIT_VALUE[s.circuit]);
      this.inFlight.set({ upstream }, s.inFlight);
      this.queued.set({ upstream }, s.queued);
    }
  }
}
