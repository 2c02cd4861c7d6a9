/**
 * Pressure levels from connection count and heap use against their budgets. The level is
 * recomputed on the shared timer and on demand at admission, and every change is reported.
 */
import type { PressureLevel, Telemetry } from './telemetry.js';

/** Where each level starts, as a ratio of the budget in use. */
export const PRESSURE_THRESHOLDS = { warning: 0.8, shedding: 0.85, critical: 0.95 } as const;

/** The inputs a pressure monitor reads. */
export interface PressureInputs {
  connections(): number;
  maxConnections: number;
  /** Heap in use and the heap budget, in bytes. */
  heap(): { used: number; limit: number };
}

/** Maps a ratio of budget in use to a level. */
export function levelFor(ratio: number): PressureLevel {
  if (ratio >= PRESSURE_THRESHOLDS.critical) return 'critical';
  if (ratio >= PRESSURE_THRESHOLDS.shedding) return 'shedding';
  if (ratio >= PRESSURE_THRESHOLDS.warning) return 'warning';
  return 'ok';
}

/** Tracks the pressure level; see the module comment. */
export class PressureMonitor {
  private heapRatio = 0;
  private current: PressureLevel = 'ok';
  private lastRatio = 0;

  constructor(
    private readonly inputs: PressureInputs,
    private readonly telemetry: Telemetry,
  ) {}

  /** The level as of the last update. */
  get level(): PressureLevel {
    return this.current;
  }

  /** The ratio behind the level as of the last update. */
  get ratio(): number {
    return this.lastRatio;
  }

  /** Samples the heap (costly, so only on the timer) and recomputes the level. */
  sample(): PressureLevel {
    const heap = this.inputs.heap();
    this.heapRatio = heap.limit > 0 ? heap.used / heap.limit : 0;
    return this.update();
  }

  /** Recomputes the level from the connection count and the last heap sample. */
  update(): PressureLevel {
    const connRatio =
      this.inputs.maxConnections > 0 ? this.inputs.connections() / this.inputs.maxConnections : 0;
    this.lastRatio = Math.max(connRatio, this.heapRatio);
    const next = levelFor(this.lastRatio);
    if (next !== this.current) {
      const previous = this.current;
      this.current = next;
      this.telemetry.pressure(previous, next, this.lastRatio);
    }
    return next;
  }
}
