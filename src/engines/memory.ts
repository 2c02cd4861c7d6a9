/**
 * The in-memory engine, the default: slot counters in this process. Node runs JavaScript on one
 * thread, so a check-and-reserve with no await in between is atomic (invariant I4). It is one node
 * only: relaying reaches nobody, no slot is ever taken back, and its session store records nothing.
 */
import type {
  Engine,
  EngineCounts,
  EngineFactory,
  SlotDecision,
  SlotLimits,
  SlotRequest,
} from '../core/engine.js';
import { LocalSessionStore } from './memory-sessions.js';

interface Counter {
  /** The key this counter is stored under, kept so release never recomputes it (I3). */
  readonly key: string;
  n: number;
}

class MemoryEngine implements Engine {
  readonly name = 'memory';
  /** Nothing outside this process to lose. */
  readonly degraded = false;
  readonly shared = false;
  readonly sessions = new LocalSessionStore();
  private total = 0;
  private readonly users = new Map<string, Counter>();
  private readonly ips = new Map<string, Counter>();

  constructor(private readonly limits: SlotLimits) {}

  reserve(request: SlotRequest): SlotDecision {
    const user = this.users.get(request.user);
    const ip = this.ips.get(request.ip);
    if (this.total - request.replacing >= this.limits.maxConnections) return { ok: false, code: 'node_full' };
    // 0 turns the per-IP cap off; the IP is still counted, for the stats.
    const perIp = this.limits.maxConnectionsPerIp;
    if (perIp > 0 && (ip?.n ?? 0) >= perIp) return { ok: false, code: 'ip_limit' };
    if ((user?.n ?? 0) - request.replacing >= this.limits.maxConnectionsPerUser) {
      return { ok: false, code: 'user_limit' };
    }
    const userCounter = user ?? this.insert(this.users, request.user);
    const ipCounter = ip ?? this.insert(this.ips, request.ip);
    userCounter.n++;
    ipCounter.n++;
    this.total++;
    let released = false;
    return {
      ok: true,
      lease: {
        release: () => {
          if (released) return;
          released = true;
          this.total--;
          this.decrement(this.users, userCounter);
          this.decrement(this.ips, ipCounter);
        },
        onRevoke: ignoreRevoke,
      },
    };
  }

  relay(): void {}

  counts(top: number): EngineCounts {
    const topUsers = [...this.users.values()]
      .sort((a, b) => b.n - a.n)
      .slice(0, top)
      .map((c) => ({ user: c.key, connections: c.n }));
    return { connections: this.total, users: this.users.size, ips: this.ips.size, topUsers };
  }

  async close(): Promise<void> {}

  private insert(map: Map<string, Counter>, key: string): Counter {
    const counter = { key, n: 0 };
    map.set(key, counter);
    return counter;
  }

  private decrement(map: Map<string, Counter>, counter: Counter): void {
    counter.n--;
    if (counter.n === 0 && map.get(counter.key) === counter) map.delete(counter.key);
  }
}

/** One node never takes a slot back, so there is nothing to listen for. */
function ignoreRevoke(): void {}

/** The default engine: limits held in this process. */
export function memoryEngine(): EngineFactory {
  return (limits) => new MemoryEngine(limits);
}
