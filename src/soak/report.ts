/**
 * The soak's report and verdict. The verdict is the point of the tool: after the run and the resume
 * window, the server must hold nothing, no acknowledged message may be lost or duplicated, and its
 * memory must be back near the post-warm-up baseline. Each failure names what leaked.
 */
import type { SoakCounters } from './counters.js';
import type { SoakPlan } from './plan.js';
import type { ServerStats } from './server-watch.js';

/** Tolerance of the RSS check against the post-warm-up baseline. */
export const RSS_TOLERANCE = 0.15;

/** Server memory samples, in bytes. */
export interface MemorySamples {
  start: number;
  baseline: number;
  peak: number;
  end: number;
}

/** Everything a soak measured. */
export interface SoakReport {
  verdict: { pass: boolean; failures: string[] };
  plan: SoakPlan;
  elapsedMs: number;
  /** The counters, without the raw detection times (summarized in `detection`). */
  counters: Omit<SoakCounters, 'detectionMs'>;
  detection: Record<string, { count: number; p50: number | null; p99: number | null; undetected: number }>;
  server: {
    rss: MemorySamples;
    heap: MemorySamples;
    /**
     * Whether the baseline and end figures were taken right after a full garbage collection
     * (`POST /api/gc`); otherwise the end is the lowest RSS seen while the idle server settled.
     */
    memoryCollected: boolean;
    /** `/api/stats` after the clients finished and the server settled. */
    afterDrain: { connections: number; sessions: number; resources: Record<string, number> };
    /**
     * Sessions left without a socket and still within the server's resume window when the soak
     * stopped waiting: kept by design, not leaked, and not counted against the verdict.
     */
    awaitingResume: number;
    /** How long the server took to reach zero after the clients finished, or null if it never did. */
    settledInMs: number | null;
  };
}

