/**
 * The flags of `sockwarden serve`. One table gives each flag its environment variable
 * (`SOCKWARDEN_<UPPER_SNAKE>`), its config-file key (camelCase of the flag) and the gateway option
 * it sets, so the three sources can never drift apart. Precedence: flag > env > file > default.
 */
import { DEFAULTS } from '../options.js';

/** How a flag's text becomes a value. */
export type FlagKind = 'integer' | 'number' | 'string' | 'boolean' | 'list' | 'policy';

/** One flag of `sockwarden serve`. */
export interface FlagSpec {
  /** Kebab-case name, without the dashes. */
  name: string;
  kind: FlagKind;
  /** The gateway option it sets, as a dotted path; undefined for server-only flags. */
  option?: string;
  /** Shown in --help. */
  description: string;
  /** Default shown in --help; option defaults come from DEFAULTS. */
  defaultValue?: unknown;
  /** For a string flag: the only values it takes. */
  choices?: readonly string[];
}

const limit = (name: string, option: string, description: string): FlagSpec => ({
  name,
  kind: 'integer',
  option,
  description,
});

/** Every flag. */
export const FLAGS: readonly FlagSpec[] = [
  { name: 'host', kind: 'string', description: 'Address to listen on.', defaultValue: '127.0.0.1' },
  {
    name: 'port',
    kind: 'integer',
    description: 'Port to listen on; 0 picks a free port.',
    defaultValue: 8080,
  },
  { name: 'path', kind: 'string', description: 'WebSocket upgrade path.', defaultValue: '/ws' },
  {
    name: 'tls-cert',
    kind: 'string',
    description:
      'PEM certificate (chain) file: serve https and wss on the port. Needs --tls-key; both are read again on SIGHUP.',
  },
  { name: 'tls-key', kind: 'string', description: 'PEM private key file of --tls-cert.' },
  {
    name: 'shutdown-delay',
    kind: 'integer',
    description:
      'On SIGTERM, how long /readyz answers 503 and new upgrades are refused, sockets still open, before the drain starts (ms); 0 drains at once.',
    defaultValue: 5000,
  },
  { name: 'config', kind: 'string', description: 'JSON config file; keys are the camelCase flag names.' },
  {
    name: 'insecure',
    kind: 'boolean',
    description: 'Development only: user id from ?user=, no authentication.',
    defaultValue: false,
  },
  {
    name: 'jwt-secret',
    kind: 'string',
    description: 'HS256 secret for client JWTs (at least 16 characters).',
  },
  {
    name: 'jwt-public-key',
    kind: 'string',
    description: 'PEM file with an RSA (RS256) or EC (ES256) public key for client JWTs.',
  },
  {
    name: 'jwt-secret-file',
    kind: 'string',
    description: 'File holding the HS256 secret (trailing newline ignored), so it stays out of `ps`.',
  },
  {
    name: 'jwks-file',
    kind: 'string',
    description: 'JSON Web Key Set file ({"keys":[...]}) with the public keys of client JWTs.',
  },
  {
    name: 'jwks-url',
    kind: 'string',
    description: 'https:// URL of a JSON Web Key Set, fetched on demand and cached (10 min).',
  },
  {
    name: 'jwt-issuer',
    kind: 'list',
    description: 'Accepted "iss" claims, comma-separated; tokens from another issuer get 401.',
  },
  {
    name: 'jwt-audience',
    kind: 'list',
    description: 'Accepted "aud" claims, comma-separated; tokens for another audience get 401.',
  },
  {
    name: 'jwt-require-exp',
    kind: 'boolean',
    description: 'Refuse tokens without an "exp" claim (401).',
    defaultValue: false,
  },
  {
    name: 'api-key',
    kind: 'string',
    description:
      'Bearer key for /api and the dashboard, at least 16 characters; without it the API is closed (open on loopback with --insecure).',
  },
  {
    name: 'metrics-auth',
    kind: 'string',
    description: 'Who may scrape /metrics: open (anyone) or key (the API key, like /api).',
    defaultValue: 'open',
    choices: ['open', 'key'],
  },
  {
    name: 'backend-url',
    kind: 'string',
    description: 'POST client messages here and relay the replies (docs/backend.md).',
  },
  {
    name: 'backend-secret',
    kind: 'string',
    description: 'HMAC-SHA256 key that signs every request to the backend.',
  },
  {
    name: 'backend-events',
    kind: 'list',
    description: 'Also send these events to the backend: connect, disconnect.',
  },
  {
    name: 'demo',
    kind: 'boolean',
    description: 'Serve the demo chat at / with the built-in demo backend (unless --backend-url).',
    defaultValue: false,
  },
  {
    name: 'allowed-origins',
    kind: 'list',
    option: 'allowedOrigins',
    description: 'Comma-separated Origin allow-list; empty allows any.',
  },
  {
    name: 'log-level',
    kind: 'string',
    description: 'pino level: trace, debug, info, warn, error, fatal, silent.',
    defaultValue: 'info',
    choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
  },
  {
    name: 'redis',
    kind: 'string',
    description:
      'Redis URL (redis://host:port/db): limits, routing and resume across every node on it. Without it, this node alone.',
  },
  {
    name: 'redis-fail',
    kind: 'string',
    description: "While Redis is unreachable: open admits on this node's limits, closed refuses with 503.",
    defaultValue: 'open',
    choices: ['open', 'closed'],
  },
  {
    name: 'redis-prefix',
    kind: 'string',
    description: 'Prefix of every Redis key and channel, so that several clusters can share one Redis.',
    defaultValue: 'sockwarden:',
  },
  {
    name: 'redis-lease-ttl',
    kind: 'integer',
    description:
      "How long a connection's slot outlives its node without a refresh (ms): a killed node's users are free again within this plus one refresh.",
    defaultValue: 15_000,
  },
  {
    name: 'redis-max-connections',
    kind: 'integer',
    description: "Connections across the whole cluster; 0 leaves only each node's --max-connections.",
    defaultValue: 0,
  },
  {
    name: 'workers',
    kind: 'integer',
    description: 'Worker processes on this machine (node:cluster), one per core; more than 1 needs --redis.',
    defaultValue: 1,
  },
  limit('max-connections', 'maxConnections', 'Connections per node.'),
  limit('max-connections-per-user', 'maxConnectionsPerUser', 'Live connections per user.'),
  limit('max-connections-per-ip', 'maxConnectionsPerIp', 'Live connections per IP address; 0 is off.'),
  limit('max-sessions-per-user', 'maxSessionsPerUser', 'Sessions (attached or resumable) per user.'),
  limit(
    'max-sockets',
    'maxSockets',
    'Open sockets of the server at once, before any byte is read (default max-connections + 1024; 0 off).',
  ),
  limit(
    'max-sockets-per-ip',
    'maxSocketsPerIp',
    'Open sockets of one IP at once, before any byte is read (default max-connections-per-ip + 64; 0 off).',
  ),
  {
    name: 'trust-proxy',
    kind: 'list',
    option: 'trustProxy',
    description:
      'Take the client address from X-Forwarded-For (or Forwarded) when the peer is a proxy: comma-separated CIDRs of your proxies, or a hop count (every peer is a proxy; no per-IP socket cap). Empty or 0 is off.',
  },
  limit(
    'ipv6-prefix',
    'ipv6PrefixLength',
    'IPv6 clients sharing this prefix count as one address for per-IP limits (1 to 128).',
  ),
  {
    name: 'per-user-policy',
    kind: 'policy',
    option: 'perUserPolicy',
    description: 'At the per-user limit: reject, evict-oldest or queue.',
  },
  limit('queue-timeout', 'queueTimeoutMs', 'With policy queue: how long an upgrade waits for a slot (ms).'),
  limit('max-queued-upgrades', 'maxQueuedUpgrades', 'Upgrades that may wait in the queue at once.'),
  limit(
    'max-queued-upgrades-per-user',
    'maxQueuedUpgradesPerUser',
    'Upgrades of one user that may wait in the queue at once.',
  ),
  limit(
    'probe-timeout',
    'probeTimeoutMs',
    'Zombie probe: how long a pong may take before the peer is removed (ms).',
  ),
  {
    name: 'connect-rate-per-ip',
    kind: 'number',
    option: 'connectRatePerIp.perSecond',
    description: 'Connection attempts per second per IP; 0 is off.',
  },
  limit(
    'connect-burst-per-ip',
    'connectRatePerIp.burst',
    'Connection attempts per IP allowed in a burst; 0 is off.',
  ),
  limit(
    'max-payload-bytes',
    'maxPayloadBytes',
    'Largest inbound frame and API body (bytes); larger frames close 1009.',
  ),
  {
    name: 'inbound-rate',
    kind: 'number',
    option: 'inboundRatePerConnection.perSecond',
    description: 'Inbound messages per second per connection.',
  },
  limit(
    'inbound-burst',
    'inboundRatePerConnection.burst',
    'Inbound messages per connection allowed in a burst.',
  ),
  limit('max-violations', 'maxViolations', 'Bad or rate-limited frames per minute before close 4105.'),
  limit('max-buffered-bytes', 'maxBufferedBytes', 'Send buffer per connection before close 4001 (bytes).'),
  limit(
    'high-water-mark-bytes',
    'highWaterMarkBytes',
    'Send buffer above which send() makes the producer wait (bytes).',
  ),
  limit('replay-max-messages', 'replay.maxMessages', 'Messages kept per session for resume.'),
  limit('replay-max-bytes', 'replay.maxBytes', 'Bytes kept per session for resume.'),
  limit('resume-window', 'resumeWindowMs', 'How long a session outlives its socket (ms).'),
  limit('heartbeat-interval', 'heartbeatIntervalMs', 'Server ping interval (ms).'),
  limit('pong-timeout', 'pongTimeoutMs', 'How long a pong may take before the socket is a zombie (ms).'),
  limit('idle-timeout', 'idleTimeoutMs', 'Close 4102 after this long without messages (ms); 0 is off.'),
  limit(
    'warning-before-close',
    'warningBeforeCloseMs',
    'Lead of the warning frame before idle, lifetime and token closes (ms).',
  ),
  limit('max-lifetime', 'maxLifetimeMs', 'Close 4002 after this long (ms); 0 is off.'),
  limit(
    'drain-timeout',
    'drainTimeoutMs',
    'On shutdown: how long to wait for sockets before terminating (ms).',
  ),
  limit('close-timeout', 'closeTimeoutMs', 'How long a server-initiated close waits for the peer (ms).'),
  limit(
    'timer-tick',
    'timerTickMs',
    'Resolution of the shared timer wheel (ms): timers fire at most this late.',
  ),
  limit('governor-max-concurrent', 'governor.maxConcurrent', 'Upstream calls in flight across the gateway.'),
  limit(
    'governor-max-queued',
    'governor.maxQueued',
    'Upstream calls waiting for a global slot; more get busy.',
  ),
  limit('governor-per-session', 'governor.perSessionConcurrent', 'Upstream calls in flight per session.'),
  limit(
    'governor-per-session-queued',
    'governor.perSessionQueued',
    'Upstream calls waiting per session; more get busy.',
  ),
  {
    name: 'upstream-rate',
    kind: 'number',
    option: 'governor.ratePerSecond',
    description: 'Attempts per second to each upstream (token bucket).',
  },
  limit('upstream-burst', 'governor.rateBurst', 'Attempts to each upstream allowed in a burst.'),
  limit(
    'retry-max-attempts',
    'governor.maxAttempts',
    'Attempts per upstream call, the first included (1 to 10).',
  ),
  limit(
    'retry-budget',
    'governor.retryBudgetMs',
    'Total time per upstream call, waits and backoff included (ms).',
  ),
  limit('retry-backoff-base', 'governor.backoffBaseMs', 'Ceiling of the first backoff, full jitter (ms).'),
  limit('retry-backoff-cap', 'governor.backoffCapMs', 'Largest backoff ceiling (ms).'),
  limit(
    'attempt-timeout',
    'governor.attemptTimeoutMs',
    'Silence from the upstream that aborts an attempt (ms).',
  ),
  limit(
    'breaker-failures',
    'governor.breakerConsecutiveFailures',
    'Consecutive failures that open the circuit.',
  ),
  {
    name: 'breaker-failure-ratio',
    kind: 'number',
    option: 'governor.breakerFailureRatio',
    description: 'Failure ratio over the breaker window that opens the circuit (0 to 1).',
  },
  limit('breaker-window', 'governor.breakerWindowMs', 'Window of the failure ratio (ms).'),
  limit(
    'breaker-min-requests',
    'governor.breakerMinimumRequests',
    'Calls in the window before the ratio counts.',
  ),
  limit(
    'breaker-half-open',
    'governor.breakerHalfOpenAfterMs',
    'How long the circuit stays open before one probe (ms).',
  ),
  limit(
    'heap-limit-bytes',
    'heapLimitBytes',
    'Heap budget for pressure levels (bytes); 0 uses the V8 limit.',
  ),
];

