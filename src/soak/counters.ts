/**
 * What one load process counts during a soak. Every process keeps its own, and the orchestrator adds
 * them up, so the figures stay exact however many processes share the load.
 */

/** Peer kinds a load process opens. */
export type PeerKind = 'normal' | 'zombie' | 'silent' | 'slow';

/** Counters of one load process (or of the whole run once merged). */
export interface SoakCounters {
  /** Handshakes completed, by kind (`stopped`: sockets of the frozen child processes). */
  opened: Record<PeerKind | 'stopped', number>;
  /** Upgrades refused with an HTTP status, by status. */
  refused: Record<string, number>;
  /** Connects that failed without an HTTP answer (reset, timeout). */
  failed: number;
  /** How connections ended: clean, abrupt, dropped to resume, or closed by the server with a code. */
  ended: { clean: number; abrupt: number; droppedToResume: number; byServer: Record<string, number> };
  /** Connections open right now. */
  open: number;
  /** Detection times in ms, from the peer turning faulty to the server cutting it. */
  detectionMs: Record<'zombie' | 'silent' | 'slow' | 'stopped', number[]>;
  /** Faulty peers the server had not cut when the run ended. */
  undetected: Record<'zombie' | 'silent' | 'slow' | 'stopped', number>;
  resume: { passed: number; failed: number; failures: Record<string, number> };
  messages: {
    /** Publishes the server acknowledged (delivered or queued for resume). */
    acknowledged: number;
    /** Publishes the server answered with no session to take them. */
    notAccepted: number;
    /** Publishes skipped because too many were in flight. */
    skipped: number;
    /** Publishes that failed (HTTP error or network). */
    publishErrors: number;
    received: number;
    /** Acknowledged, owed to a client that stayed or resumed, and never received. */
    lost: number;
    /** Received twice (by sequence number). */
    duplicated: number;
    /** A sequence number skipped without the server saying the gap was lost. */
    gaps: number;
    /** Owed to a client that went away for good (terminate without resume): not a loss. */
    abandoned: number;
  };
  /** Error messages with their counts, capped to the first few kinds. */
  errors: Record<string, number>;
}

/** Fresh zeroed counters. */
export function emptyCounters(): SoakCounters {
  return {
    opened: { normal: 0, zombie: 0, silent: 0, slow: 0, stopped: 0 },
    refused: {},
    failed: 0,
    ended: { clean: 0, abrupt: 0, droppedToResume: 0, byServer: {} },
    open: 0,
    detectionMs: { zombie: [], silent: [], slow: [], stopped: [] },
    undetected: { zombie: 0, silent: 0, slow: 0, stopped: 0 },
    resume: { passed: 0, failed: 0, failures: {} },
    messages: {
      acknowledged: 0,
      notAccepted: 0,
      skipped: 0,
      publishErrors: 0,
      received: 0,
      lost: 0,
      duplicated: 0,
      gaps: 0,
      abandoned: 0,
    },
    errors: {},
  };
}

/** Adds one to `key` of a count map. */
export function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

/** Records an error message, keeping at most 20 distinct ones. */
export function recordError(counters: SoakCounters, message: string): void {
  if (message in counters.errors || Object.keys(counters.errors).length < 20) bump(counters.errors, message);
}

function addInto(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    if (typeof value === 'number') target[key] = ((target[key] as number | undefined) ?? 0) + value;
    else if (Array.isArray(value)) target[key] = [...((target[key] as number[] | undefined) ?? []), ...value];
    else if (value && typeof value === 'object') {
      target[key] ??= {};
      addInto(target[key] as Record<string, unknown>, value as Record<string, unknown>);
    }
  }
}

/** Sums counters from several processes. */
export function mergeCounters(parts: SoakCounters[]): SoakCounters {
  const total = emptyCounters();
  for (const part of parts)
    addInto(total as unknown as Record<string, unknown>, part as unknown as Record<string, unknown>);
  return total;
}
