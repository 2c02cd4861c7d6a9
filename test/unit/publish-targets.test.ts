/**
 * `gateway.publish` and `gateway.disconnect` called from application code with a bad target (plain
 * JavaScript, parsed input) throw a `bad_request` SockwardenError naming the field, not a raw
 * TypeError from deep inside the hub.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockwardenError } from '../../src/errors.js';
import { createGateway, type Gateway } from '../../src/index.js';

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

const BAD: Array<[unknown, string]> = [
  [null, 'target'],
  [undefined, 'target'],
  ['alice', 'target'],
  [[], 'target'],
  [{ session: 'x' }, 'user'],
  [{ user: 7 }, 'user'],
  [{ user: '' }, 'user'],
  [{ user: 'u'.repeat(129) }, 'user'],
  [{ user: 'alice', session: 'bad id!' }, 'session'],
  [{ user: 'alice', session: 3 }, 'session'],
];

describe('publish and disconnect targets', () => {
  it.each(BAD)('refuses %j with bad_request naming %s', (target, field) => {
    gateway = createGateway({ insecure: true });
    for (const call of [
      () => (gateway as Gateway).publish(target as never, 1),
      () => (gateway as Gateway).disconnect(target as never),
    ]) {
      let thrown: unknown;
      try {
        call();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(SockwardenError);
      expect(thrown).toMatchObject({ code: 'bad_request', field });
    }
  });

  it('still takes good targets', () => {
    gateway = createGateway({ insecure: true });
    expect(gateway.publish({ user: 'alice' }, 1)).toEqual({ delivered: 0, queued: 0 });
    expect(gateway.publish({ user: 'alice', session: 'chat-1' }, 1)).toEqual({ delivered: 0, queued: 0 });
    expect(gateway.disconnect({ user: 'alice' })).toBe(0);
  });
});
