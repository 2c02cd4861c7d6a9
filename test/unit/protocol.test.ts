import { describe, expect, it } from 'vitest';
import { isReconnectable, keepsSessionAfterClose, parseClientFrame } from '../../src/protocol.js';

describe('client frame parsing', () => {
  it('accepts the three client frames', () => {
    expect(parseClientFrame('{"type":"message","id":"a1","data":{"x":1}}')).toEqual({
      ok: true,
      frame: { type: 'message', id: 'a1', data: { x: 1 } },
    });
    expect(parseClientFrame('{"type":"message","data":null}')).toEqual({
      ok: true,
      frame: { type: 'message', data: null },
    });
    expect(parseClientFrame('{"type":"ack","seq":4}')).toEqual({ ok: true, frame: { type: 'ack', seq: 4 } });
    expect(parseClientFrame('{"type":"ping"}')).toEqual({ ok: true, frame: { type: 'ping' } });
  });

  it.each([
    ['not json', 'not valid JSON'],
    ['[1]', 'JSON object'],
    ['{"type":"shout"}', '"type" must be one of'],
    ['{"type":"message"}', '"data"'],
    ['{"type":"message","id":7,"data":1}', '"id"'],
    ['{"type":"ack","seq":-1}', '"seq"'],
  ])('names what is wrong with %s', (text, reason) => {
    const parsed = parseClientFrame(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });
});

describe('close code ranges', () => {
  it('marks the reconnect range and the final range as docs/architecture.md says', () => {
    for (const code of [1001, 1012, 1013, 4000, 4001, 4002, 4003, 4004])
      expect(isReconnectable(code)).toBe(true);
    for (const code of [1000, 1008, 1009, 4100, 4101, 4102, 4103, 4104, 4105])
      expect(isReconnectable(code)).toBe(false);
    expect(keepsSessionAfterClose(4001)).toBe(true);
    expect(keepsSessionAfterClose(4100)).toBe(true);
    expect(keepsSessionAfterClose(4101)).toBe(false);
    expect(keepsSessionAfterClose(4103)).toBe(false);
  });
});
