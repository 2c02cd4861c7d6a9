/**
 * Entry of a soak load process, forked by `sockwarden soak`. It takes its plan over IPC, reports
 * progress every second, and on `finish` closes its peers and sends its final counters.
 */
import { SoakDriver } from './driver.js';
import type { SoakPlan } from './plan.js';

/** Messages from the orchestrator. */
export type DriverCommand = { type: 'start'; plan: SoakPlan; index: number } | { type: 'finish' };

/** Messages to the orchestrator. */
export type DriverReport =
  | { type: 'progress'; counters: SoakDriver['counters'] }
  | { type: 'final'; counters: SoakDriver['counters'] };

let driver: SoakDriver | undefined;
let progress: ReturnType<typeof setInterval> | undefined;

function send(message: DriverReport): void {
  process.send?.(message);
}

process.on('message', (command: DriverCommand) => {
  if (command.type === 'start' && !driver) {
    driver = new SoakDriver(command.plan, command.index);
    const running = driver;
    progress = setInterval(() => send({ type: 'progress', counters: running.counters }), 1_000);
  } else if (command.type === 'finish' && driver) {
    clearInterval(progress);
    void driver.finish().then((counters) => {
      // Exit only once the report is handed over: its sockets are all closed by now.
      process.send?.({ type: 'final', counters } satisfies DriverReport, () => process.exit(0));
    });
  }
});
// An orphaned load process (its orchestrator died) must not outlive it: exiting closes its sockets.
process.on('disconnect', () => process.exit(0));
