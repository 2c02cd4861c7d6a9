/**
 * `sockwarden soak`: forks the load processes and the frozen peers, watches the server while they
 * run, then stops them, waits for the server to drain and renders the verdict. Every phase has a
 * time bound, so a soak always ends by itself.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { emptyCounters, mergeCounters, type SoakCounters } from './counters.js';
import type { DriverCommand, DriverReport } from './driver-main.js';
import type { SoakPlan } from './plan.js';
import { buildReport, type MemorySamples, RSS_TOLERANCE, type SoakReport } from './report.js';
import { collectServerGarbage, readStats, type ServerStats } from './server-watch.js';
import { StoppedPeers } from './stopped.js';

/** How long load processes get to close their peers and report. */
const FINISH_TIMEOUT_MS = 60_000;
/**
 * How long an idle, drained server that cannot collect garbage on request gets for its memory to
 * come back near the baseline.
 */
const MEMORY_SETTLE_MS = 60_000;
/** Beyond the server's resume window, for its expiry timer's tick and the stats' round trip. */
const RESUME_MARGIN_MS = 2_000;
/** How much longer than --settle the soak waits for the server's resume window to end. */
const RESUME_WAIT_CAP_MS = 60_000;

interface LoadProcess {
  child: ChildProcess;
  latest: SoakCounters;
  final: Promise<SoakCounters>;
}

function startLoad(plan: SoakPlan, index: number): LoadProcess {
  const entry = fileURLToPath(new URL('./driver-main.js', import.meta.url));
  const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const load: LoadProcess = { child, latest: emptyCounters(), final: Promise.resolve(emptyCounters()) };
  load.final = new Promise((resolve) => {
    child.on('message', (report: DriverReport) => {
      load.latest = report.counters;
      if (report.type === 'final') resolve(report.counters);
    });
    // A crashed load process still contributes what it last reported.
    child.on('exit', () => resolve(load.latest));
  });
  child.send({ type: 'start', plan, index } satisfies DriverCommand);
  return load;
}

/** Writes one progress line: overwritten in place on a terminal, every 5 s otherwise. */
class Progress {
  private lastPlain = 0;
  constructor(private readonly out: NodeJS.WriteStream) {}

  show(line: string): void {
    if (this.out.isTTY) this.out.write(`\r${line.padEnd(this.out.columns ? this.out.columns - 1 : 120)}`);
    else if (Date.now() - this.lastPlain >= 5_000) {
      this.lastPlain = Date.now();
      this.out.write(`${line}\n`);
    }
  }

  done(): void {
    if (this.out.isTTY) this.out.write('\n');
  }
}

const zeroed = (stats: ServerStats): boolean =>
  stats.connections === 0 && stats.sessions === 0 && Object.values(stats.resources).every((n) => n === 0);

