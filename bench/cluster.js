// The cluster benchmark: what Redis costs and what a cluster holds, sockwarden against itself.
// 1. Admission: upgrade-to-welcome time on a memory-engine node and on a Redis node, in alternating
//    batches so both see the same machine.
// 2. Publish: HTTP API publish to a client on the same node and on another node (routed through
//    Redis), one at a time, so the difference is the cross-node hop.
// 3. Hold: `sockwarden serve --workers 2 --redis` with heartbeats and a per-user limit of 3, loaded
//    from three processes on their own source addresses; RSS per connection of the workers and of
//    Redis, drops while held, and a fourth connection of a user refused.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import { percentile, progress, round, sleep, start } from './processes.js';

const BIN = join(import.meta.dirname, '../bin/sockwarden.js');

/** Sizes of a full run and of a smoke run. */
export const CLUSTER_SIZES = {
  full: { admissions: 3_000, batch: 300, publishes: 1_000, hold: 38_400, holdMs: 25_000 },
  smoke: { admissions: 60, batch: 20, publishes: 20, hold: 300, holdMs: 2_000 },
};

/** Why the cluster benchmark cannot run here, or null. */
export function clusterMissing() {
  return spawnSync('redis-server', ['--version']).status === 0
    ? null
    : 'redis-server is not on PATH (apt-get install redis-server)';
}

const stoppers = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Spawns `command` and resolves once a line of its stdout matches `ready`. */
function spawnUntil(command, args, ready, what) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  stoppers.push(() => child.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 30 s`)), 30_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = ready.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match });
      }
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
  });
}

async function startRedis() {
  const port = await freePort();
  await spawnUntil(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    /Ready to accept connections/,
    'redis-server',
  );
  return `redis://127.0.0.1:${port}`;
}

const OPEN_LIMITS = [
  '--max-connections-per-ip',
  '100000',
  '--connect-rate-per-ip',
  '100000',
  '--connect-burst-per-ip',
  '100000',
];

async function serveNode(extra) {
  const { child, match } = await spawnUntil(
    process.execPath,
    [BIN, 'serve', '--insecure', '--port', '0', '--log-level', 'error', ...OPEN_LIMITS, ...extra],
    /^listening on (http:\/\/\S+)$/m,
    'sockwarden serve',
  );
  return { child, base: match[1], ws: `${match[1].replace('http', 'ws')}/ws` };
}

/** Opens a client; resolves once the welcome arrived, with the time it took. */
function connect(url, onMessage = () => {}) {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'sockwarden.v1', { perMessageDeflate: false });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused ${res.statusCode}`)));
    ws.once('message', () => {
      ws.on('message', (data) => onMessage(JSON.parse(String(data))));
      resolve({ ws, ms: performance.now() - started });
    });
  });
}

function distribution(samples) {
  return {
    samples: samples.length,
    p50: round(percentile(samples, 50)),
    p99: round(percentile(samples, 99)),
    max: round(Math.max(...samples)),
  };
}

async function admission(sizes, memoryNode, redisNode) {
  const samples = { memory: [], redis: [] };
  const open = [];
  for (let done = 0, round = 0; done < sizes.admissions; round++) {
    for (const [name, node] of [
      ['memory', memoryNode],
      ['redis', redisNode],
    ]) {
      for (let i = 0; i < sizes.batch; i++) {
        const client = await connect(`${node.ws}?user=a${round}-${i}`);
        samples[name].push(client.ms);
        open.push(client.ws);
      }
    }
    done += sizes.batch;
    progress(`  admission: ${done}/${sizes.admissions} on each engine`);
  }
  for (const ws of open) ws.terminate();
  return { memoryMs: distribution(samples.memory), redisMs: distribution(samples.redis) };
}

async function publishLatency(sizes, a, b) {
  const waiting = new Map();
  const onMessage = (frame) => {
    if (frame.type === 'message') waiting.get(frame.data)?.();
  };
  const here = await connect(`${a.ws}?user=near`, onMessage);
  const there = await connect(`${b.ws}?user=far`, onMessage);
  const samples = { sameNode: [], crossNode: [] };
  for (let i = 0; i < sizes.publishes; i++) {
    for (const [name, user] of [
      ['sameNode', 'near'],
      ['crossNode', 'far'],
    ]) {
      const data = `${name}-${i}`;
      const started = performance.now();
      const arrived = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`publish ${data} not delivered in 5 s`)), 5_000);
        waiting.set(data, () => {
          clearTimeout(timer);
          resolve();
        });
      });
      const res = await fetch(`${a.base}/api/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user, data }),
      });
      await res.arrayBuffer();
      await arrived;
      waiting.delete(data);
      samples[name].push(performance.now() - started);
    }
  }
  here.ws.terminate();
  there.ws.terminate();
  return { sameNodeMs: distribution(samples.sameNode), crossNodeMs: distribution(samples.crossNode) };
}

