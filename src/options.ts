/**
 * Gateway options: defaults, validation with zod, and the frozen resolved config. Every limit has
 * a default here, a config key, and (in the server) a flag and an environment variable. Errors
 * name the option and what it accepts, and nothing is applied when any option is wrong.
 */
import { z } from 'zod';
import type { CoreConfig } from './core/config.js';
import { SockwardenError } from './errors.js';
import { DEFAULT_IPV6_PREFIX, type TrustProxy, trustProxyProblem } from './transports/client-address.js';

const count = z.number().int().nonnegative();
const positive = z.number().int().positive();
const rate = z.strictObject({ perSecond: z.number().positive(), burst: positive });
/** A per-IP rate, where 0 (either figure) turns the limit off, as 0 does for other limits. */
const ipRate = z.strictObject({ perSecond: z.number().nonnegative(), burst: count });
/**
 * Off by default: a forwarding header is believed only from a peer the operator names. One check
 * gives one message that says what is accepted, rather than a union's message per branch.
 */
const trustProxy = z
  .custom<false | number | readonly string[]>((value) => trustProxyProblem(value) === undefined, {
    error: (issue) => trustProxyProblem(issue.input),
  })
  .transform((value): TrustProxy => (value === false ? [] : value))
  .default([]);

/** Schema of every tunable option with its default. */
export const optionsSchema = z.strictObject({
  maxConnections: positive.default(10_000),
  maxConnectionsPerUser: positive.default(10),
  maxConnectionsPerIp: count.default(1_000),
  maxSessionsPerUser: positive.default(20),
  maxSockets: count.optional(),
  maxSocketsPerIp: count.optional(),
  perUserPolicy: z.enum(['reject', 'evict-oldest', 'queue']).default('reject'),
  queueTimeoutMs: positive.default(5_000),
  maxQueuedUpgrades: count.default(1_000),
  maxQueuedUpgradesPerUser: count.default(10),
  probeTimeoutMs: positive.default(1_000),
  connectRatePerIp: ipRate.default({ perSecond: 20, burst: 40 }),
  trustProxy,
  ipv6PrefixLength: z.number().int().min(1).max(128).default(DEFAULT_IPV6_PREFIX),
  maxPayloadBytes: positive.default(64 * 1024),
  inboundRatePerConnection: rate.default({ perSecond: 50, burst: 100 }),
  maxViolations: positive.default(10),
  maxBufferedBytes: positive.default(1024 * 1024),
  highWaterMarkBytes: positive.default(64 * 1024),
  replay: z
    .strictObject({ maxMessages: count.default(1_000), maxBytes: count.default(1024 * 1024) })
    .default({ maxMessages: 1_000, maxBytes: 1024 * 1024 }),
  resumeWindowMs: count.default(30_000),
  heartbeatIntervalMs: positive.default(25_000),
  pongTimeoutMs: positive.default(10_000),
  idleTimeoutMs: count.default(300_000),
  warningBeforeCloseMs: count.default(30_000),
  maxLifetimeMs: count.default(0),
  drainTimeoutMs: count.default(10_000),
  closeTimeoutMs: positive.default(5_000),
  timerTickMs: z.number().int().min(10).max(5_000).default(50),
  allowedOrigins: z.array(z.string().min(1)).default([]),
  heapLimitBytes: count.default(0),
  governor: z
    .strictObject({
      maxConcurrent: positive.default(64),
      maxQueued: count.default(256),
      perSessionConcurrent: positive.default(1),
      perSessionQueued: count.default(4),
      ratePerSecond: z.number().positive().default(50),
      rateBurst: positive.default(50),
      maxAttempts: z.number().int().min(1).max(10).default(3),
      retryBudgetMs: positive.default(30_000),
      backoffBaseMs: positive.default(250),
      backoffCapMs: positive.default(10_000),
      attemptTimeoutMs: positive.default(30_000),
      breakerConsecutiveFailures: positive.default(5),
      breakerFailureRatio: z.number().gt(0).max(1).default(0.5),
      breakerWindowMs: positive.default(10_000),
      breakerMinimumRequests: positive.default(10),
      breakerHalfOpenAfterMs: positive.default(5_000),
    })
    .prefault({}),
});

/** Resolved upstream-governor options (flat, so each has one flag and one env variable). */
export type GovernorOptions = z.output<typeof optionsSchema>['governor'];