/** Runs a soak to its verdict. Throws only when the gateway cannot be reached at all. */
export async function runSoak(
  plan: SoakPlan,
  progressOut: NodeJS.WriteStream = process.stderr,
): Promise<SoakReport> {
  const first = await readStats(plan);
  const rss: MemorySamples = { start: first.process?.rssBytes ?? 0, baseline: 0, peak: 0, end: 0 };
  const heap: MemorySamples = { start: first.process?.heapUsedBytes ?? 0, baseline: 0, peak: 0, end: 0 };
  const sample = (stats: ServerStats) => {
    rss.peak = Math.max(rss.peak, stats.process?.rssBytes ?? 0);
    heap.peak = Math.max(heap.peak, stats.process?.heapUsedBytes ?? 0);
  };
  sample(first);
  // Both memory figures the verdict compares are taken right after a full collection, so that they
  // measure what the server holds, not where its GC cycle happened to stand (a sample of a busy
  // heap carries tens of MB of garbage, more or less depending on the moment).
  let collected = true;
  const started = Date.now();
  const loads = Array.from({ length: plan.processes }, (_, i) => startLoad(plan, i));
  const stoppedCounters = emptyCounters();
  const stopped = new StoppedPeers(plan, stoppedCounters);
  const stoppedReady = stopped.start();
  const progress = new Progress(progressOut);
  let lastEnded = 0;
  let lastTick = started;
  while (Date.now() - started < plan.durationMs) {
    await new Promise((r) => setTimeout(r, 1_000));
    const stats = await readStats(plan).catch(() => null);
    const now = Date.now();
    const total = mergeCounters([...loads.map((l) => l.latest), stoppedCounters]);
    const ended = total.ended.clean + total.ended.abrupt + total.ended.droppedToResume;
    const churn = Math.round(((ended - lastEnded) * 1000) / (now - lastTick));
    lastEnded = ended;
    lastTick = now;
    if (stats) sample(stats);
    if (rss.baseline === 0 && now - started >= plan.warmupMs && stats) {
      const live = await collectServerGarbage(plan).catch(() => null);
      collected = live !== null;
      rss.baseline = live?.rssBytes ?? stats.process?.rssBytes ?? 0;
      heap.baseline = live?.heapUsedBytes ?? stats.process?.heapUsedBytes ?? 0;
    }
    const errors = total.failed + total.messages.publishErrors;
    const server = stats
      ? `server ${stats.connections} conns, ${stats.pressure}, rss ${Math.round((stats.process?.rssBytes ?? 0) / 1048576)} MB`
      : 'server: no answer';
    progress.show(
      `[soak ${Math.round((now - started) / 1000)}s/${plan.durationMs / 1000}s] open ${total.open} | churn ${churn}/s | ` +
        `msgs ack ${total.messages.acknowledged} recv ${total.messages.received} | errors ${errors} | ${server}`,
    );
  }
  await stoppedReady;
  for (const load of loads) load.child.send({ type: 'finish' } satisfies DriverCommand);
  const finals = await Promise.all(
    loads.map((load) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<SoakCounters>((resolve) => {
        timer = setTimeout(() => resolve(load.latest), FINISH_TIMEOUT_MS);
      });
      // The timer would otherwise keep the soak alive for a minute after its report.
      return Promise.race([load.final, late]).finally(() => clearTimeout(timer));
    }),
  );
  for (const load of loads) if (load.child.exitCode === null) load.child.kill('SIGKILL');
  stopped.finish();
  const clientsDone = Date.now();
  let after = await readStats(plan);
  // Sessions whose clients dropped without a goodbye are kept for the server's resume window: they
  // are not leaked until it has passed. When it ends soon after --settle, wait for it so that the
  // verdict is exact; when it is far longer, report those sessions as still in their window.
  const windowEndsMs = (after.resumeWindowMs ?? 0) + RESUME_MARGIN_MS;
  const settleMs =
    windowEndsMs > plan.settleMs && windowEndsMs - plan.settleMs <= RESUME_WAIT_CAP_MS
      ? windowEndsMs
      : plan.settleMs;
  while (!zeroed(after) && Date.now() - clientsDone < settleMs) {
    progress.show(
      `[soak] clients finished ${Math.round((Date.now() - clientsDone) / 1000)}s ago; waiting up to ` +
        `${Math.round(settleMs / 1000)}s for the server to drain: ${after.connections} connections, ` +
        `${after.sessions} sessions (${after.detachedSessions} in their resume window) left`,
    );
    await new Promise((r) => setTimeout(r, 500));
    after = await readStats(plan);
    sample(after);
  }
  const onlyResumable = after.connections === 0 && after.sessions === after.detachedSessions;
  const awaitingResume =
    onlyResumable && Date.now() - clientsDone < windowEndsMs ? after.detachedSessions : 0;
  const settledInMs = zeroed(after) ? Date.now() - clientsDone : null;
  if (rss.baseline === 0) {
    collected = false;
    rss.baseline = rss.peak;
    heap.baseline = heap.peak;
  }
  // A collection from before the clients finished would show the run's heap, not what it left.
  const live = collected ? await collectServerGarbage(plan, clientsDone).catch(() => null) : null;
  collected = live !== null;
  rss.end = live?.rssBytes ?? after.process?.rssBytes ?? 0;
  heap.end = live?.heapUsedBytes ?? after.process?.heapUsedBytes ?? 0;
  // Without a collection, the run's garbage stays in the heap until V8's memory reducer runs, which
  // an idle process may never do: the lowest RSS within MEMORY_SETTLE_MS is the best figure there is.
  const memoryDeadline = Date.now() + MEMORY_SETTLE_MS;
  // When the server never drained, the verdict already fails: no point waiting on memory.
  while (
    !collected &&
    settledInMs !== null &&
    rss.end > rss.baseline * (1 + RSS_TOLERANCE) &&
    Date.now() < memoryDeadline
  ) {
    progress.show(
      `[soak] server drained; waiting for its memory to settle (rss ${Math.round(rss.end / 1048576)} MB)`,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    const stats = await readStats(plan);
    rss.end = Math.min(rss.end, stats.process?.rssBytes ?? rss.end);
    heap.end = Math.min(heap.end, stats.process?.heapUsedBytes ?? heap.end);
  }
  progress.done();
  return buildReport({
    plan,
    elapsedMs: Date.now() - started,
    counters: mergeCounters([...finals, stoppedCounters]),
    rss,
    heap,
    memoryCollected: collected,
    after,
    settledInMs,
    awaitingResume,
  });
}