/** The `p`-th percentile (0 to 1) of `values`, or null when there are none. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

/** Builds the report and decides the verdict. */
export function buildReport(input: {
  plan: SoakPlan;
  elapsedMs: number;
  counters: SoakCounters;
  rss: MemorySamples;
  heap: MemorySamples;
  memoryCollected: boolean;
  after: ServerStats;
  settledInMs: number | null;
  /** Sessions still in the server's resume window with nothing else left; see SoakReport. */
  awaitingResume?: number;
}): SoakReport {
  const { counters, after, rss } = input;
  const awaitingResume = input.awaitingResume ?? 0;
  const failures: string[] = [];
  if (after.connections !== 0)
    failures.push(`server still holds ${after.connections} connections after drain`);
  // What sessions waiting to be resumed hold (their scopes, their expiry timers) is theirs by design.
  const resumableOnly = awaitingResume > 0 && awaitingResume === after.sessions && after.connections === 0;
  if (!resumableOnly) {
    if (after.sessions !== 0) failures.push(`server still holds ${after.sessions} sessions after drain`);
    for (const [kind, count] of Object.entries(after.resources))
      if (count !== 0) failures.push(`server still holds ${count} live resources of kind "${kind}"`);
  }
  const m = counters.messages;
  if (m.lost > 0) failures.push(`${m.lost} messages acknowledged by the server were never received`);
  if (m.duplicated > 0) failures.push(`${m.duplicated} messages were delivered twice`);
  if (m.gaps > 0) failures.push(`${m.gaps} sequence gaps the server did not declare`);
  if (counters.resume.failed > 0) {
    const why = Object.entries(counters.resume.failures)
      .map(([reason, n]) => `${n} ${reason}`)
      .join(', ');
    failures.push(`${counters.resume.failed} resume checks failed (${why})`);
  }
  const limit = rss.baseline * (1 + RSS_TOLERANCE);
  if (rss.baseline > 0 && rss.end > limit) {
    failures.push(
      `server RSS ended at ${mb(rss.end)}, above the post-warm-up baseline ${mb(rss.baseline)} + ${RSS_TOLERANCE * 100}%`,
    );
  }
  const detection: SoakReport['detection'] = {};
  for (const kind of ['zombie', 'silent', 'slow', 'stopped'] as const) {
    const values = counters.detectionMs[kind];
    detection[kind] = {
      count: values.length,
      p50: percentile(values, 0.5),
      p99: percentile(values, 0.99),
      undetected: counters.undetected[kind],
    };
  }
  const { detectionMs: _raw, ...summary } = counters;
  return {
    verdict: { pass: failures.length === 0, failures },
    plan: input.plan,
    elapsedMs: input.elapsedMs,
    counters: summary,
    detection,
    server: {
      rss,
      heap: input.heap,
      memoryCollected: input.memoryCollected,
      afterDrain: { connections: after.connections, sessions: after.sessions, resources: after.resources },
      awaitingResume: resumableOnly ? awaitingResume : 0,
      settledInMs: input.settledInMs,
    },
  };
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function ms(value: number | null): string {
  return value === null ? '-' : `${value} ms`;
}

function table(title: string, header: [string, string], rows: Array<[string, string | number]>): string {
  const body = rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n');
  return `### ${title}\n\n| ${header[0]} | ${header[1]} |\n| --- | ---: |\n${body}\n`;
}

/** Renders the report as Markdown tables, ending with the verdict. */
export function renderReport(report: SoakReport): string {
  const c = report.counters;
  const opened = Object.values(c.opened).reduce((a, b) => a + b, 0);
  const sections = [
    table(
      'Connections',
      ['what', 'count'],
      [
        ['opened (all kinds)', opened],
        ...Object.entries(c.opened).map(([k, v]): [string, number] => [`opened: ${k}`, v]),
        ...Object.entries(c.refused).map(([k, v]): [string, number] => [`refused with HTTP ${k}`, v]),
        ['failed to connect', c.failed],
        ['closed cleanly (1000)', c.ended.clean],
        ['terminated without close frame', c.ended.abrupt],
        ['dropped to resume', c.ended.droppedToResume],
        ...Object.entries(c.ended.byServer).map(([k, v]): [string, number] => [`closed by server: ${k}`, v]),
      ],
    ),
    `### Faulty peers detected by the server\n\n| kind | detected | p50 | p99 | never cut |\n| --- | ---: | ---: | ---: | ---: |\n${Object.entries(
      report.detection,
    )
      .map(([k, d]) => `| ${k} | ${d.count} | ${ms(d.p50)} | ${ms(d.p99)} | ${d.undetected} |`)
      .join('\n')}\n`,
    table(
      'Resume checks',
      ['result', 'count'],
      [
        ['passed (no gap, no duplicate)', c.resume.passed],
        ['failed', c.resume.failed],
        ...Object.entries(c.resume.failures).map(([k, v]): [string, number] => [`failed: ${k}`, v]),
      ],
    ),
    table(
      'Messages',
      ['what', 'count'],
      [
        ['acknowledged by the server', c.messages.acknowledged],
        ['received', c.messages.received],
        ['lost', c.messages.lost],
        ['duplicated', c.messages.duplicated],
        ['undeclared gaps', c.messages.gaps],
        ['abandoned (client left for good)', c.messages.abandoned],
        ['no session to take them', c.messages.notAccepted],
        ['skipped (publisher busy)', c.messages.skipped],
        ['publish errors', c.messages.publishErrors],
      ],
    ),
    `### Server memory\n\n| | start | post-warm-up baseline | peak | end |\n| --- | ---: | ---: | ---: | ---: |\n` +
      `| RSS | ${mb(report.server.rss.start)} | ${mb(report.server.rss.baseline)} | ${mb(report.server.rss.peak)} | ${mb(report.server.rss.end)} |\n` +
      `| heap used | ${mb(report.server.heap.start)} | ${mb(report.server.heap.baseline)} | ${mb(report.server.heap.peak)} | ${mb(report.server.heap.end)} |\n\n` +
      (report.server.memoryCollected
        ? 'Baseline and end measured right after a full garbage collection (`POST /api/gc`).\n'
        : 'The gateway could not collect garbage on request: the end is the lowest RSS seen while it idled.\n'),
    table(
      'Server after drain (/api/stats)',
      ['figure', 'value'],
      [
        ['connections', report.server.afterDrain.connections],
        ['sessions', report.server.afterDrain.sessions],
        ...Object.entries(report.server.afterDrain.resources).map(([k, v]): [string, number] => [
          `resources: ${k}`,
          v,
        ]),
        ['sessions still in their resume window (not leaked)', report.server.awaitingResume],
        ['reached zero after', ms(report.server.settledInMs)],
      ],
    ),
  ];
  if (Object.keys(c.errors).length > 0) {
    sections.push(
      table(
        'Errors',
        ['error', 'count'],
        Object.entries(c.errors).map(([k, v]) => [k, v]),
      ),
    );
  }
  const verdict = report.verdict.pass
    ? 'VERDICT: PASS: nothing leaked.'
    : `VERDICT: FAIL\n${report.verdict.failures.map((f) => `- ${f}`).join('\n')}`;
  return `## sockwarden soak: ${report.elapsedMs / 1000}s\n\n${sections.join('\n')}\n${verdict}\n`;
}
