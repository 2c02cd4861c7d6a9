/**
 * Reads `sockwarden serve` configuration from flags, environment and a JSON file, in that order
 * of precedence, into one validated whole. Any wrong value stops everything with an error that
 * names the flag, its environment variable and its file key.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SockwardenError } from '../errors.js';
import type { TunableOptions } from '../options.js';
import { type MetricsAccess, MIN_API_KEY_LENGTH } from '../server/api-access.js';
import { parseTrustProxyText, trustProxyProblem } from '../transports/client-address.js';
import { checkValue, closestName } from './serve-checks.js';
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
  /** A JSON Web Key Set file (`--jwks-file`). */
  jwksFile: string | undefined;
  /** A JSON Web Key Set URL (`--jwks-url`), fetched on demand and cached. */
  jwksUrl: string | undefined;
  /** Accepted `iss` claims; empty accepts any. */
  jwtIssuer: string[];
  /** Accepted `aud` claims; empty accepts any. */
  jwtAudience: string[];
  /** Refuse tokens without `exp`. */
  jwtRequireExp: boolean;
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

/**
 * The error of a wrong value. It names where the value came from first, then all three spellings of
 * the flag, as the README promises, so a user finds it whichever source they used.
 */
function invalid(flag: FlagSpec, source: string, message: string): SockwardenError {
  const all = describeFlag(flag);
  const text = source === all ? `${all}: ${message}` : `${source}: ${message} [${all}]`;
  return new SockwardenError('invalid_config', text, { field: flag.name });
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
    return checked(flag, source, value);
  }
  if (flag.kind === 'number') {
    const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    // 0 passes here: the option's schema refuses it where 0 does not mean off.
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      throw invalid(flag, source, `must be a non-negative number (got ${shown})`);
    return value;
  }
  if (flag.kind === 'list') {
    if (Array.isArray(raw) && raw.every((v) => typeof v === 'string')) return checked(flag, source, raw);
    if (typeof raw === 'string')
      return checked(
        flag,
        source,
        raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      );
    throw invalid(flag, source, `must be a comma-separated list of strings (got ${shown})`);
  }
  if (typeof raw !== 'string' || raw.length === 0)
    throw invalid(flag, source, `must be a non-empty string (got ${shown})`);
  if (flag.kind === 'policy' && !POLICIES.includes(raw))
    throw invalid(flag, source, `must be one of ${POLICIES.join(', ')} (got ${shown})`);
  if (flag.choices && !flag.choices.includes(raw))
    throw invalid(flag, source, `must be one of ${flag.choices.join(', ')} (got ${shown})`);
  return checked(flag, source, raw);
}

