/**
 * Where `serve` writes its logs: stderr, through a buffer bounded in bytes. A log reader that stalls
 * (a full pipe, a stuck collector) would otherwise make every line wait in memory, and a burst of
 * lines (thousands of refusals a second) grow the process without bound. Past the bound, lines are
 * dropped and counted; once the reader catches up, one line says how many were lost.
 */
import type { Logger } from 'pino';
import { pino } from 'pino';

/** Bytes of log lines that may wait for a slow reader. */
export const LOG_BUFFER_BYTES = 4 * 1024 * 1024;

/** A bounded destination and what it lost. */
export interface BoundedLogDestination {
  readonly stream: pino.DestinationStream;
  /** Lines dropped since the last report. */
  readonly dropped: number;
  /** Logs, through `logger`, how many lines were dropped whenever the reader catches up again. */
  reportDropsTo(logger: Logger): void;
}

/** Opens the bounded destination on a file descriptor (stderr by default). */
export function boundedLogDestination(fd = 2, maxBytes = LOG_BUFFER_BYTES): BoundedLogDestination {
  const stream = pino.destination({ dest: fd, sync: false, minLength: 0, maxLength: maxBytes });
  let dropped = 0;
  stream.on('drop', () => {
    dropped++;
  });
  return {
    stream,
    get dropped() {
      return dropped;
    },
    reportDropsTo(logger) {
      stream.on('drain', () => {
        if (dropped === 0) return;
        const lost = dropped;
        dropped = 0;
        logger.warn({ dropped: lost }, 'log reader too slow: lines were dropped');
      });
    },
  };
}
