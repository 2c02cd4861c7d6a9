/**
 * deploy/prometheus/alerts.yml is valid (`promtool check rules`) and each rule fires on the input
 * its unit test gives and stays quiet on normal figures (`promtool test rules alerts.test.yml`).
 * Without promtool (Debian's `prometheus` package) the test is skipped with a notice, unless
 * SOCKWARDEN_REQUIRE_PROMTOOL=1 or CI is set (.ci/run sets both): then a missing promtool fails.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIR = join(import.meta.dirname, '../../deploy/prometheus');

function promtoolAvailable(): boolean {
  if (spawnSync('promtool', ['--version']).status === 0) return true;
  if (process.env.SOCKWARDEN_REQUIRE_PROMTOOL === '1' || process.env.CI)
    throw new Error(
      'promtool is required (SOCKWARDEN_REQUIRE_PROMTOOL or CI is set) but not on PATH: apt-get install -y prometheus',
    );
  console.warn(
    '[deploy/prometheus tests skipped] promtool not found: apt-get install -y prometheus to run them',
  );
  return false;
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Alert names defined in alerts.yml. */
function alertNames(): string[] {
  return [...readFileSync(join(DIR, 'alerts.yml'), 'utf8').matchAll(/^\s*- alert: (\S+)$/gm)].map(
    (m) => m[1] as string,
  );
}

describe('deploy/prometheus alert rules', () => {
  it('cover what an operator pages on', () => {
    expect(alertNames().sort()).toEqual(
      [
        'SockwardenPressureShedding',
        'SockwardenPressureCritical',
        'SockwardenRefusalsSustained',
        'SockwardenZombieSpike',
        'SockwardenEvictionSpike',
        'SockwardenCircuitOpen',
        'SockwardenEngineDegraded',
        'SockwardenSlowCleanup',
        'SockwardenResourcesLeaked',
      ].sort(),
    );
  });

  it('have a unit test that expects each alert to fire', () => {
    const tests = readFileSync(join(DIR, 'alerts.test.yml'), 'utf8');
    for (const name of alertNames()) {
      const firing = new RegExp(`alertname: ${name}\\n\\s+exp_alerts:\\n\\s+- exp_labels`);
      expect(tests, name).toMatch(firing);
    }
  });

  describe.runIf(promtoolAvailable())('with promtool', () => {
    it('pass promtool check rules', () => {
      const { status, output } = promtool('check', 'rules', 'alerts.yml');
      expect(output).toContain('SUCCESS');
      expect(status, output).toBe(0);
    });

    it('pass promtool test rules', () => {
      const { status, output } = promtool('test', 'rules', 'alerts.test.yml');
      expect(status, output).toBe(0);
      expect(output).toContain('SUCCESS');
    });
  });
});
