import { describe, expect, it } from 'vitest';
import { emptyCounters, mergeCounters } from '../../src/soak/counters.js';
import { readSoakPlan } from '../../src/soak/plan.js';
import { buildReport, percentile, renderReport } from '../../src/soak/report.js';
import type { ServerStats } from '../../src/soak/server-watch.js';

const plan = readSoakPlan([]);
const drained = {
  connections: 0,
  sessions: 0,
  resources: { scope: 0, timer: 0, connection: 0 },
} as unknown as ServerStats;
const memory = { start: 70e6, baseline: 100e6, peak: 150e6, end: 90e6 };

function report(
  overrides: {
    after?: Partial<ServerStats>;
    end?: number;
    memoryCollected?: boolean;
    awaitingResume?: number;
    edit?: (c: ReturnType<typeof emptyCounters>) => void;
  } = {},
) {
  const counters = emptyCounters();
  overrides.edit?.(counters);
  return buildReport({
    plan,
    elapsedMs: 60_000,
    counters,
    rss: { ...memory, end: overrides.end ?? memory.end },
    heap: memory,
    memoryCollected: overrides.memoryCollected ?? true,
    after: { ...drained, ...overrides.after } as ServerStats,
    settledInMs: 1_000,
    ...(overrides.awaitingResume === undefined ? {} : { awaitingResume: overrides.awaitingResume }),
  });
}

describe('soak verdict', () => {
  it('passes when the server drained to zero, nothing was lost and memory came back', () => {
    const result = report();
    expect(result.verdict).toEqual({ pass: true, failures: [] });
    expect(renderReport(result)).toContain('VERDICT: PASS');
  });

  it('does not call sessions leaked that wait within the resume window with nothing else left', () => {
    const waiting = report({
      after: { sessions: 7, detachedSessions: 7, resources: { session: 7, timer: 7 } },
      awaitingResume: 7,
    });
    expect(waiting.verdict).toEqual({ pass: true, failures: [] });
    expect(waiting.server.awaitingResume).toBe(7);
    expect(renderReport(waiting)).toMatch(
      /sessions still in their resume window \(not leaked\)\s*\|\s*7\s*\|/,
    );
    // Anything besides them is still a leak, and so are the sessions then.
    const alsoSockets = report({
      after: { connections: 1, sessions: 7, detachedSessions: 7 },
      awaitingResume: 7,
    });
    expect(alsoSockets.verdict.failures.join('\n')).toMatch(
      /1 connections after drain[\s\S]*7 sessions after drain/,
    );
    const someAttached = report({ after: { sessions: 9, detachedSessions: 7 }, awaitingResume: 7 });
    expect(someAttached.verdict.failures.join('\n')).toMatch(/9 sessions after drain/);
  });

  it('says how the memory figures were taken', () => {
    expect(renderReport(report())).toContain('right after a full garbage collection');
    expect(renderReport(report({ memoryCollected: false }))).toContain('lowest RSS seen while it idled');
  });

  it.each<[string, Parameters<typeof report>[0], RegExp]>([
    ['connections', { after: { connections: 3 } }, /server still holds 3 connections after drain/],
    ['sessions', { after: { sessions: 2 } }, /server still holds 2 sessions after drain/],
    ['a resource kind', { after: { resources: { timer: 4 } } }, /4 live resources of kind "timer"/],
    [
      'lost messages',
      { edit: (c) => Object.assign(c.messages, { lost: 5 }) },
      /5 messages acknowledged by the server were never received/,
    ],
    [
      'duplicates',
      { edit: (c) => Object.assign(c.messages, { duplicated: 1 }) },
      /1 messages were delivered twice/,
    ],
    ['gaps', { edit: (c) => Object.assign(c.messages, { gaps: 2 }) }, /2 sequence gaps/],
    [
      'failed resumes',
      { edit: (c) => Object.assign(c.resume, { failed: 3, failures: { expired: 3 } }) },
      /3 resume checks failed \(3 expired\)/,
    ],
    [
      'memory',
      { end: 120e6 },
      /server RSS ended at 114\.4 MB, above the post-warm-up baseline 95\.4 MB \+ 15%/,
    ],
  ])('fails naming %s', (_what, overrides, message) => {
    const result = report(overrides);
    expect(result.verdict.pass).toBe(false);
    expect(result.verdict.failures.join('\n')).toMatch(message);
    expect(renderReport(result)).toMatch(/VERDICT: FAIL/);
  });

  it('adds up the counters of several load processes exactly', () => {
    const a = emptyCounters();
    const b = emptyCounters();
    a.opened.normal = 3;
    b.opened.normal = 4;
    a.refused['429'] = 1;
    b.refused['503'] = 2;
    a.detectionMs.zombie.push(1_000);
    b.detectionMs.zombie.push(2_000, 3_000);
    const total = mergeCounters([a, b]);
    expect(total.opened.normal).toBe(7);
    expect(total.refused).toEqual({ '429': 1, '503': 2 });
    expect(total.detectionMs.zombie).toEqual([1_000, 2_000, 3_000]);
  });

  it('takes percentiles by rank', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([5, 1, 3], 0.5)).toBe(3);
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        0.99,
      ),
    ).toBe(100);
  });
});
