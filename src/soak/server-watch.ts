/**
 * What the soak reads from the gateway's HTTP API: `/api/stats` (with the process memory the
 * server adds), `/api/sessions` for the frozen peers' users, and `/api/gc` before each memory
 * figure the verdict compares.
 */
import type { GatewayStats } from '../core/stats.js';
import type { SoakPlan } from './plan.js';

/** `/api/stats` of `sockwarden serve`. */
export type ServerStats = GatewayStats & {
  process?: { rssBytes: number; heapUsedBytes: number };
  /** The server's resume window; absent from servers before it was reported. */
  resumeWindowMs?: number;
};

/** An API answer other than 2xx. */
class ApiStatusError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function call<T>(plan: SoakPlan, path: string, body?: unknown, method?: 'POST'): Promise<T> {
  const headers: Record<string, string> = plan.apiKey ? { authorization: `Bearer ${plan.apiKey}` } : {};
  let res: Response;
  try {
    res = await fetch(`${plan.api}${path}`, {
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      signal: AbortSignal.timeout(5_000),
      ...(body === undefined ? { method } : { method: 'POST', body: JSON.stringify(body) }),
    });
  } catch (cause) {
    throw new Error(`cannot reach the gateway API at ${plan.api}${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  if (!res.ok) {
    const body = await res.text();
    const hint = res.status === 401 ? " (pass the server's key with --api-key)" : '';
    throw new ApiStatusError(
      `${plan.api}${path} answered HTTP ${res.status}${hint}: ${body.slice(0, 200)}`,
      res.status,
    );
  }
  return (await res.json()) as T;
}

/** Reads `/api/stats`. */
export function readStats(plan: SoakPlan): Promise<ServerStats> {
  return call<ServerStats>(plan, '/api/stats');
}

/** Whether any of `user`'s sessions still has a connected socket. */
export async function userConnected(plan: SoakPlan, user: string): Promise<boolean> {
  const body = await call<{ sessions: Array<{ connected: boolean }> }>(
    plan,
    `/api/sessions?user=${encodeURIComponent(user)}`,
  );
  return body.sessions.some((s) => s.connected);
}

/** Publishes `data` to every session of `user`. */
export async function publishTo(plan: SoakPlan, user: string, data: unknown): Promise<void> {
  await call(plan, '/api/publish', { user, data });
}

/** Server memory right after a full garbage collection. */
export interface CollectedMemory {
  rssBytes: number;
  heapUsedBytes: number;
}

/** How long the soak waits at most for a collection newer than the one the server last made. */
const FRESH_COLLECTION_WAIT_MS = 15_000;

/**
 * Asks the gateway for a full garbage collection made no earlier than `notBefore` (ms since the
 * epoch) and returns its memory afterwards, or null when it cannot run one (a gateway without
 * `POST /api/gc`, or a Node.js build without the inspector). The gateway runs at most one
 * collection per interval and answers others with the last one and its age: an answer older than
 * `notBefore` would describe the heap before the run, so the soak asks again once the interval
 * allows.
 */
export async function collectServerGarbage(plan: SoakPlan, notBefore = 0): Promise<CollectedMemory | null> {
  const deadline = Date.now() + FRESH_COLLECTION_WAIT_MS;
  try {
    for (;;) {
      const asked = Date.now();
      const result = await call<{ after: CollectedMemory; ageMs?: number }>(
        plan,
        '/api/gc',
        undefined,
        'POST',
      );
      const madeAt = asked - (result.ageMs ?? 0);
      if (madeAt >= notBefore) return result.after;
      if (Date.now() > deadline)
        throw new Error(
          `the gateway made no fresh garbage collection within ${FRESH_COLLECTION_WAIT_MS / 1000}s`,
        );
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  } catch (error) {
    if (error instanceof ApiStatusError && [404, 405, 501].includes(error.status)) return null;
    throw error;
  }
}
