/**
 * Which worker of the machine this process is. With `serve --workers N` the primary gives each
 * worker a slot from 1 to N in its environment, and a replacement takes the slot of the worker it
 * replaces, so the `worker` label of the metrics and "worker N of M" on the dashboard stay within
 * 1..N however many times workers restart. A process on its own is worker 1 of 1.
 *
 * The variables are not `SOCKWARDEN_*`: those are the operator's configuration, and these are set
 * by the primary for its own children only.
 */

/** The environment variable holding a worker's slot (1..N). */
export const WORKER_SLOT_ENV = 'SW_WORKER_SLOT';

/** The environment variable holding the number of workers. */
export const WORKER_COUNT_ENV = 'SW_WORKER_COUNT';

/** A worker's place on its machine. */
export interface WorkerIdentity {
  /** Slot from 1 to `workers`; stable across restarts of that slot. */
  id: number;
  /** Its process id. */
  pid: number;
  /** How many workers the machine runs (1 without `--workers`). */
  workers: number;
}

function positive(value: string | undefined): number | undefined {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** This process's {@link WorkerIdentity}, read from what its primary set (worker 1 of 1 otherwise). */
export function workerIdentity(env: NodeJS.ProcessEnv = process.env): WorkerIdentity {
  const id = positive(env[WORKER_SLOT_ENV]);
  const workers = positive(env[WORKER_COUNT_ENV]);
  if (id === undefined || workers === undefined) return { id: 1, pid: process.pid, workers: 1 };
  return { id, pid: process.pid, workers };
}
