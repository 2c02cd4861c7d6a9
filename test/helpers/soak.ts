/** `sockwarden soak` against a gateway at `base`, as a user runs it, with its JSON report parsed. */
import type { SoakReport } from '../../src/soak/report.js';
import { run } from './cli.js';

/** Server flags for a soak: the soak's API key, and fast heartbeats so faults are found within the run. */
export const SOAK_SERVER_FLAGS: readonly string[] = [
  '--insecure',
  '--api-key',
  'soak-key-0123456789abcdef',
  '--heartbeat-interval',
  '1000',
  '--pong-timeout',
  '500',
];

/** Runs the soak with `args` (its API key is `soak-key-0123456789abcdef`); throws with its stderr when it printed no report. */
export async function runSoak(
  base: string,
  args: string[],
): Promise<{ code: number | null; report: SoakReport; stderr: string }> {
  const result = await run([
    'soak',
    '--url',
    `${base.replace('http', 'ws')}/ws`,
    '--api',
    base,
    '--api-key',
    'soak-key-0123456789abcdef',
    '--json',
    ...args,
  ]);
  try {
    return { code: result.code, report: JSON.parse(result.stdout) as SoakReport, stderr: result.stderr };
  } catch {
    throw new Error(`soak printed no JSON report (exit ${result.code}): ${result.stderr.slice(-2000)}`);
  }
}
