/**
 * Reads `sockwarden serve` configuration from flags, environment and a JSON file, in that order
 * of precedence, into one validated whole. Any wrong value stops everything with an error that
 * names the flag, its environment variable and its file key.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SockwardenError } from '../errors.js';
import type { TunableOptions } from '../options.js';
import { type MetricsAccess, MIN_API_KEY_LENGTH } from '../server/api-access.js';
import { parseTrustProxyText, trustProxyProblem } from '../transports/client-address.js';
import { camelCase, envName, FLAGS, type FlagSpec } from './serve-flags.js';

/** Everything `serve` needs, validated. */
export interface ServeConfig {
  host: string;
  port: number;
  path: string;
  /** `--tls-cert` and `--tls-key`, both or neither: with them, the port serves https and wss. */
  tls: { certFile: string; keyFile: string } | undefined;
  /** `--shutdown-delay`: on SIGTERM, how long the node stays unready with its sockets open (ms). */
  shutdownDelayMs: number;
  insecure: boolean;
  jwtSecret: string | undefined;
  jwtPublicKeyFile: string | undefined;
  apiKey: string | undefined;
  /** Who may scrape `/metrics`. */
  metricsAuth: MetricsAccess;
  backendUrl: string | undefined;
  backendSecret: string | undefined;
  backendEvents: Array<'connect' | 'disconnect'>;
  demo: boolean;
  logLevel: string;
  /** Redis URL of the cluster, or undefined for one node on the memory engine. */
  redis: string | undefined;
  redisFail: 'open' | 'closed';
  redisPrefix: string;
  redisLeaseTtlMs: number;
  redisMaxConnections: number;
  workers: number;
  options: TunableOptions;
}

const POLICIES = ['reject', 'evict-oldest', 'queue'];

function invalid(flag: FlagSpec, source: string, message: string): SockwardenError {
  return new SockwardenError('invalid_config', `${source}: ${message}`, { field: flag.name });
}

/** Names a flag in all three of its spellings, for error messages. */
export function describeFlag(flag: FlagSpec): string {
  return `--${flag.name} (env ${envName(flag.name)}, config key "${camelCase(flag.name)}")`;
}

/** `--trust-proxy`: text from a flag or the environment, or a number, list or false from a file. */
function trustProxyValue(flag: FlagSpec, raw: unknown, source: string): unknown {
  if (typeof raw === 'string') {
    const parsed = parseTrustProxyText(raw);
    if ('value' in parsed) return parsed.value;
    throw invalid(
      flag,
      `${describeFlag(flag)} from ${source}`,
      `${parsed.problem} (got ${JSON.stringify(raw)})`,
    );
  }
  const problem = trustProxyProblem(raw);
  if (problem !== undefined)
    throw invalid(flag, `${describeFlag(flag)} from ${source}`, `${problem} (got ${JSON.stringify(raw)})`);
  return raw === false ? [] : raw;
}

function convert(flag: FlagSpec, raw: unknown, source: string): unknown {
  const shown = JSON.stringify(raw);
  if (flag.name === 'trust-proxy') return trustProxyValue(flag, raw, source);
  if (flag.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw invalid(flag, source, `must be true or false (got ${shown})`);
  }
  if (flag.kind === 'integer') {
    const value = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw invalid(flag, source, `must be a non-negative integer (got ${shown})`);
    }
    return value;
  }
  if (flag.kind === 'number') {
    const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    // 0 passes here: the option's schema refuses it where 0 does not mean off.
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      throw invalid(flag, source, `must be a non-negative number (got ${shown})`);
    return value;
  }
  if (flag.kind === 'list') {
    if (Array.isArray(raw) && raw.every((v) => typeof v === 'string')) return raw;
    if (typeof raw === 'string')
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    throw invalid(flag, source, `must be a comma-separated list of strings (got ${shown})`);
  }
  if (typeof raw !== 'string' || raw.length === 0)
    throw invalid(flag, source, `must be a non-empty string (got ${shown})`);
  if (flag.kind === 'policy' && !POLICIES.includes(raw))
    throw invalid(flag, source, `must be one of ${POLICIES.join(', ')} (got ${shown})`);
  if (flag.choices && !flag.choices.includes(raw))
    throw invalid(flag, source, `must be one of ${flag.choices.join(', ')} (got ${shown})`);
  if (flag.name === 'redis') checkRedisUrl(flag, source, raw);
  return raw;
}

