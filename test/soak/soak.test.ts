/**
 * `sockwarden soak` against `sockwarden serve`, both as a user runs them. The 60-second run with
 * every fault kind is the CI soak of the issue; the short one proves the verdict fails on a leak.
 */
import { describe, expect, it } from 'vitest';
import { run, serve } from '../helpers/cli.js';
import { runSoak, SOAK_SERVER_FLAGS } from '../helpers/soak.js';

describe('sockwarden soak', () => {
  it('runs 60 s of churn with every fault kind and passes its verdict', { timeout: 300_000 }, async () => {
    // Resuming peers come back within a second; the window leaves room for a machine starved of CPU
    // (a late resume past the window is the server doing its job, but the verdict counts it lost).
    const { base } = await serve([...SOAK_SERVER_FLAGS, '--resume-window', '10000']);
    const launched = Date.now();
    const { code, report, stderr } = await runSoak(base, [
      // Two load processes, so the path a big soak takes (counters added across processes) runs in CI.
      ...'--connections 600 --users 150 --duration 60s --churn 60/s --messages 1/s --abrupt 20% --resume 30% --zombies 5% --silent 2% --slow 2% --stopped 1% --settle 60s --processes 2'.split(
        ' ',
      ),
    ]);
    expect(report.verdict.failures).toEqual([]);
    expect(code).toBe(0);
    const c = report.counters;
    // Every fault kind really happened and the server cut every faulty peer it could see.
    for (const kind of ['zombie', 'silent', 'slow', 'stopped'] as const) {
      expect(c.opened[kind], `${kind} peers opened`).toBeGreaterThan(0);
      expect(report.detection[kind]?.count, `${kind} peers detected`).toBeGreaterThan(0);
      expect(report.detection[kind]?.count, `${kind} detections counted once`).toBeLessThanOrEqual(
        c.opened[kind],
      );
    }
    expect(report.detection.zombie?.p99).toBeLessThan(5_000);
    expect(c.ended.clean).toBeGreaterThan(0);
    expect(c.ended.abrupt).toBeGreaterThan(0);
    expect(c.resume.passed).toBeGreaterThan(50);
    expect(c.messages.received).toBeGreaterThan(10_000);
    expect(c.messages.lost + c.messages.duplicated + c.messages.gaps).toBe(0);
    expect(report.server.afterDrain.connections).toBe(0);
    expect(report.server.afterDrain.sessions).toBe(0);
    expect(Object.values(report.server.afterDrain.resources).every((n) => n === 0)).toBe(true);
    expect(report.server.memoryCollected).toBe(true);
    expect(report.server.rss.end).toBeLessThanOrEqual(report.server.rss.baseline * 1.15);
    // The soak exits with its report, not a minute later on a forgotten timer.
    expect(Date.now() - launched - report.elapsedMs).toBeLessThan(15_000);
    // Progress was shown while it ran.
    expect(stderr).toMatch(/\[soak \d+s\/60s\] open \d+/);
  });

  it('reports sessions still in a long resume window as such, not as leaked', {
    timeout: 120_000,
  }, async () => {
    // A resume window far longer than the settle time: abruptly dropped sessions are rightly held.
    const { base } = await serve([...SOAK_SERVER_FLAGS, '--resume-window', '600000']);
    const { code, report } = await runSoak(base, [
      ...'--connections 40 --users 10 --duration 3s --churn 20/s --abrupt 100% --resume 0% --zombies 0% --silent 0% --slow 0% --stopped 0% --settle 2s'.split(
        ' ',
      ),
    ]);
    expect(report.server.afterDrain.sessions).toBeGreaterThan(0);
    expect(report.server.awaitingResume).toBe(report.server.afterDrain.sessions);
    expect(report.verdict.failures.join('\n')).not.toMatch(/sessions after drain|live resources/);
    expect(code).toBe(report.verdict.pass ? 0 : 1);
  });

  it('exits 2 naming a bad flag, and 1 naming an unreachable gateway', async () => {
    const bad = await run(['soak', '--churn', 'fast']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--churn: "fast" is not a rate such as 200\/s/);
    const unreachable = await run(['soak', '--api', 'http://127.0.0.1:9', '--url', 'ws://127.0.0.1:9/ws']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot reach the gateway API at http:\/\/127\.0\.0\.1:9\/api\/stats/);
  });
});
