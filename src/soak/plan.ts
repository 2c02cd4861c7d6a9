/**
 * The flags of `sockwarden soak` and the plan they resolve to. Every flag is validated before any
 * socket opens; a wrong one exits 2 with a message naming it.
 */
import { SockwardenError } from '../errors.js';

/** How the soak mixes faults, each as a fraction in [0, 1]. */
export interface FaultMix {
  /** Share of churned connections ended by terminate, without a close frame. */
  abrupt: number;
  /** Share of churned connections that drop and resume their session. */
  resume: number;
  /** Share of opened connections that never answer pings (zombies). */
  zombies: number;
  /** Share of opened connections that are raw TCP peers going silent after the handshake. */
  silent: number;
  /** Share of opened connections that stop reading, so the server's buffer grows. */
  slow: number;
  /** Share of the connection target held by child processes frozen with SIGSTOP. */
  stopped: number;
}

/** A resolved soak run. */
export interface SoakPlan {
  url: string;
  api: string;
  apiKey: string | undefined;
  /** HS256 secret to mint client tokens, for gateways started with --jwt-secret. */
  jwtSecret: string | undefined;
  connections: number;
  users: number;
  durationMs: number;
  /** Connections ended (and replaced) per second across the run. */
  churnPerSecond: number;
  /** Messages published per second to each connection, through the HTTP API. */
  messagesPerSecond: number;
  mix: FaultMix;
  /** When the server's RSS baseline is taken. */
  warmupMs: number;
  /** Longest wait after the clients finish for the server to reach zero. */
  settleMs: number;
  /** Load processes; default one per 15,000 connections. */
  processes: number;
  json: boolean;
}

interface FlagSpec {
  name: string;
  kind: 'string' | 'count' | 'duration' | 'rate' | 'percent' | 'boolean';
  description: string;
  defaultValue?: string;
}

/** Every flag of `sockwarden soak`. */
export const SOAK_FLAGS: readonly FlagSpec[] = [
  {
    name: 'url',
    kind: 'string',
    description: 'Gateway WebSocket URL.',
    defaultValue: 'ws://127.0.0.1:8080/ws',
  },
  {
    name: 'api',
    kind: 'string',
    description: 'Gateway HTTP base URL.',
    defaultValue: 'http://127.0.0.1:8080',
  },
  { name: 'api-key', kind: 'string', description: 'API key of the gateway, if it has one.' },
  { name: 'jwt-secret', kind: 'string', description: 'Mint HS256 client tokens with this secret.' },
  { name: 'connections', kind: 'count', description: 'Connections held open.', defaultValue: '2000' },
  { name: 'users', kind: 'count', description: 'Distinct users sharing them.', defaultValue: '200' },
  { name: 'duration', kind: 'duration', description: 'Length of the load phase.', defaultValue: '60s' },
  {
    name: 'churn',
    kind: 'rate',
    description: 'Connections ended and replaced per second.',
    defaultValue: '200/s',
  },
  {
    name: 'messages',
    kind: 'rate',
    description: 'Messages per second to each connection.',
    defaultValue: '1/s',
  },
  {
    name: 'abrupt',
    kind: 'percent',
    description: 'Churned connections terminated without close.',
    defaultValue: '20%',
  },
  {
    name: 'resume',
    kind: 'percent',
    description: 'Churned connections that drop and resume.',
    defaultValue: '30%',
  },
  {
    name: 'zombies',
    kind: 'percent',
    description: 'Opened connections that never answer pings.',
    defaultValue: '5%',
  },
  {
    name: 'silent',
    kind: 'percent',
    description: 'Opened raw TCP peers silent after the handshake.',
    defaultValue: '2%',
  },
  { name: 'slow', kind: 'percent', description: 'Opened connections that stop reading.', defaultValue: '2%' },
  {
    name: 'stopped',
    kind: 'percent',
    description: 'Connections in child processes frozen by SIGSTOP.',
    defaultValue: '1%',
  },
  {
    name: 'warmup',
    kind: 'duration',
    description: 'When the RSS baseline is taken (default 20% of duration).',
  },
  {
    name: 'settle',
    kind: 'duration',
    description: 'Longest wait for the server to drain to zero.',
    defaultValue: '120s',
  },
  { name: 'processes', kind: 'count', description: 'Load processes (default one per 15,000 connections).' },
  { name: 'json', kind: 'boolean', description: 'Print the report as JSON instead of a table.' },
];

function bad(flag: string, message: string): SockwardenError {
  return new SockwardenError('invalid_config', `--${flag}: ${message}`, { field: flag });
}

