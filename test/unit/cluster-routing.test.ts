/**
 * The pure parts of cluster routing and session claims, without Redis: the channel's message
 * format and its validation, who gets what, and the ordering point that splits what a moving
 * session's old node delivers from what the new one collects.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RemoteOperation } from '../../src/core/engine.js';
import { PendingClaim } from '../../src/engines/redis-claim.js';
import {
  decodeRouted,
  encodeRouted,
  type Payload,
  RedisRouter,
  type RouterListener,
  routeMessage,
} from '../../src/engines/redis-router.js';

const PAYLOADS: Payload[] = [
  { kind: 'publish', user: 'u', json: '{"a":1}' },
  { kind: 'publish', user: 'u', session: 's', json: '"x"' },
  { kind: 'disconnect', user: 'u' },
  { kind: 'disconnect', user: 'u', session: 's' },
  { kind: 'claim', id: 'c1', user: 'u', session: 's', holder: 'node-a' },
  { kind: 'handed', id: 'c1', attached: true },
  { kind: 'revoke', lease: 'node-a:17' },
  { kind: 'drop', user: 'u', session: 's' },
];

/** A listener that records each call as [method, ...arguments]. */
function recordingListener(): RouterListener & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  return {
    calls,
    operation: (...args) => void calls.push(['operation', ...args]),
    claim: (...args) => void calls.push(['claim', ...args]),
    handed: (...args) => void calls.push(['handed', ...args]),
    revoke: (...args) => void calls.push(['revoke', ...args]),
    drop: (...args) => void calls.push(['drop', ...args]),
  };
}

describe('routing messages', () => {
  it('decodes every payload kind exactly as it was encoded', () => {
    for (const [i, payload] of PAYLOADS.entries()) {
      const text = encodeRouted('node-b', i + 1, payload);
      expect(JSON.parse(text)).toEqual({ from: 'node-b', n: i + 1, payload });
      expect(decodeRouted(text)).toEqual({ ok: true, message: { from: 'node-b', n: i + 1, payload } });
    }
  });

  it('ignores what no node sends: bad JSON with its parse error, anything malformed without one', () => {
    const notJson = decodeRouted('{"from":');
    expect(notJson.ok).toBe(false);
    expect((notJson as { error: unknown }).error).toBeInstanceOf(SyntaxError);
    const malformed: unknown[] = [
      null,
      0,
      true,
      {},
      [],
      'text',
      { n: 1, payload: PAYLOADS[0] },
      { from: 7, n: 1, payload: PAYLOADS[0] },
      { from: 'b', n: '1', payload: PAYLOADS[0] },
      { from: 'b', n: 1 },
      { from: 'b', n: 1, payload: null },
      { from: 'b', n: 1, payload: { kind: 'explode' } },
      { from: 'b', n: 1, payload: { kind: 'publish', user: 'u' } },
      { from: 'b', n: 1, payload: { kind: 'publish', user: 'u', json: {} } },
      { from: 'b', n: 1, payload: { kind: 'publish', user: 1, json: '1' } },
      { from: 'b', n: 1, payload: { kind: 'disconnect', user: 'u', session: 5 } },
      { from: 'b', n: 1, payload: { kind: 'claim', id: 'c', user: 'u', session: 's' } },
      { from: 'b', n: 1, payload: { kind: 'handed', id: 'c', attached: 'yes' } },
      { from: 'b', n: 1, payload: { kind: 'revoke' } },
      { from: 'b', n: 1, payload: { kind: 'drop', user: 'u' } },
    ];
    for (const value of malformed) {
      expect(decodeRouted(JSON.stringify(value)), JSON.stringify(value)).toEqual({
        ok: false,
        error: undefined,
      });
    }
  });

  it("hands every claim to the listener, its own echo included, and drops this node's other messages", () => {
    for (const payload of PAYLOADS) {
      const listener = recordingListener();
      routeMessage({ from: 'me', n: 4, payload }, 'me', listener);
      expect(listener.calls, payload.kind).toEqual(
        payload.kind === 'claim' ? [['claim', payload, 'me']] : [],
      );
    }
  });

  it("dispatches another node's messages by kind, with the sender and its number where order matters", () => {
    const listener = recordingListener();
    for (const [i, payload] of PAYLOADS.entries())
      routeMessage({ from: 'other', n: i, payload }, 'me', listener);
    expect(listener.calls).toEqual([
      ['operation', PAYLOADS[0], 'other', 0],
      ['operation', PAYLOADS[1], 'other', 1],
      ['operation', PAYLOADS[2], 'other', 2],
      ['operation', PAYLOADS[3], 'other', 3],
      ['claim', PAYLOADS[4], 'other'],
      ['handed', PAYLOADS[5], 'other', 5],
      ['revoke', 'node-a:17'],
      ['drop', 'u', 's'],
    ]);
  });

  it('numbers what a router sends, in order, and reports what it cannot read without stopping', async () => {
    const subscriber = Object.assign(new EventEmitter(), {
      subscribe: async () => 1,
      disconnect: () => {},
    });
    const published: Array<[string, string]> = [];
    const redis = {
      duplicate: () => subscriber,
      publish: async (channel: string, text: string) => published.push([channel, text]),
    } as unknown as Redis;
    const failures: unknown[] = [];
    const listener = recordingListener();
    const router = new RedisRouter(
      redis,
      'sw:ch',
      'me',
      { failure: (e) => failures.push(e) },
      listener,
      () => {},
    );
    await router.subscribed;
    await router.send(PAYLOADS[0] as Payload);
    await router.send(PAYLOADS[6] as Payload);
    expect(router.lastSent).toBe(2);
    expect(published.map(([channel, text]) => [channel, JSON.parse(text).n])).toEqual([
      ['sw:ch', 1],
      ['sw:ch', 2],
    ]);
    subscriber.emit('message', 'sw:ch', 'not json');
    subscriber.emit('message', 'sw:ch', '{"from":"x","n":1,"payload":{"kind":"nope"}}');
    subscriber.emit('message', 'sw:ch', encodeRouted('other', 9, PAYLOADS[7] as Payload));
    expect(failures).toHaveLength(2);
    expect(failures[0]).toBeInstanceOf(SyntaxError);
    expect(String(failures[1])).toContain('ignored a malformed message on sw:ch');
    expect(listener.calls).toEqual([['drop', 'u', 's']]);
  });
});

