/**
 * The frozen peers of a soak: child processes holding connections, stopped with SIGSTOP at spread
 * times. Their users are their own, so `/api/sessions` tells when the server has cut each socket.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loopbackAddress } from './addresses.js';
import { recordError, type SoakCounters } from './counters.js';
import type { SoakPlan } from './plan.js';
import { publishTo, userConnected } from './server-watch.js';
import type { StoppedCommand } from './stopped-main.js';
import { UpgradeUrls } from './upgrade-urls.js';

const SOCKETS_PER_CHILD = 25;
const POLL_MS = 250;
/** How long a frozen peer may stay connected before it counts as undetected. */
const DETECTION_LIMIT_MS = 120_000;
/**
 * How often a peer not yet frozen is sent a message. Like a chat user's, its socket then stays busy:
 * an idle one would be closed by the server's idle timeout (4102) before its freeze, and the
 * "detection" measured afterwards would be nothing but that earlier close.
 */
const KEEP_BUSY_MS = 60_000;

interface FrozenGroup {
  child: ChildProcess;
  users: string[];
  stoppedAt: number;
  pending: Set<string>;
  /** While the connections are being checked right after the freeze: no detection counts yet. */
  verifying: boolean;
  /** When its users were last sent a message. */
  busiedAt: number;
}

/** Runs the `--stopped` share of a soak. */
export class StoppedPeers {
  private readonly groups: FrozenGroup[] = [];
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  private poller: ReturnType<typeof setInterval> | undefined;
  private polling = false;

  constructor(
    private readonly plan: SoakPlan,
    private readonly counters: SoakCounters,
  ) {}

  /** Forks the children, waits until their sockets are open, and schedules each SIGSTOP. */
  async start(): Promise<void> {
    const total = Math.round(this.plan.connections * this.plan.mix.stopped);
    const entry = fileURLToPath(new URL('./stopped-main.js', import.meta.url));
    const runId = Date.now().toString(36);
    const upgrade = new UpgradeUrls(this.plan);
    const ready: Promise<void>[] = [];
    for (let first = 0, g = 0; first < total; first += SOCKETS_PER_CHILD, g++) {
      const users = Array.from(
        { length: Math.min(SOCKETS_PER_CHILD, total - first) },
        (_, i) => `soak-stopped-${first + i}`,
      );
      const urls = await Promise.all(users.map((user, i) => upgrade.urlFor(user, `f${runId}-${first + i}`)));
      const child = fork(entry, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      const group: FrozenGroup = {
        child,
        users,
        stoppedAt: 0,
        pending: new Set(users),
        verifying: false,
        busiedAt: Date.now(),
      };
      this.groups.push(group);
      // The last addresses of the range: the load processes start from the first ones.
      child.send({ urls, localAddress: loopbackAddress(60_000 + g) } satisfies StoppedCommand);
      ready.push(
        new Promise((resolve) =>
          child.once('message', (m: { welcomed: number; failed: number }) => {
            this.counters.opened.stopped += m.welcomed;
            this.counters.failed += m.failed;
            resolve();
          }),
        ),
      );
    }
    await Promise.all(ready);
    const window = Math.max(1, this.plan.durationMs - this.plan.warmupMs) / 2;
    this.groups.forEach((group, k) => {
      const at = this.plan.warmupMs + (window * (k + 1)) / (this.groups.length + 1);
      this.timers.push(setTimeout(() => this.freeze(group), at));
    });
    this.poller = setInterval(() => void this.poll(), POLL_MS);
  }

  private freeze(group: FrozenGroup): void {
    group.child.kill('SIGSTOP');
    group.stoppedAt = Date.now();
    group.verifying = true;
    void this.verify(group).finally(() => {
      group.verifying = false;
    });
  }

  /**
   * A peer the server had already closed before the freeze cannot be detected: it is dropped from
   * the measurement and reported, rather than counted as found in no time. The check runs at once,
   * far sooner than a heartbeat could notice the freeze.
   */
  private async verify(group: FrozenGroup): Promise<void> {
    const gone = await Promise.all(
      group.users.map(async (user) => !(await userConnected(this.plan, user).catch(() => true))),
    );
    group.users.forEach((user, i) => {
      if (!gone[i]) return;
      group.pending.delete(user);
      recordError(this.counters, 'stopped peer was already disconnected when frozen');
    });
  }

  private keepBusy(group: FrozenGroup): void {
    if (Date.now() - group.busiedAt < KEEP_BUSY_MS) return;
    group.busiedAt = Date.now();
    for (const user of group.users) {
      publishTo(this.plan, user, { keepBusy: true }).catch((error: Error) =>
        recordError(this.counters, `publish to a stopped peer: ${error.message}`),
      );
    }
  }

  private async poll(): Promise<void> {
    // Polls must not overlap: a slow API answer would otherwise count a detection twice.
    if (this.polling) return;
    this.polling = true;
    try {
      await this.pollOnce();
    } finally {
      this.polling = false;
    }
  }

  private async pollOnce(): Promise<void> {
    for (const group of this.groups) {
      if (group.stoppedAt === 0) this.keepBusy(group);
      if (group.stoppedAt === 0 || group.verifying || group.pending.size === 0) continue;
      for (const user of [...group.pending]) {
        if (await userConnected(this.plan, user).catch(() => true)) continue;
        group.pending.delete(user);
        this.counters.detectionMs.stopped.push(Date.now() - group.stoppedAt);
      }
      if (group.pending.size === 0 || Date.now() - group.stoppedAt > DETECTION_LIMIT_MS) this.kill(group);
    }
  }

  private kill(group: FrozenGroup): void {
    if (group.child.exitCode !== null || group.child.signalCode !== null) return;
    group.child.kill('SIGKILL');
  }

  /** Ends every child; peers never cut by the server count as undetected. */
  finish(): void {
    for (const timer of this.timers) clearTimeout(timer);
    clearInterval(this.poller);
    for (const group of this.groups) {
      this.counters.undetected.stopped += group.stoppedAt === 0 ? 0 : group.pending.size;
      this.counters.ended.abrupt += group.pending.size;
      this.counters.ended.byServer['cut (stopped peer)'] =
        (this.counters.ended.byServer['cut (stopped peer)'] ?? 0) + group.users.length - group.pending.size;
      this.kill(group);
    }
  }
}
