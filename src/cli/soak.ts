/**
 * `sockwarden soak`: the leak and fault harness against a running gateway. Progress goes to stderr,
 * the report (a table, or JSON with --json) to stdout. Exit 0 when the verdict passes, 1 when
 * something leaked or the gateway could not be reached, 2 for bad flags.
 */
import { readSoakPlan } from '../soak/plan.js';
import { renderReport } from '../soak/report.js';
import { runSoak } from '../soak/run.js';

/** Runs `sockwarden soak`; resolves with the exit code. */
export async function soak(argv: string[]): Promise<number> {
  const plan = readSoakPlan(argv);
  let report: Awaited<ReturnType<typeof runSoak>>;
  try {
    report = await runSoak(plan);
  } catch (error) {
    process.stderr.write(`sockwarden soak: ${(error as Error).message}\n`);
    return 1;
  }
  process.stdout.write(plan.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
  return report.verdict.pass ? 0 : 1;
}
