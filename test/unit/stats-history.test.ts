import { describe, expect, it } from 'vitest';
import type { GatewayTotals } from '../../src/observability/metrics.js';
import { closeRange, type SampledFigures, StatsHistory } from '../../src/observability/stats-history.js';

function figures(connections: number, throttled = 0): SampledFigures {
  return {
    connections,
    sessions: connections,
    detachedSessions: 0,
    users: Math.ceil(connections / 2),
    pressure: 'ok',
    pressureRatio: connections / 100,
    resources: {},
    bufferedBytes: 0,
    replayBytes: 0,
    queuedUpgrades: 0,
    draining: false,
    engine: 'memory',
    engineDegraded: false,
    topUsers: [],
    upstream: throttled ? { default: { throttled } as SampledFigures['upstream'][string] } : {},
  };
}

function totals(partial: Partial<GatewayTotals> = {}): GatewayTotals {
  return {
    admissions: {},
    closes: {},
    zombies: 0,
    evictions: {},
    cleanup: { bounds: [], counts: [] },
    ...partial,
  };
}

describe('stats history', () => {
  it('groups close codes the way a client reacts to them', () => {
    expect(['1000'].map(closeRange)).toEqual(['clean']);
    expect(['1001', '1012', '1013', '4000', '4004'].map(closeRange)).toEqual(Array(5).fill('resumable'));
    expect(['1008', '1009', '4100', '4105'].map(closeRange)).toEqual(Array(4).fill('final'));
    expect(['1006', '1005', '1002', '1011', 'other'].map(closeRange)).toEqual(Array(5).fill('abnormal'));
  });

  it('turns counters into rates per second over the real interval, starting from no activity', () => {
    const history = new StatsHistory(10);
    const first = history.add(
      0,
      figures(5),
      totals({ admissions: { admitted: 50, user_limit: 3 }, closes: { '1000': 7 }, zombies: 2 }),
    );
    expect(first.point).toMatchObject({ admitted: 0, refused: 0, zombies: 0, connections: 5 });
    const second = history.add(
      2_000,
      figures(9, 4),
      totals({
        admissions: { admitted: 70, user_limit: 5, ip_limit: 2 },
        closes: { '1000': 11, '1006': 6, '4101': 2, '4000': 1 },
        zombies: 6,
        evictions: { user_limit: 2, pressure: 2 },
      }),
    );
    expect(second.point).toMatchObject({
      t: 2_000,
      connections: 9,
      sessions: 9,
      users: 5,
      admitted: 10,
      refused: 2,
      closes: { clean: 2, abnormal: 3, final: 1, resumable: 0.5 },
      zombies: 2,
      evictions: 2,
      throttled: 2,
      pressureRatio: 0.09,
    });
    expect(history.latest()?.figures.connections).toBe(9);
  });

  it('keeps at most its capacity, oldest first', () => {
    const history = new StatsHistory(3);
    for (let i = 0; i < 7; i++) history.add(i * 1_000, figures(i), totals());
    expect(history.points().map((p) => p.connections)).toEqual([4, 5, 6]);
  });

  it('keeps feeding every listener when one throws, and stops a listener on unsubscribe', () => {
    const errors: unknown[] = [];
    const history = new StatsHistory(3, (error) => errors.push(error));
    const seen: number[] = [];
    history.subscribe(() => {
      throw new Error('broken viewer');
    });
    const stop = history.subscribe((sample) => seen.push(sample.point.connections));
    history.add(0, figures(1), totals());
    stop();
    history.add(1_000, figures(2), totals());
    expect(seen).toEqual([1]);
    expect(errors).toHaveLength(2);
  });
});
