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