function checkRedisUrl(flag: FlagSpec, source: string, raw: string): void {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw invalid(
      flag,
      source,
      `must be a redis:// or rediss:// URL with a host (got ${JSON.stringify(raw)})`,
    );
  }
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new SockwardenError(
      'invalid_config',
      `--config: cannot read ${file}: ${(cause as Error).message}`,
      { field: 'config', cause },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new SockwardenError(
      'invalid_config',
      `--config: ${file} is not valid JSON: ${(cause as Error).message}`,
      { field: 'config', cause },
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SockwardenError('invalid_config', `--config: ${file} must hold a JSON object`, {
      field: 'config',
    });
  }
  const byKey = new Map(FLAGS.map((f) => [camelCase(f.name), f]));
  for (const key of Object.keys(value)) {
    if (!byKey.has(key) || key === 'config') {
      throw new SockwardenError(
        'invalid_config',
        `--config: unknown key "${key}" in ${file}; known keys: ${[...byKey.keys()].filter((k) => k !== 'config').join(', ')}`,
        { field: key },
      );
    }
  }
  return value as Record<string, unknown>;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

/** Parses argv (after `serve`) and the environment into a {@link ServeConfig}; throws `invalid_config`. */
export function readServeConfig(argv: string[], env: NodeJS.ProcessEnv): ServeConfig {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        FLAGS.map((f) => [f.name, { type: f.kind === 'boolean' ? 'boolean' : 'string' }]),
      ),
    });
  } catch (cause) {
    throw new SockwardenError('invalid_config', `${(cause as Error).message}; see sockwarden serve --help`, {
      cause,
    });
  }
  const flagValues = parsed.values as Record<string, unknown>;
  const configFlag = FLAGS.find((f) => f.name === 'config') as FlagSpec;
  const configFile = flagValues.config ?? env[envName('config')];
  const file =
    configFile === undefined ? {} : readConfigFile(String(convert(configFlag, configFile, '--config')));
  const values = new Map<string, unknown>();
  for (const flag of FLAGS) {
    const fromFlag = flagValues[flag.name];
    const fromEnv = env[envName(flag.name)];
    const fromFile = file[camelCase(flag.name)];
    if (fromFlag !== undefined) values.set(flag.name, convert(flag, fromFlag, `--${flag.name}`));
    else if (fromEnv !== undefined) values.set(flag.name, convert(flag, fromEnv, envName(flag.name)));
    else if (fromFile !== undefined)
      values.set(flag.name, convert(flag, fromFile, `config key "${camelCase(flag.name)}"`));
  }
  const options: Record<string, unknown> = {};
  for (const flag of FLAGS) {
    if (flag.option !== undefined && values.has(flag.name))
      setPath(options, flag.option, values.get(flag.name));
  }
  const text = (name: string) => values.get(name) as string | undefined;
  const backendEvents = (values.get('backend-events') as string[] | undefined) ?? [];
  const eventsFlag = FLAGS.find((f) => f.name === 'backend-events') as FlagSpec;
  for (const event of backendEvents) {
    if (event !== 'connect' && event !== 'disconnect')
      throw invalid(
        eventsFlag,
        describeFlag(eventsFlag),
        `"${event}" is not an event; use connect, disconnect`,
      );
  }
  const workers = (values.get('workers') as number | undefined) ?? 1;
  const workersFlag = FLAGS.find((f) => f.name === 'workers') as FlagSpec;
  if (workers < 1) throw invalid(workersFlag, describeFlag(workersFlag), 'must be at least 1');
  const ttlFlag = FLAGS.find((f) => f.name === 'redis-lease-ttl') as FlagSpec;
  const ttl = values.get('redis-lease-ttl') as number | undefined;
  // Refreshed every third of it on the timer wheel: below 1 s the refresh would be most of the work.
  if (ttl !== undefined && ttl < 1_000)
    throw invalid(ttlFlag, describeFlag(ttlFlag), `must be at least 1000 ms (got ${ttl})`);
  const apiKeyFlag = FLAGS.find((f) => f.name === 'api-key') as FlagSpec;
  const apiKey = text('api-key');
  // Checked here, not in convert(): the message must not echo the value, which is a secret.
  if (apiKey !== undefined && apiKey.length < MIN_API_KEY_LENGTH)
    throw invalid(
      apiKeyFlag,
      describeFlag(apiKeyFlag),
      `must be at least ${MIN_API_KEY_LENGTH} characters (got ${apiKey.length}): a short key is guessed in seconds; generate one with \`openssl rand -hex 32\``,
    );
  const [certFile, keyFile] = [text('tls-cert'), text('tls-key')];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    const given = FLAGS.find((f) => f.name === (certFile === undefined ? 'tls-key' : 'tls-cert')) as FlagSpec;
    throw invalid(given, describeFlag(given), 'needs both --tls-cert and --tls-key, or neither');
  }
  if (workers > 1 && text('redis') === undefined) {
    throw invalid(
      workersFlag,
      describeFlag(workersFlag),
      `${workers} workers need --redis: without a shared Redis each worker would keep its own limits and sessions, so a user could hold ${workers} times the per-user limit and a resume would fail on every other worker`,
    );
  }
  return {
    host: text('host') ?? '127.0.0.1',
    port: (values.get('port') as number | undefined) ?? 8080,
    path: text('path') ?? '/ws',
    tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined,
    shutdownDelayMs: (values.get('shutdown-delay') as number | undefined) ?? 5_000,
    insecure: (values.get('insecure') as boolean | undefined) ?? false,
    jwtSecret: text('jwt-secret'),
    jwtPublicKeyFile: text('jwt-public-key'),
    apiKey,
    metricsAuth: (text('metrics-auth') as MetricsAccess | undefined) ?? 'open',
    backendUrl: text('backend-url'),
    backendSecret: text('backend-secret'),
    backendEvents: backendEvents as Array<'connect' | 'disconnect'>,
    demo: (values.get('demo') as boolean | undefined) ?? false,
    logLevel: text('log-level') ?? 'info',
    redis: text('redis'),
    redisFail: (text('redis-fail') as 'open' | 'closed' | undefined) ?? 'open',
    redisPrefix: text('redis-prefix') ?? 'sockwarden:',
    redisLeaseTtlMs: (values.get('redis-lease-ttl') as number | undefined) ?? 15_000,
    redisMaxConnections: (values.get('redis-max-connections') as number | undefined) ?? 0,
    workers,
    options: options as TunableOptions,
  };
}