/** `max-connections` -> `maxConnections`. */
export function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** `max-connections` -> `SOCKWARDEN_MAX_CONNECTIONS`. */
export function envName(name: string): string {
  return `SOCKWARDEN_${name.replace(/-/g, '_').toUpperCase()}`;
}

/** The default of a flag, for --help. */
export function defaultOf(flag: FlagSpec): unknown {
  if (flag.option === undefined) return flag.defaultValue;
  let value: unknown = DEFAULTS;
  for (const part of flag.option.split('.')) value = (value as Record<string, unknown>)[part];
  return value;
}

/** The --help text. */
export function helpText(): string {
  const rows = FLAGS.map((flag) => {
    const value = defaultOf(flag);
    const shown =
      value === undefined
        ? ''
        : ` (default: ${Array.isArray(value) ? value.join(',') || 'none' : String(value)})`;
    return `  --${flag.name.padEnd(26)} ${flag.description}${shown}`;
  });
  return [
    'Usage: sockwarden serve [flags]',
    '',
    'Runs the gateway standalone. Every flag is also an environment variable SOCKWARDEN_<NAME>',
    '(e.g. SOCKWARDEN_MAX_CONNECTIONS) and a key of the --config JSON file (e.g. "maxConnections").',
    'Precedence: flag > environment > config file > default. Times are in ms, sizes in bytes.',
    '',
    'Flags:',
    ...rows,
    '  --help                     Show this text.',
  ].join('\n');
}
