import { describe, expect, it } from 'vitest';
import { ResourceLedger, Scope } from '../../src/core/scope.js';
import { TimerWheel } from '../../src/core/timer-wheel.js';
import { ManualClock } from '../helpers/clock.js';

function setup() {
  const clock = new ManualClock();
  const wheel = new TimerWheel({ tickMs: 10, clock });
  const ledger = new ResourceLedger();
  const errors: unknown[] = [];
  const root = Scope.root('root', ledger, wheel, (e) => errors.push(e));
  return { clock, wheel, ledger, root, errors };
}

describe('scope ownership tree (I2)', () => {
  it('releases children first, then own resources newest first, exactly once', () => {
    const { root, ledger } = setup();
    const order: string[] = [];
    const child = root.child('child');
    root.own('disposer', () => order.push('root-1'));
    child.own('disposer', () => order.push('child-1'));
    child.own('disposer', () => order.push('child-2'));
    root.own('disposer', () => order.push('root-2'));
    expect(ledger.count('disposer')).toBe(4);
    root.dispose();
    root.dispose();
    child.dispose();
    expect(order).toEqual(['child-2', 'child-1', 'root-2', 'root-1']);
    expect(ledger.total()).toBe(0);
  });

  it('cancels owned timers and aborts owned controllers on dispose', () => {
    const { root, clock, ledger, wheel } = setup();
    const scope = root.child('connection');
    let fired = false;
    scope.timer(100, () => {
      fired = true;
    });
    const controller = scope.abortController();
    const signal = scope.signal;
    expect(ledger.count('timer')).toBe(1);
    expect(ledger.count('abort')).toBe(1);
    scope.dispose();
    clock.advance(1_000);
    expect(fired).toBe(false);
    expect(controller.signal.aborted).toBe(true);
    expect(signal.aborted).toBe(true);
    expect(wheel.size).toBe(0);
    expect(ledger.count('timer')).toBe(0);
    expect(ledger.count('abort')).toBe(0);
  });

  it('forgets a timer that fired and a controller aborted by its user', () => {
    const { root, clock, ledger } = setup();
    let fired = 0;
    root.timer(50, () => fired++);
    root.abortController().abort();
    expect(ledger.count('abort')).toBe(0);
    clock.advance(100);
    expect(fired).toBe(1);
    expect(ledger.count('timer')).toBe(0);
  });

  it('keeps releasing when one disposer throws, and reports it', () => {
    const { root, errors, ledger } = setup();
    let second = false;
    root.own('disposer', () => {
      second = true;
    });
    root.own('disposer', () => {
      throw new Error('bad disposer');
    });
    root.dispose();
    expect(second).toBe(true);
    expect(errors).toHaveLength(1);
    expect(ledger.total()).toBe(0);
  });

  it('disposes at once what is registered on a disposed scope', () => {
    const { root, ledger } = setup();
    root.dispose();
    let ran = false;
    root.own('disposer', () => {
      ran = true;
    });
    expect(ran).toBe(true);
    expect(ledger.total()).toBe(0);
    expect(() => root.child('late')).toThrow(/disposed/);
  });
});
