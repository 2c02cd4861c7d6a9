/**
 * Options of the Redis engine, checked when the engine is built so that a typo fails at start with
 * an error naming the option, not at the first admission.
 */
import { z } from 'zod';
import { SockwardenError } from '../errors.js';

/** Options of {@link redisEngine}. */
export interface RedisEngineOptions {
  /** `redis://host:port/db`. */
  url: string;
  /** How long a lease lives without a refresh (default 15 s). */
  leaseTtlMs?: number;
  /** Prefix of every key this engine writes (default `sockwarden:`). */
  keyPrefix?: string;
  /** Longest wait for one Redis command before admission falls back to local limits (default 1 s). */
  commandTimeoutMs?: number;
  /** While Redis is unreachable: admit on this node's limits (true, the default) or refuse. */
  failOpen?: boolean;
  /**
   * Longest wait for the node holding a session to hand it over on a resume elsewhere, before its
   * frames are read from Redis anyway (default twice the command timeout).
   */
  handOverWaitMs?: number;
  /** Connections across the whole cluster (0, the default: no cap beyond each node's own). */
  maxConnections?: number;
}

/** Default lease TTL: long enough to ride out a refresh missed under load, short enough to recover a dead node's slots. */
export const DEFAULT_LEASE_TTL_MS = 15_000;

const schema = z.strictObject({
  url: z.string().refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be a redis:// or rediss:// URL with a host'),
  leaseTtlMs: z.number().int().min(1_000).optional(),
  keyPrefix: z.string().min(1).optional(),
  commandTimeoutMs: z.number().int().positive().optional(),
  failOpen: z.boolean().optional(),
  handOverWaitMs: z.number().int().positive().optional(),
  maxConnections: z.number().int().min(0).optional(),
});

/** Throws `invalid_config` naming every wrong option of {@link RedisEngineOptions}. */
export function checkRedisEngineOptions(options: unknown): asserts options is RedisEngineOptions {
  const parsed = schema.safeParse(options);
  if (parsed.success) return;
  const problems = parsed.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return `redisEngine: unknown option ${issue.keys.join(', ')}`;
    let got: unknown = options;
    for (const key of issue.path)
      got = (got as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey];
    return `redisEngine option '${issue.path.join('.')}': ${issue.message} (got ${JSON.stringify(got)})`;
  });
  throw new SockwardenError('invalid_config', problems.join('; '), {
    field: parsed.error.issues[0]?.path.join('.'),
  });
}