/** Parses `60s`, `500ms`, `2m`, `1h` (a bare number is seconds) into milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw bad(flag, `"${text}" is not a duration such as 500ms, 60s, 2m or 1h`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] as number;
  return Math.round(Number(match[1]) * unit);
}

/** Parses `200/s` or `300/m` (a bare number is per second) into a per-second rate. */
export function parseRate(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(?:\/(s|m))?$/.exec(text.trim());
  if (!match) throw bad(flag, `"${text}" is not a rate such as 200/s or 30/m`);
  return Number(match[1]) / (match[2] === 'm' ? 60 : 1);
}

/** Parses `20%` (or a bare `20`) into 0.2. */
export function parsePercent(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)%?$/.exec(text.trim());
  const value = match ? Number(match[1]) : Number.NaN;
  if (!(value >= 0 && value <= 100)) throw bad(flag, `"${text}" is not a percentage from 0% to 100%`);
  return value / 100;
}

function parseCount(flag: string, text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw bad(flag, `"${text}" is not a positive integer`);
  return Number(text);
}

function readArgs(argv: string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new SockwardenError('invalid_config', `unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = SOAK_FLAGS.find((f) => f.name === name);
    if (!spec) throw bad(name, 'unknown flag (sockwarden soak --help lists them)');
    if (spec.kind === 'boolean') {
      values.set(name, eq === -1 ? 'true' : arg.slice(eq + 1));
      continue;
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw bad(name, 'needs a value');
    values.set(name, value);
  }
  return values;
}

function url(flag: string, text: string, protocols: string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw bad(flag, `"${text}" is not a URL`);
  }
  if (!protocols.includes(parsed.protocol)) throw bad(flag, `must be a ${protocols.join(' or ')}// URL`);
  return text.replace(/\/$/, '');
}

/** Resolves `sockwarden soak` arguments into a plan; throws `invalid_config` naming the flag. */
export function readSoakPlan(argv: string[]): SoakPlan {
  const values = readArgs(argv);
  const get = (name: string): string | undefined =>
    values.get(name) ?? SOAK_FLAGS.find((f) => f.name === name)?.defaultValue;
  const percent = (name: string) => parsePercent(name, get(name) as string);
  const mix: FaultMix = {
    abrupt: percent('abrupt'),
    resume: percent('resume'),
    zombies: percent('zombies'),
    silent: percent('silent'),
    slow: percent('slow'),
    stopped: percent('stopped'),
  };
  if (mix.abrupt + mix.resume > 1) throw bad('resume', '--abrupt and --resume together exceed 100%');
  if (mix.zombies + mix.silent + mix.slow + mix.stopped > 1)
    throw bad('zombies', '--zombies, --silent, --slow and --stopped together exceed 100%');
  const wsUrl = url('url', get('url') as string, ['ws:', 'wss:']);
  if (wsUrl.startsWith('wss:') && mix.silent + mix.slow > 0)
    throw bad('url', 'silent and slow peers speak raw TCP: use a ws:// URL or --silent 0% --slow 0%');
  const connections = parseCount('connections', get('connections') as string);
  const durationMs = parseDuration('duration', get('duration') as string);
  if (durationMs < 1_000) throw bad('duration', 'must be at least 1s');
  const warmup = get('warmup');
  const warmupMs = warmup === undefined ? Math.round(durationMs * 0.2) : parseDuration('warmup', warmup);
  if (warmupMs >= durationMs) throw bad('warmup', 'must be shorter than --duration');
  const processes = get('processes');
  return {
    url: wsUrl,
    api: url('api', get('api') as string, ['http:', 'https:']),
    apiKey: get('api-key'),
    jwtSecret: get('jwt-secret'),
    connections,
    users: parseCount('users', get('users') as string),
    durationMs,
    churnPerSecond: parseRate('churn', get('churn') as string),
    messagesPerSecond: parseRate('messages', get('messages') as string),
    mix,
    warmupMs,
    settleMs: parseDuration('settle', get('settle') as string),
    processes:
      processes === undefined
        ? Math.max(1, Math.ceil(connections / 15_000))
        : parseCount('processes', processes),
    json: get('json') === 'true',
  };
}

/** `sockwarden soak --help`. */
export function soakHelpText(): string {
  const rows = SOAK_FLAGS.map((f) => {
    const name = `--${f.name}${f.kind === 'boolean' ? '' : ` <${f.kind}>`}`;
    const fallback = f.defaultValue === undefined ? '' : ` (default ${f.defaultValue})`;
    return `  ${name.padEnd(26)} ${f.description}${fallback}`;
  });
  return [
    'Usage: sockwarden soak [flags]',
    '',
    'Drives real sockets at a running gateway with churn and faults, then checks that nothing leaked.',
    'Exit code 0: verdict passed; 1: something leaked (named in the report); 2: bad flags.',
    '',
    ...rows,
  ].join('\n');
}