/** Applies the flag's own check (serve-checks.ts) to a value of the right kind. */
function checked<T>(flag: FlagSpec, source: string, value: T): T {
  const wrong = checkValue(flag.name, value);
  if (wrong !== undefined) throw invalid(flag, source, wrong);
  return value;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw invalid(flagNamed('config'), '--config', `cannot read ${file}: ${(cause as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw invalid(flagNamed('config'), '--config', `${file} is not valid JSON: ${(cause as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(flagNamed('config'), '--config', `${file} must hold a JSON object`);
  }
  const byKey = new Map(FLAGS.map((f) => [camelCase(f.name), f]));
  // An unknown key is an error, not a warning: a file is written on purpose, and a typo in it
  // (say "maxConections") would otherwise leave the default in force without anyone noticing.
  const known = [...byKey.keys()].filter((k) => k !== 'config');
  for (const key of Object.keys(value)) {
    if (!byKey.has(key) || key === 'config') {
      const near = closestName(key, known);
      throw new SockwardenError(
        'invalid_config',
        `--config: unknown key "${key}" in ${file}${near ? `; did you mean "${near}"?` : ''} Known keys: ${known.join(', ')}`,
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

/** Writes a configuration warning to stderr, before the logger exists. */
function warnOnStderr(message: string): void {
  // Workers read the same environment as their primary, which has warned already.
  if (!cluster.isWorker) process.stderr.write(`sockwarden: warning: ${message}\n`);
}

/** Variables of the test suite and tooling, not of `serve`: no warning for them. */
const OTHER_VARIABLES = new Set([
  'SOCKWARDEN_REQUIRE_REDIS',
  'SOCKWARDEN_REQUIRE_BROWSER',
  'SOCKWARDEN_REQUIRE_PROMTOOL',
]);

/**
 * Warns about each `SOCKWARDEN_*` variable that is no flag's, naming the closest one. Only a warning:
 * an environment is shared with other tools, but a misspelt variable silently left a default in force.
 */
function warnUnknownEnv(env: NodeJS.ProcessEnv, warn: (message: string) => void): void {
  const known = FLAGS.map((f) => envName(f.name));
  for (const name of Object.keys(env)) {
    if (!name.startsWith('SOCKWARDEN_') || known.includes(name) || OTHER_VARIABLES.has(name)) continue;
    const near = closestName(name, known);
    warn(`unknown environment variable ${name} is ignored${near ? `; did you mean ${near}?` : ''}`);
  }
}

/** A parseArgs error in `serve` terms: an unknown flag gets the closest known one, a known one its three names. */
function argumentError(cause: Error): SockwardenError {
  const named = /'(--?[^'=]+)/.exec(cause.message)?.[1];
  const flag = FLAGS.find((f) => `--${f.name}` === named);
  let hint = '';
  if (flag) hint = ` [${describeFlag(flag)}]`;
  else if (named?.startsWith('--')) {
    const near = closestName(
      named.slice(2),
      FLAGS.map((f) => f.name),
    );
    if (near) hint = `; did you mean --${near}?`;
  }
  return new SockwardenError('invalid_config', `${cause.message}${hint}; see sockwarden serve --help`, {
    cause,
    ...(flag ? { field: flag.name } : {}),
  });
}

/**
 * Parses argv (after `serve`) and the environment into a {@link ServeConfig}; throws `invalid_config`.
 * Unknown `SOCKWARDEN_*` variables are reported through `warn` (stderr by default).
 */
export function readServeConfig(
  argv: string[],
  env: NodeJS.ProcessEnv,
  warn: (message: string) => void = warnOnStderr,
): ServeConfig {
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
    throw argumentError(cause as Error);
  }
  warnUnknownEnv(env, warn);
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
  const auth = readAuth(values);
  return {
    ...auth,
    host: text('host') ?? '127.0.0.1',
    port: (values.get('port') as number | undefined) ?? 8080,
    path: text('path') ?? '/ws',
    tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined,
    shutdownDelayMs: (values.get('shutdown-delay') as number | undefined) ?? 5_000,
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

/** The authentication part of {@link ServeConfig}. */
type AuthConfig = Pick<
  ServeConfig,
  | 'insecure'
  | 'jwtSecret'
  | 'jwtPublicKeyFile'
  | 'jwksFile'
  | 'jwksUrl'
  | 'jwtIssuer'
  | 'jwtAudience'
  | 'jwtRequireExp'
>;

const flagNamed = (name: string) => FLAGS.find((f) => f.name === name) as FlagSpec;

/**
 * Reads and cross-checks the authentication flags: one key source at most, none with --insecure
 * (which would otherwise silently win over a JWT setting the operator believed in force), and the
 * secret file's contents, which the process list then never shows.
 */
function readAuth(values: Map<string, unknown>): AuthConfig {
  const has = (name: string) => values.has(name);
  const text = (name: string) => values.get(name) as string | undefined;
  const sources = ['jwt-secret', 'jwt-secret-file', 'jwt-public-key', 'jwks-file', 'jwks-url'].filter(has);
  if (sources.length > 1) {
    throw invalid(
      flagNamed(sources[1] as string),
      `--${sources[1]}`,
      `cannot be combined with --${sources[0]}: pass one source of JWT keys`,
    );
  }
  const insecure = (values.get('insecure') as boolean | undefined) ?? false;
  const jwtChecks = ['jwt-issuer', 'jwt-audience', 'jwt-require-exp'].filter(
    (name) => has(name) && values.get(name) !== false,
  );
  const withInsecure = [...sources, ...jwtChecks][0];
  if (insecure && withInsecure !== undefined) {
    throw invalid(
      flagNamed(withInsecure),
      `--${withInsecure}`,
      'cannot be combined with --insecure: --insecure takes the user from ?user= and ignores tokens, so this JWT setting would not apply',
    );
  }
  let jwtSecret = text('jwt-secret');
  const secretFile = text('jwt-secret-file');
  if (secretFile !== undefined) {
    const fileFlag = flagNamed('jwt-secret-file');
    // One trailing newline is what `echo` and editors leave; it is not part of the secret.
    jwtSecret = readFileSync(secretFile, 'utf8').replace(/\r?\n$/, '');
    const wrong = checkValue('jwt-secret', jwtSecret);
    if (wrong !== undefined) throw invalid(fileFlag, describeFlag(fileFlag), `${secretFile}: ${wrong}`);
  }
  return {
    insecure,
    jwtSecret,
    jwtPublicKeyFile: text('jwt-public-key'),
    jwksFile: text('jwks-file'),
    jwksUrl: text('jwks-url'),
    jwtIssuer: (values.get('jwt-issuer') as string[] | undefined) ?? [],
    jwtAudience: (values.get('jwt-audience') as string[] | undefined) ?? [],
    jwtRequireExp: (values.get('jwt-require-exp') as boolean | undefined) ?? false,
  };
}
