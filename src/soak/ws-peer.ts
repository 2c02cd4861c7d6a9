/**
 * A soak client on `ws`: a well-behaved peer that checks every message it is owed, or a zombie that
 * never answers pings. It deliberately does not use the client SDK: the SDK drops duplicates, and the
 * soak must see them to count them.
 */
import { WebSocket } from 'ws';
import { SUBPROTOCOL } from '../protocol.js';
import { bump, recordError, type SoakCounters } from './counters.js';

/** What a peer needs from the process that runs it. */
export interface PeerHost {
  counters: SoakCounters;
  /** The next loopback source address. */
  nextAddress(): string;
  /** The upgrade URL for a user and session, with a token when the gateway needs one. */
  urlFor(user: string, session: string, lastSeq?: number): Promise<string>;
  /** The peer is gone for good; the host may open a replacement. */
  ended(peer: { kind: string }): void;
}

/** How long a closing or resuming peer waits for what it is owed before calling it lost. */
export const OWED_WAIT_MS = 10_000;

/** Attempts at a resume refused with a retryable status, within the server's resume window. */
const RESUME_ATTEMPTS = 5;
const RETRYABLE = new Set([429, 503]);

interface ResumeCheck {
  owed: Set<number>;
  duplicates: number;
  gaps: number;
  timer: ReturnType<typeof setTimeout>;
}

/** One WebSocket peer of the soak. */
export class WsPeer {
  state: 'connecting' | 'open' | 'closing' | 'away' | 'ended' = 'connecting';
  /** Publishes to this peer still waiting for the API's answer. */
  inflight = 0;
  private ws: WebSocket | null = null;
  private lastSeq = 0;
  private openedAt = 0;
  private ending: 'clean' | 'abrupt' | null = null;
  /** Acknowledged by the server and not received yet. */
  private readonly owed = new Set<number>();
  /** Received before the publish answer arrived (delivery can beat the HTTP response). */
  private readonly early = new Set<number>();
  private duplicates = 0;
  private gaps = 0;
  private check: ResumeCheck | null = null;
  /** HTTP status of the last refused upgrade, 0 when it was not refused. */
  private refusedWith = 0;

  constructor(
    private readonly host: PeerHost,
    readonly kind: 'normal' | 'zombie',
    readonly user: string,
    readonly session: string,
  ) {}

  /** Opens the first connection. */
  start(): void {
    void this.dial(false);
  }

  /** The server acknowledged publish `n` for this peer's session. */
  acknowledged(n: number): void {
    this.host.counters.messages.acknowledged++;
    if (this.state === 'ended') {
      this.host.counters.messages.abandoned++;
      return;
    }
    if (!this.early.delete(n)) this.owed.add(n);
  }

  /** Waits for what it is owed (counting the rest as lost), then closes with 1000. */
  async endClean(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    const deadline = Date.now() + OWED_WAIT_MS;
    while ((this.inflight > 0 || this.owed.size > 0) && Date.now() < deadline && this.ws) {
      await new Promise((r) => setTimeout(r, 20));
    }
    this.host.counters.messages.lost += this.owed.size;
    this.owed.clear();
    this.ending = 'clean';
    this.ws?.close(1000, 'soak done');
  }

  /** Terminates without a close frame and does not come back. */
  terminate(): void {
    this.ending = 'abrupt';
    this.ws?.terminate();
  }

  /** Terminates without a close frame, then resumes the session after `delayMs`. */
  dropForResume(delayMs: number): void {
    const ws = this.ws;
    if (this.state !== 'open' || !ws) return;
    // Accounted here rather than in 'close': the next dial may start before that event fires.
    ws.removeAllListeners();
    ws.on('error', () => {});
    ws.terminate();
    this.ws = null;
    this.state = 'away';
    this.openedAt = 0;
    this.host.counters.open--;
    this.host.counters.ended.droppedToResume++;
    setTimeout(() => void this.dial(true), delayMs);
  }

  private async dial(resuming: boolean, attempt = 0): Promise<void> {
    if (this.state === 'ended') return;
    const counters = this.host.counters;
    let url: string;
    try {
      url = await this.host.urlFor(this.user, this.session, resuming ? this.lastSeq : undefined);
    } catch (error) {
      counters.failed++;
      this.finish(`token: ${(error as Error).message}`);
      return;
    }
    const ws = new WebSocket(url, SUBPROTOCOL, {
      localAddress: this.host.nextAddress(),
      autoPong: this.kind !== 'zombie',
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
    });
    this.ws = ws;
    this.ending = null;
    this.refusedWith = 0;
    ws.on('unexpected-response', (_req, res) => {
      bump(counters.refused, String(res.statusCode));
      this.refusedWith = res.statusCode ?? 0;
      res.resume();
      ws.terminate();
    });
    ws.on('error', (error) => {
      if (ws.readyState === WebSocket.CONNECTING && !error.message.startsWith('Unexpected server response')) {
        counters.failed++;
        recordError(counters, `connect: ${error.message}`);
      }
    });
    ws.on('message', (data) => this.frame(String(data), resuming));
    ws.on('close', (code) => this.closed(ws, code, resuming, attempt));
  }

