/**
 * The per-session replay buffer (invariant I6): the last frames sent, bounded by count and bytes,
 * so a client that reconnects with `lastSeq` gets exactly what it missed. Frames are kept as the
 * exact text that was sent, so a replay is byte-identical to the first delivery.
 */

/** Bounds of a replay ring. */
export interface ReplayBounds {
  maxMessages: number;
  maxBytes: number;
}

/** A bounded ring of sent frames, addressed by sequence number. */
export class ReplayRing {
  private frames: string[] = [];
  private head = 0;
  private length = 0;
  private bytes = 0;
  /** Sequence number of the oldest retained frame; frames are contiguous from here. */
  private firstSeq = 1;

  constructor(private readonly bounds: ReplayBounds) {}

  /** Frames currently retained. */
  get size(): number {
    return this.length;
  }

  /** Bytes currently retained (UTF-16 length is used as a cheap, stable proxy). */
  get retainedBytes(): number {
    return this.bytes;
  }

  /** Appends the frame with sequence number `seq`, which must follow the previous one. */
  push(seq: number, frame: string): void {
    if (this.length === 0) this.firstSeq = seq;
    if (this.bounds.maxMessages === 0) {
      this.firstSeq = seq + 1;
      return;
    }
    if (this.length === this.bounds.maxMessages) this.dropOldest();
    if (this.length === this.frames.length) this.grow();
    this.frames[(this.head + this.length) % this.frames.length] = frame;
    this.length++;
    this.bytes += frame.length;
    while (this.bytes > this.bounds.maxBytes && this.length > 0) this.dropOldest();
  }

  /** Forgets frames up to and including `seq`: the client has them. */
  ackUpTo(seq: number): void {
    while (this.length > 0 && this.firstSeq <= seq) this.dropOldest();
    if (this.length === 0 && this.firstSeq <= seq) this.firstSeq = seq + 1;
  }

  /**
   * Frames after `lastSeq`, oldest first, or null when some of them were already dropped (the
   * gap is lost). `latestSeq` is the last sequence number the session has sent.
   */
  since(lastSeq: number, latestSeq: number): string[] | null {
    if (lastSeq >= latestSeq) return [];
    if (lastSeq + 1 < this.firstSeq) return null;
    const out: string[] = [];
    for (let i = lastSeq + 1 - this.firstSeq; i < this.length; i++) {
      out.push(this.frames[(this.head + i) % this.frames.length] as string);
    }
    return out;
  }

  /** Sequence number just before the oldest retained frame: replaying from it sends all that is kept. */
  get oldestAvailable(): number {
    return this.firstSeq - 1;
  }

  /** Drops everything; used when the session ends. */
  clear(): void {
    this.frames = [];
    this.head = 0;
    this.length = 0;
    this.bytes = 0;
  }

  private dropOldest(): void {
    const frame = this.frames[this.head] as string;
    this.frames[this.head] = '';
    this.head = (this.head + 1) % this.frames.length;
    this.length--;
    this.bytes -= frame.length;
    this.firstSeq++;
  }

  private grow(): void {
    // Start small: most sessions hold a handful of frames, and idle memory per connection matters.
    const capacity = Math.min(Math.max(4, this.frames.length * 2), this.bounds.maxMessages);
    const next = new Array<string>(capacity);
    for (let i = 0; i < this.length; i++)
      next[i] = this.frames[(this.head + i) % this.frames.length] as string;
    this.frames = next;
    this.head = 0;
  }
}
