/**
 * One load process of a soak: holds its share of the connections, churns them, publishes to them
 * through the gateway's HTTP API and counts everything. It runs in a child process so that a big
 * soak spreads over several descriptor tables; the orchestrator only adds up the counters.
 */
import { randomInt } from 'node:crypto';
import { AddressPool } from './addresses.js';
import { emptyCounters, recordError, type SoakCounters } from './counters.js';
import type { SoakPlan } from './plan.js';
import { RawPeer } from './raw-peer.js';
import { UpgradeUrls } from './upgrade-urls.js';
import { OWED_WAIT_MS, type PeerHost, WsPeer } from './ws-peer.js';

const TICK_MS = 100;
/** Handshakes started per tick at most, so the ramp does not look like a connect flood. */
const OPENS_PER_TICK = 100;
/** Publishes in flight at most; beyond it publishes are skipped and counted. */
const MAX_INFLIGHT_PUBLISHES = 128;
/** Slow peers being flooded at once: each pins several MB of kernel buffers. */
const MAX_SLOW_FLOODS = 2;
const SLOW_PAYLOAD = 'x'.repeat(16 * 1024);
const SLOW_FLOOD_MAX_BYTES = 64 * 1024 * 1024;
const SLOW_FLOOD_MAX_MS = 30_000;

type Peer = WsPeer | RawPeer;

/** The load of one process. */
export class SoakDriver implements PeerHost {
  readonly counters: SoakCounters = emptyCounters();
  private readonly peers = new Set<Peer>();
  private readonly addresses: AddressPool;
  private readonly urls: UpgradeUrls;
  private readonly target: number;
  private readonly runId = Date.now().toString(36);
  private readonly slowWaiting: RawPeer[] = [];
  private nextSession = 0;
  private nextMessage = 0;
  private inflight = 0;
  private slowFloods = 0;
  private churnBudget = 0;
  private running = true;
  private readonly ticker: ReturnType<typeof setInterval>;

  constructor(
    private readonly plan: SoakPlan,
    private readonly index: number,
  ) {
    this.addresses = new AddressPool(index);
    this.urls = new UpgradeUrls(plan);
    const share = plan.connections * (1 - plan.mix.stopped);
    this.target = Math.floor(share / plan.processes) + (index < share % plan.processes ? 1 : 0);
    this.ticker = setInterval(() => this.tick(), TICK_MS);
  }

  nextAddress(): string {
    return this.addresses.next();
  }

  urlFor(user: string, session: string, lastSeq?: number): Promise<string> {
    return this.urls.urlFor(user, session, lastSeq);
  }

  ended(peer: { kind: string }): void {
    this.peers.delete(peer as Peer);
  }

  private tick(): void {
    if (!this.running) return;
    const deficit = Math.min(this.target - this.peers.size, OPENS_PER_TICK);
    for (let i = 0; i < deficit; i++) this.open();
    this.churnBudget += (this.plan.churnPerSecond / this.plan.processes) * (TICK_MS / 1000);
    const open = [...this.peers].filter((p): p is WsPeer => p instanceof WsPeer && p.kind === 'normal');
    for (; this.churnBudget >= 1; this.churnBudget--) this.churnOne(open);
    const perTick = this.plan.messagesPerSecond * (TICK_MS / 1000);
    for (const peer of open) {
      if (peer.state !== 'open') continue;
      for (let n = Math.floor(perTick) + (Math.random() < perTick % 1 ? 1 : 0); n > 0; n--)
        this.publish(peer);
    }
  }

  private open(): void {
    // Users round-robin (offset per process), so a user holds about connections/users sockets.
    const n = ++this.nextSession;
    const user = `soak-u${(n * this.plan.processes + this.index) % this.plan.users}`;
    const session = `r${this.runId}-${this.index}-${n}`;
    const { zombies, silent, slow } = this.plan.mix;
    const r = Math.random() * (1 - this.plan.mix.stopped);
    let peer: Peer;
    if (r < zombies) peer = new WsPeer(this, 'zombie', user, session);
    else if (r < zombies + silent) peer = new RawPeer(this, 'silent', user, session);
    else if (r < zombies + silent + slow)
      peer = new RawPeer(this, 'slow', user, session, (p) => this.startFlood(p));
    else peer = new WsPeer(this, 'normal', user, session);
    this.peers.add(peer);
    peer.start();
  }

