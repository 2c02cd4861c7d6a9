/**
 * A full garbage collection on request, for `POST /api/gc`. An idle Node.js process keeps the
 * garbage of its last busy minute in the heap for as long as V8 sees no reason to collect it, so its
 * RSS says more about where the GC cycle stood than about what the process holds. A leak check
 * (the soak's verdict, an operator comparing two moments) needs the live figure, which only a
 * collection gives.
 *
 * The collection goes through an in-process `node:inspector` session: a documented API that needs
 * no `--expose-gc` flag and opens no port.
 */
import { Session } from 'node:inspector';
import { SockwardenError } from '../errors.js';

/** Process memory at one moment. */
export interface MemoryFigures {
  /** Resident set size. */
  rssBytes: number;
  /** V8 heap in use (live objects plus garbage not yet collected). */
  heapUsedBytes: number;
}

/** What one collection did. */
export interface CollectionResult {
  before: MemoryFigures;
  after: MemoryFigures;
  /** How long the collection paused the process, in ms. */
  tookMs: number;
}

function memoryNow(): MemoryFigures {
  const memory = process.memoryUsage();
  return { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed };
}

function collectOnce(): Promise<CollectionResult> {
  let session: Session;
  try {
    session = new Session();
    session.connect();
  } catch (cause) {
    // Node.js built without the inspector (ERR_INSPECTOR_NOT_AVAILABLE).
    throw new SockwardenError(
      'gc_unavailable',
      `cannot run a garbage collection: ${(cause as Error).message}`,
    );
  }
  const before = memoryNow();
  const started = performance.now();
  const collected = new Promise<CollectionResult>((resolve, reject) => {
    session.post('HeapProfiler.collectGarbage', (error) => {
      if (error) {
        reject(new SockwardenError('gc_unavailable', `the garbage collection failed: ${error.message}`));
        return;
      }
      resolve({ before, after: memoryNow(), tookMs: performance.now() - started });
    });
  });
  // Not from inside the callback: on Node.js 20 a session disconnected there hangs the process.
  return collected.finally(() => session.disconnect());
}

let running: Promise<CollectionResult> | undefined;

/**
 * Runs a full garbage collection and reports memory before and after. Callers that arrive while one
 * runs share it: a burst of requests pauses the process once, not once per request.
 */
export function collectGarbage(): Promise<CollectionResult> {
  if (running === undefined) {
    running = collectOnce().finally(() => {
      running = undefined;
    });
  }
  return running;
}

/** The shortest time between two collections that `POST /api/gc` runs (ms). */
export const GC_MIN_INTERVAL_MS = 10_000;

/** A collection as `POST /api/gc` reports it. */
export interface PacedCollectionResult extends CollectionResult {
  /** True when this caller did not start the collection: it shared a running one or got the last. */
  shared: boolean;
  /** How long ago the collection finished (ms); 0 for one that ran for this caller. */
  ageMs: number;
}

/**
 * Collections on request, at most one per interval. Each one pauses the whole process for tens of
 * milliseconds, so a caller in a loop (or an attacker holding the key) could otherwise stall every
 * connection; within the interval a caller gets the last result, marked as shared, which is still
 * the figure a leak check wants: the heap without the garbage of its last busy minute.
 */
export class GarbageCollectionPacer {
  private running: Promise<CollectionResult> | undefined;
  private last: { result: CollectionResult; finishedAt: number } | undefined;

  constructor(
    private readonly minIntervalMs: number = GC_MIN_INTERVAL_MS,
    private readonly runCollection: () => Promise<CollectionResult> = collectGarbage,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Runs a collection, or shares the running one, or returns the last one within the interval. */
  async collect(): Promise<PacedCollectionResult> {
    if (this.running) return { ...(await this.running), shared: true, ageMs: 0 };
    const last = this.last;
    if (last && this.now() - last.finishedAt < this.minIntervalMs) {
      return { ...last.result, shared: true, ageMs: Math.round(this.now() - last.finishedAt) };
    }
    const running = this.runCollection();
    this.running = running;
    try {
      const result = await running;
      this.last = { result, finishedAt: this.now() };
      return { ...result, shared: false, ageMs: 0 };
    } finally {
      this.running = undefined;
    }
  }
}
