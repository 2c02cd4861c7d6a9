import { describe, expect, it } from 'vitest';
import { ReplayRing } from '../../src/core/replay-ring.js';

function fill(ring: ReplayRing, from: number, to: number): void {
  for (let seq = from; seq <= to; seq++) ring.push(seq, `f${seq}`);
}

describe('replay ring (I6)', () => {
  it('returns exactly the frames after lastSeq, in order', () => {
    const ring = new ReplayRing({ maxMessages: 10, maxBytes: 1_000 });
    fill(ring, 1, 7);
    expect(ring.since(4, 7)).toEqual(['f5', 'f6', 'f7']);
    expect(ring.since(7, 7)).toEqual([]);
    expect(ring.since(0, 7)).toHaveLength(7);
  });

  it('is bounded by message count and reports a lost gap as null', () => {
    const ring = new ReplayRing({ maxMessages: 3, maxBytes: 1_000 });
    fill(ring, 1, 10);
    expect(ring.size).toBe(3);
    expect(ring.since(7, 10)).toEqual(['f8', 'f9', 'f10']);
    expect(ring.since(6, 10)).toBeNull();
  });

  it('is bounded by bytes', () => {
    const ring = new ReplayRing({ maxMessages: 100, maxBytes: 10 });
    fill(ring, 1, 9);
    expect(ring.retainedBytes).toBeLessThanOrEqual(10);
    expect(ring.since(8, 9)).toEqual(['f9']);
    expect(ring.since(1, 9)).toBeNull();
  });

  it('frees acknowledged frames', () => {
    const ring = new ReplayRing({ maxMessages: 100, maxBytes: 1_000 });
    fill(ring, 1, 5);
    ring.ackUpTo(3);
    expect(ring.size).toBe(2);
    expect(ring.since(3, 5)).toEqual(['f4', 'f5']);
    ring.ackUpTo(5);
    expect(ring.size).toBe(0);
    fill(ring, 6, 6);
    expect(ring.since(5, 6)).toEqual(['f6']);
  });

  it('keeps nothing with maxMessages 0', () => {
    const ring = new ReplayRing({ maxMessages: 0, maxBytes: 1_000 });
    fill(ring, 1, 3);
    expect(ring.size).toBe(0);
    expect(ring.since(2, 3)).toBeNull();
  });
});