describe('a claim under way', () => {
  const publish = (json: string, session?: string): RemoteOperation =>
    session === undefined
      ? { kind: 'publish', user: 'u', json }
      : { kind: 'publish', user: 'u', session, json };

  it('is ready once its echo came back and, when the holder lives, once the holder answered', () => {
    const claim = new PendingClaim('u', 's');
    expect(claim.ready).toBe(false);
    claim.echoed = true;
    expect(claim.ready).toBe(true);
    claim.awaitAnswer = true;
    expect(claim.ready).toBe(false);
    claim.answeredAt = 0;
    expect(claim.ready).toBe(true);
  });

  it("collects after the ordering point, leaving out the holder's operations from before its answer", () => {
    const claim = new PendingClaim('u', 's');
    claim.holder = 'old';
    claim.answeredAt = 10;
    claim.buffer.push(
      { from: 'old', n: 8, operation: publish('"in the stream already"') },
      { from: 'third', n: 2, operation: publish('"from another node"') },
      { from: 'old', n: 11, operation: publish('"after the answer"') },
      { from: 'me', n: 1, operation: publish('"from here"', 's') },
    );
    expect(claim.collected()).toEqual({
      messages: ['"from another node"', '"after the answer"', '"from here"'],
      disconnected: false,
    });
  });

  it('keeps every operation while the holder has not answered (a dead holder applied none of them)', () => {
    const claim = new PendingClaim('u', 's');
    claim.holder = 'dead';
    claim.buffer.push(
      { from: 'dead', n: 1, operation: publish('1') },
      { from: 'x', n: 1, operation: publish('2') },
    );
    expect(claim.collected().messages).toEqual(['1', '2']);
  });

  it('stops at a disconnect: what came before is delivered, then the session closes', () => {
    const claim = new PendingClaim('u', 's');
    claim.buffer.push(
      { from: 'a', n: 1, operation: publish('1') },
      { from: 'a', n: 2, operation: { kind: 'disconnect', user: 'u' } },
      { from: 'a', n: 3, operation: publish('3') },
    );
    expect(claim.collected()).toEqual({ messages: ['1'], disconnected: true });
  });

  it("targets the user's operations for every session or for this one only", () => {
    const claim = new PendingClaim('u', 's');
    expect(claim.targets(publish('1'))).toBe(true);
    expect(claim.targets(publish('1', 's'))).toBe(true);
    expect(claim.targets(publish('1', 'other'))).toBe(false);
    expect(claim.targets({ kind: 'disconnect', user: 'v' })).toBe(false);
    expect(claim.targets({ kind: 'disconnect', user: 'u', session: 's' })).toBe(true);
  });
});
