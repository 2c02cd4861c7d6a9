import { describe, expect, it } from 'vitest';
import {
  CLOSE_CODES,
  type ClientFrame,
  CloseCode,
  encodeClientFrame,
  errorFrame,
  isReconnectable,
  keepsSessionAfterClose,
  messageFrame,
  PONG_FRAME,
  parseClientFrame,
  parseServerFrame,
  warningFrame,
  welcomeFrame,
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

describe('server frames', () => {
  it('builds the exact text the SDK and other clients read', () => {
    expect(welcomeFrame('s1', true, 4, 25_000, 'expired')).toBe(
      '{"type":"welcome","session":"s1","resumed":true,"seq":4,"heartbeatMs":25000,"resumeFailed":"expired"}',
    );
    expect(messageFrame(3, '{"a":1}')).toBe('{"type":"message","seq":3,"data":{"a":1}}');
    expect(warningFrame('idle', 500)).toBe('{"type":"warning","reason":"idle","closeInMs":500}');
    expect(errorFrame('busy', 'later', { ref: 'm1', retryAfterMs: 20 })).toBe(
      '{"type":"error","code":"busy","message":"later","ref":"m1","retryAfterMs":20}',
    );
    expect(PONG_FRAME).toBe('{"type":"pong"}');
  });

  it('reads back every frame the server builds', () => {
    expect(parseServerFrame(welcomeFrame('s1', false, 0, 1000))).toEqual({
      type: 'welcome',
      session: 's1',
      resumed: false,
      seq: 0,
      heartbeatMs: 1000,
    });
    expect(parseServerFrame(welcomeFrame('s1', true, 2, 1000, 'too_far_behind'))).toMatchObject({
      resumeFailed: 'too_far_behind',
    });
    expect(parseServerFrame(messageFrame(7, '[1]'))).toEqual({ type: 'message', seq: 7, data: [1] });
    expect(parseServerFrame(warningFrame('pressure', 5))).toEqual({
      type: 'warning',
      reason: 'pressure',
      closeInMs: 5,
    });
    expect(parseServerFrame(errorFrame('bad_frame', 'no', { ref: 'a' }))).toEqual({
      type: 'error',
      code: 'bad_frame',
      message: 'no',
      ref: 'a',
    });
    expect(parseServerFrame(PONG_FRAME)).toEqual({ type: 'pong' });
  });

  it('ignores what the SDK cannot use and throws only on text that is not JSON', () => {
    for (const text of ['null', '[1]', '"hi"', '{"type":"shout"}', '{"type":"message","seq":"1","data":1}'])
      expect(parseServerFrame(text)).toBeNull();
    expect(parseServerFrame('{"type":"warning","reason":"moon","closeInMs":1}')).toBeNull();
    expect(() => parseServerFrame('not json')).toThrow(SyntaxError);
  });

  it('coerces the fields of a frame it can use, as the SDK always did', () => {
    expect(parseServerFrame('{"type":"welcome","resumeFailed":"later"}')).toEqual({
      type: 'welcome',
      session: 'undefined',
      resumed: false,
      seq: Number.NaN,
      heartbeatMs: Number.NaN,
      resumeFailed: 'unknown',
    });
    expect(parseServerFrame('{"type":"error","code":5,"retryAfterMs":"9","ref":1}')).toEqual({
      type: 'error',
      code: '5',
      message: 'undefined',
    });
  });
});

describe('client frames', () => {
  it.each<ClientFrame>([
    { type: 'message', id: 'm-1', data: { text: 'hi' } },
    { type: 'message', data: null },
    { type: 'ack', seq: 12 },
    { type: 'ping' },
  ])('encodes %j as a frame the server accepts', (frame) => {
    expect(parseClientFrame(encodeClientFrame(frame))).toEqual({ ok: true, frame });
  });

  it('refuses data without a JSON form instead of dropping the field', () => {
    expect(() => encodeClientFrame({ type: 'message', id: 'a', data: undefined })).toThrow(TypeError);
    expect(() => encodeClientFrame({ type: 'message', id: 'a', data: () => 1 })).toThrow(TypeError);
  });
});
