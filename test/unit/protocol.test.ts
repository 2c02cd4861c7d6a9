import { describe, expect, it } from 'vitest';
import {
  CLOSE_CODES,
  CloseCode,
  isReconnectable,
  keepsSessionAfterClose,
  parseClientFrame,
} from '../../src/protocol.js';

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
  it('marks the reconnect range and the final range as DESIGN.md says', () => {
    for (const code of [1001, 1012, 1013, 4000, 4001, 4002, 4003, 4004])
      expect(isReconnectable(code)).toBe(true);
    for (const code of [1000, 1008, 1009, 4100, 4101, 4102, 4103, 4104, 4105])
      expect(isReconnectable(code)).toBe(false);
    expect(keepsSessionAfterClose(4001)).toBe(true);
    expect(keepsSessionAfterClose(4100)).toBe(true);
    expect(keepsSessionAfterClose(4101)).toBe(false);
    expect(keepsSessionAfterClose(4103)).toBe(false);
  });

  it('keeps the session after 4100 and 4102 though neither reconnects, and ends it after 1000', () => {
    for (const code of [4100, 4102]) {
      expect(isReconnectable(code)).toBe(false);
      expect(keepsSessionAfterClose(code)).toBe(true);
    }
    expect(keepsSessionAfterClose(1000)).toBe(false);
  });

  it('reconnects and keeps the session after 1002, and after a code outside the table such as 1006', () => {
    for (const code of [1002, 1005, 1006, 1011, 3000, 4050, 4199]) {
      expect(isReconnectable(code)).toBe(true);
      expect(keepsSessionAfterClose(code)).toBe(true);
    }
  });
});

describe('close code table', () => {
  it('has each code and each name once, and CloseCode names every row', () => {
    expect(new Set(CLOSE_CODES.map((row) => row.code)).size).toBe(CLOSE_CODES.length);
    expect(Object.entries(CloseCode)).toEqual(CLOSE_CODES.map((row) => [row.name, row.code]));
    expect(CloseCode.Replaced).toBe(4100);
    expect(CloseCode.ProtocolError).toBe(1002);
  });
});