  private frame(text: string, resuming: boolean): void {
    const frame = JSON.parse(text) as { type: string; seq?: number; data?: { n?: number } } & Record<
      string,
      unknown
    >;
    if (frame.type === 'welcome') {
      this.welcome(frame, resuming);
      return;
    }
    if (frame.type !== 'message' || typeof frame.seq !== 'number') return;
    const counters = this.host.counters;
    if (frame.seq <= this.lastSeq) {
      this.duplicates++;
      counters.messages.duplicated++;
      return;
    }
    if (frame.seq !== this.lastSeq + 1) {
      this.gaps++;
      counters.messages.gaps++;
    }
    this.lastSeq = frame.seq;
    counters.messages.received++;
    const n = frame.data?.n;
    if (typeof n === 'number' && !this.owed.delete(n)) this.early.add(n);
    if (this.check && [...this.check.owed].every((k) => !this.owed.has(k))) this.settleCheck(true);
  }

  private welcome(frame: Record<string, unknown>, resuming: boolean): void {
    const counters = this.host.counters;
    counters.opened[this.kind]++;
    counters.open++;
    this.state = 'open';
    this.openedAt = Date.now();
    if (!resuming) return;
    if (frame.resumed !== true || frame.resumeFailed !== undefined) {
      bump(counters.resume.failures, String(frame.resumeFailed ?? 'not resumed'));
      counters.resume.failed++;
      counters.messages.lost += this.owed.size;
      this.owed.clear();
      this.lastSeq = Number(frame.seq) || 0;
      return;
    }
    this.check = {
      owed: new Set(this.owed),
      duplicates: this.duplicates,
      gaps: this.gaps,
      timer: setTimeout(() => this.settleCheck(false), OWED_WAIT_MS),
    };
    if (this.check.owed.size === 0) this.settleCheck(true);
  }

  /** Passes the resume check when every owed message came back once and in order. */
  private settleCheck(complete: boolean): void {
    const check = this.check;
    if (!check) return;
    this.check = null;
    clearTimeout(check.timer);
    const clean = complete && this.duplicates === check.duplicates && this.gaps === check.gaps;
    const counters = this.host.counters.resume;
    if (clean) counters.passed++;
    else {
      counters.failed++;
      bump(counters.failures, complete ? 'duplicate or gap in the replay' : 'missing messages after resume');
    }
  }

  private closed(ws: WebSocket, code: number, resuming: boolean, attempt: number): void {
    if (ws !== this.ws) return;
    const counters = this.host.counters;
    const openedAt = this.openedAt;
    this.openedAt = 0;
    if (openedAt === 0) {
      // The handshake never completed: refused or failed (already counted where it happened).
      // A resume refused by a limit (429, 503) is retried like a well-behaved client would, boundedly.
      if (resuming && RETRYABLE.has(this.refusedWith) && attempt < RESUME_ATTEMPTS - 1) {
        this.ws = null;
        setTimeout(() => void this.dial(true, attempt + 1), 250 + Math.random() * 500);
        return;
      }
      if (resuming) {
        counters.resume.failed++;
        bump(counters.resume.failures, 'refused or failed to reconnect');
        counters.messages.lost += this.owed.size;
        this.owed.clear();
      }
      this.finish();
      return;
    }
    counters.open--;
    if (this.ending === 'clean') counters.ended.clean++;
    else if (this.ending === 'abrupt') counters.ended.abrupt++;
    else {
      bump(counters.ended.byServer, String(code));
      if (this.kind === 'zombie') counters.detectionMs.zombie.push(Date.now() - openedAt);
    }
    this.finish();
  }

  /** Gone for good: what is still owed was abandoned by the client's own choice. */
  private finish(error?: string): void {
    if (this.state === 'ended') return;
    if (error) this.host.counters.errors[error] = (this.host.counters.errors[error] ?? 0) + 1;
    this.settleCheck(false);
    this.host.counters.messages.abandoned += this.owed.size;
    this.owed.clear();
    this.state = 'ended';
    this.ws = null;
    this.host.ended(this);
  }

  /** At the end of the run: a zombie the server never cut counts as undetected. */
  destroy(): void {
    if (this.state === 'ended') return;
    if (this.kind === 'zombie' && this.state === 'open') this.host.counters.undetected.zombie++;
    this.ending = 'abrupt';
    this.ws?.terminate();
    if (this.state === 'connecting' || this.state === 'away') this.finish();
  }
}