function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

function childrenOf(pid) {
  const out = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter(Boolean).map(Number);
}

async function redisMemory(url) {
  const { port } = new URL(url);
  const info = spawnSync('redis-cli', ['-p', port, 'info', 'memory'], { encoding: 'utf8' }).stdout;
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

async function hold(sizes, redisUrl) {
  const perProcess = Math.ceil(sizes.hold / 3);
  const node = await serveNode([
    '--workers',
    '2',
    '--redis',
    redisUrl,
    '--redis-prefix',
    'hold:',
    '--max-connections',
    '25000',
    '--max-connections-per-user',
    '3',
    '--heartbeat-interval',
    '10000',
    '--pong-timeout',
    '5000',
  ]);
  await sleep(1_000);
  const workers = childrenOf(node.child.pid);
  if (workers.length !== 2) throw new Error(`expected 2 workers, found ${workers.length}`);
  const rssBefore = workers.reduce((sum, pid) => sum + rssOf(pid), 0);
  const redisBefore = await redisMemory(redisUrl);
  const octet = 100 + Math.floor(Math.random() * 100);
  const loads = [0, 1, 2].map((i) => start('cluster-load.js', [node.ws, `127.${octet}.${i}.2`, `h${i}-`]));
  await Promise.all(loads.map((load) => load.next('ready')));
  const opened = await Promise.all(
    loads.map((load) => load.ask({ type: 'open', count: perProcess, window: 50 })),
  );
  const openMs = Math.max(...opened.map((o) => o.ms));
  // Every user holds 3: a fourth connection must be refused, whichever worker it reaches.
  const extra = await loads[0].ask({ type: 'extra', user: 'h0-0' });
  progress(`  hold: ${opened.reduce((s, o) => s + o.opened, 0)} open; holding ${sizes.holdMs / 1000}s`);
  await sleep(sizes.holdMs);
  const held = await Promise.all(loads.map((load) => load.ask({ type: 'hold' })));
  const rssAfter = workers.reduce((sum, pid) => sum + rssOf(pid), 0);
  const redisAfter = await redisMemory(redisUrl);
  const connections = held.reduce((sum, h) => sum + h.open, 0);
  await Promise.all(loads.map((load) => load.ask({ type: 'close' })));
  await Promise.all(loads.map((load) => load.stop()));
  node.child.kill('SIGTERM');
  return {
    target: perProcess * 3,
    held: connections,
    failed: opened.reduce((sum, o) => sum + o.failed, 0),
    droppedWhileHeld: held.reduce((sum, h) => sum + h.dropped, 0),
    pingsAnswered: held.reduce((sum, h) => sum + h.pings, 0),
    fourthOfUserStatus: extra.status,
    openSeconds: round(openMs / 1000),
    rssPerConnection: Math.round((rssAfter - rssBefore) / Math.max(1, connections)),
    redisBytesPerConnection: Math.round((redisAfter - redisBefore) / Math.max(1, connections)),
  };
}

/** Runs the cluster benchmark at `sizes`; resolves with its figures. */
export async function runCluster(sizes) {
  try {
    const redisUrl = await startRedis();
    progress('cluster [1/3]: admission, memory engine against Redis');
    const memoryNode = await serveNode([]);
    const redisNode = await serveNode(['--redis', redisUrl, '--redis-prefix', 'adm:']);
    const admissionFigures = await admission(sizes, memoryNode, redisNode);
    memoryNode.child.kill('SIGTERM');
    redisNode.child.kill('SIGTERM');
    progress('cluster [2/3]: publish latency, same node and across nodes');
    const a = await serveNode(['--redis', redisUrl, '--redis-prefix', 'pub:']);
    const b = await serveNode(['--redis', redisUrl, '--redis-prefix', 'pub:']);
    const publish = await publishLatency(sizes, a, b);
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    progress(`cluster [3/3]: ${sizes.hold} connections held by --workers 2`);
    return { sizes, admission: admissionFigures, publish, hold: await hold(sizes, redisUrl) };
  } finally {
    for (const stop of stoppers.splice(0)) stop();
  }
}