  private churnOne(candidates: WsPeer[]): void {
    for (let tries = 0; tries < 5 && candidates.length > 0; tries++) {
      const peer = candidates[randomInt(candidates.length)] as WsPeer;
      if (peer.state !== 'open') continue;
      const r = Math.random();
      if (r < this.plan.mix.abrupt) peer.terminate();
      else if (r < this.plan.mix.abrupt + this.plan.mix.resume) peer.dropForResume(100 + randomInt(900));
      else void peer.endClean();
      return;
    }
  }

  private async post(body: unknown): Promise<{ delivered: number; queued: number }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.plan.apiKey) headers.authorization = `Bearer ${this.plan.apiKey}`;
    const res = await fetch(`${this.plan.api}/api/publish`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`publish answered HTTP ${res.status}`);
    }
    return (await res.json()) as { delivered: number; queued: number };
  }

  private publish(peer: WsPeer): void {
    const messages = this.counters.messages;
    if (this.inflight >= MAX_INFLIGHT_PUBLISHES) {
      messages.skipped++;
      return;
    }
    const n = ++this.nextMessage;
    this.inflight++;
    peer.inflight++;
    this.post({ user: peer.user, session: peer.session, data: { n } })
      .then(
        (answer) => {
          if (answer.delivered + answer.queued > 0) peer.acknowledged(n);
          else messages.notAccepted++;
        },
        (error: Error) => {
          messages.publishErrors++;
          recordError(this.counters, error.message);
        },
      )
      .finally(() => {
        this.inflight--;
        peer.inflight--;
      });
  }

  private startFlood(peer: RawPeer): void {
    if (this.slowFloods >= MAX_SLOW_FLOODS) {
      this.slowWaiting.push(peer);
      return;
    }
    this.slowFloods++;
    void this.flood(peer).finally(() => {
      this.slowFloods--;
      const next = this.slowWaiting.shift();
      if (next) this.startFlood(next);
    });
  }

  /** Publishes big messages to a peer that reads nothing until the server stops delivering to it. */
  private async flood(peer: RawPeer): Promise<void> {
    const started = Date.now();
    let bytes = 0;
    try {
      while (
        peer.state === 'open' &&
        bytes < SLOW_FLOOD_MAX_BYTES &&
        Date.now() - started < SLOW_FLOOD_MAX_MS
      ) {
        const answer = await this.post({
          user: peer.user,
          session: peer.session,
          data: { pad: SLOW_PAYLOAD },
        });
        if (answer.delivered === 0) {
          this.counters.detectionMs.slow.push(Date.now() - started);
          peer.markDetected();
          break;
        }
        bytes += SLOW_PAYLOAD.length;
      }
    } catch (error) {
      recordError(this.counters, `slow flood: ${(error as Error).message}`);
    }
    peer.destroy();
  }

  /** Stops the load: normal peers close cleanly once paid what they are owed, the rest are dropped. */
  async finish(): Promise<SoakCounters> {
    this.running = false;
    clearInterval(this.ticker);
    await waitFor(() => this.inflight === 0, 5_000);
    // Peers away for a resume come back (or fail) within their reconnect delay.
    await waitFor(
      () => ![...this.peers].some((p) => p instanceof WsPeer && p.state === 'away'),
      OWED_WAIT_MS,
    );
    const closing: Promise<void>[] = [];
    for (const peer of [...this.peers]) {
      if (peer instanceof WsPeer && peer.kind === 'normal' && peer.state === 'open')
        closing.push(peer.endClean());
      else if (!(peer instanceof WsPeer && peer.state === 'closing')) peer.destroy();
    }
    await Promise.all(closing);
    await waitFor(() => this.peers.size === 0, 10_000);
    for (const peer of [...this.peers]) peer.destroy();
    return this.counters;
  }
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}