/**
 * Caps on the raw sockets of a server the gateway is attached to, before any HTTP byte is read.
 * Unset, each follows the connection limit it guards (see {@link socketLimitsOf}); 0 turns it off.
 */
export interface SocketOptions {
  readonly maxSockets?: number;
  readonly maxSocketsPerIp?: number;
}

/** Where client addresses come from, and how they are grouped for per-IP limits. */
export interface AddressOptions {
  /** Peers whose `X-Forwarded-For` / `Forwarded` is believed: CIDRs or a hop count; `[]` is off. */
  readonly trustProxy: TrustProxy;
  /** IPv6 addresses sharing this many leading bits count as one address for per-IP limits. */
  readonly ipv6PrefixLength: number;
}

/** The resolved configuration: the core's limits plus the governor's, the sockets' and the addresses'. */
export type ResolvedConfig = CoreConfig &
  SocketOptions &
  AddressOptions & { readonly governor: Readonly<GovernorOptions> };

/** Sockets beyond the connection limits left for health checks, the API and upgrades in flight. */
const SOCKET_HEADROOM = 1_024;
/** Sockets of one IP beyond its connection limit, for its API calls and upgrades in flight. */
const SOCKET_HEADROOM_PER_IP = 64;

/**
 * The socket caps of a resolved config: set ones as they are, unset ones from the connection limits
 * (off when the per-IP connection limit is off: 64 sockets would then be the tightest per-IP cap).
 */
export function socketLimitsOf(config: ResolvedConfig): { maxSockets: number; maxSocketsPerIp: number } {
  const perIpDefault =
    config.maxConnectionsPerIp === 0 ? 0 : config.maxConnectionsPerIp + SOCKET_HEADROOM_PER_IP;
  return {
    maxSockets: config.maxSockets ?? config.maxConnections + SOCKET_HEADROOM,
    maxSocketsPerIp: config.maxSocketsPerIp ?? perIpDefault,
  };
}

/** Tunable options as a user writes them: every key optional. */
export type TunableOptions = z.input<typeof optionsSchema>;

/** Default value of every tunable option. */
export const DEFAULTS: ResolvedConfig = Object.freeze(optionsSchema.parse({}));

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const path = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const known = Object.keys(optionsSchema.shape).join(', ');
    return `unknown option ${issue.keys.map((k) => `'${[...issue.path, k].join('.')}'`).join(', ')}; known options: ${known}`;
  }
  let got: unknown = input;
  for (const key of issue.path) got = (got as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey];
  const shown = JSON.stringify(got) ?? String(got);
  if (issue.code === 'invalid_value') {
    return `option '${path}' must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')} (got ${shown})`;
  }
  return `option '${path}': ${issue.message} (got ${shown})`;
}

/**
 * Validates options and returns the frozen resolved config. Throws a `SockwardenError` with code
 * `invalid_config` whose message names every wrong option and what it accepts.
 */
export function resolveOptions(input: unknown): ResolvedConfig {
  const parsed = optionsSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => describeIssue(issue, input));
    const first = parsed.error.issues[0];
    throw new SockwardenError('invalid_config', problems.join('; '), {
      field: first ? first.path.join('.') : undefined,
    });
  }
  const config = parsed.data;
  const crossChecks: Array<[boolean, string, string]> = [
    [
      config.highWaterMarkBytes > config.maxBufferedBytes,
      'highWaterMarkBytes',
      `option 'highWaterMarkBytes' (${config.highWaterMarkBytes}) must not exceed 'maxBufferedBytes' (${config.maxBufferedBytes})`,
    ],
    [
      config.governor.backoffCapMs < config.governor.backoffBaseMs,
      'governor.backoffCapMs',
      `option 'governor.backoffCapMs' (${config.governor.backoffCapMs}) must not be below 'governor.backoffBaseMs' (${config.governor.backoffBaseMs})`,
    ],
    [
      config.pongTimeoutMs >= config.heartbeatIntervalMs,
      'pongTimeoutMs',
      `option 'pongTimeoutMs' (${config.pongTimeoutMs}) must be less than 'heartbeatIntervalMs' (${config.heartbeatIntervalMs})`,
    ],
  ];
  for (const [bad, field, message] of crossChecks) {
    if (bad) throw new SockwardenError('invalid_config', message, { field });
  }
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
