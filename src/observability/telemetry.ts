/**
 * The Telemetry port implemented with metrics and structured logs: every admission outcome, close
 * code, zombie removal and pressure change is both a counter and a log line carrying `user`,
 * `session` and `conn`.
 */
import type { Logger } from 'pino';
import type { Identity } from '../core/identity.js';
import type { Telemetry } from '../core/telemetry.js';
import type { SocketGuardReport } from '../transports/socket-guard.js';
import { diagnostics } from './diagnostics.js';
import { LogSampler } from './log-sampler.js';
import { closeCodeLabel, type GatewayMetrics } from './metrics.js';

function ids(identity: Identity): { user: string; session: string; conn: string; ip: string } {
  return { user: identity.user, session: identity.session, conn: identity.conn, ip: identity.ip };
}

/**
 * Lines per second written for each kind of refusal, refused frame and failure; the rest are
 * counted in metrics and summed up on the next line written (`suppressed`).
 */
export const SAMPLED_LINES_PER_SECOND = 10;

/** The core's telemetry plus what the socket guard of an attached server reports. */
export type ObservedTelemetry = Telemetry & SocketGuardReport;

/** Builds the Telemetry that feeds `metrics` and `logger`; `now` times the log sampling. */
export function observedTelemetry(
  metrics: GatewayMetrics,
  logger: Logger,
  now: () => number = Date.now,
): ObservedTelemetry {
  // Per-connection lines are built only when their level is on: accept and close are the hot path.
  const on = (level: 'debug' | 'info') => logger.isLevelEnabled(level);
  // What a peer can cause at will is sampled; what the gateway decides on its own is not.
  const sampler = new LogSampler(SAMPLED_LINES_PER_SECOND, now);
  const sampled = (kind: string): { suppressed?: number } | null => {
    const suppressed = sampler.take(kind);
    if (suppressed === null) return null;
    return suppressed > 0 ? { suppressed } : {};
  };
  const failure: Telemetry['failure'] = (where, error, identity) => {
    metrics.failures.inc({ where });
    const sample = sampled(`failure:${where}`);
    if (sample)
      logger.error({ ...(identity ? ids(identity) : {}), err: error, ...sample }, `${where} failed`);
  };
  return {
    admission(outcome, subject) {
      metrics.admissions.inc({ outcome });
      if (outcome === 'admitted') {
        if (on('debug')) logger.debug({ ...subject, outcome }, 'admitted');
        return;
      }
      if (!on('info')) return;
      const sample = sampled(`refused:${outcome}`);
      if (sample) logger.info({ ...subject, outcome, ...sample }, `upgrade refused: ${outcome}`);
    },
    opened(identity, resumed) {
      if (!on('info')) return;
      logger.info(
        { ...ids(identity), resumed },
        resumed ? 'connection resumed its session' : 'connection opened',
      );
    },
    closed(identity, code, cleanupMs) {
      if (diagnostics.connectionClose.hasSubscribers) {
        diagnostics.connectionClose.publish({ identity, code, cleanupMs });
      }
      metrics.closes.inc({ code: closeCodeLabel(code) });
      metrics.cleanup.observe(cleanupMs / 1000);
      if (on('info')) logger.info({ ...ids(identity), code, cleanupMs }, 'connection closed');
    },
    zombie(identity, via) {
      metrics.zombies.inc({ via });
      if (via === 'heartbeat') metrics.heartbeatTimeouts.inc();
      logger.warn({ ...ids(identity), via }, 'zombie connection removed');
    },
    evicted(identity, reason) {
      metrics.evictions.inc({ reason });
      logger.warn({ ...ids(identity), reason }, 'connection evicted');
    },
    inboundRejected(identity, reason) {
      metrics.inboundRejected.inc({ reason });
      if (!on('info')) return;
      const sample = sampled(`inbound:${reason}`);
      if (sample) logger.info({ ...ids(identity), reason, ...sample }, `inbound frame refused: ${reason}`);
    },
    replayed(identity, count) {
      metrics.replayed.inc(count);
      if (on('debug')) logger.debug({ ...ids(identity), count }, 'replayed missed messages');
    },
    throughput(direction, messages, chars) {
      // Plain numbers, copied into the counters at scrape time: this runs once per message.
      const total = metrics.throughput[direction];
      total.messages += messages;
      total.chars += chars;
    },
    resumeFailed(identity, reason) {
      metrics.resumeFailures.inc({ reason });
      logger.info({ ...ids(identity), reason }, 'resume could not replay the gap');
    },
    pressure(from, to, ratio) {
      const line = { from, to, ratio: Math.round(ratio * 1000) / 1000 };
      if (to === 'ok') logger.info(line, `pressure ${from} -> ${to}`);
      else logger.warn(line, `pressure ${from} -> ${to}`);
    },
    sessionEnded(user, session, reason) {
      if (on('debug')) logger.debug({ user, session, reason }, 'session ended');
    },
    engineDegraded(degraded) {
      if (degraded) logger.warn('engine degraded: Redis is unreachable, admission uses this node only');
      else logger.info('engine recovered: leases registered again, cluster limits apply');
    },
    refused(reason, ip) {
      metrics.socketsRefused.inc({ reason });
      const sample = sampled(`socket:${reason}`);
      if (sample) logger.warn({ ip, reason, ...sample }, `accept pressure: socket refused (${reason})`);
    },
    error(error) {
      failure('http server', error);
    },
    failure,
  };
}
