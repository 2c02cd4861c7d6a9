// `npm run bench`: sockwarden against bare `ws`, side by side in one run, each server in its own
// process and the load in separate processes on several loopback addresses. Writes
// docs/benchmarks.md and bench/results/<date>.json, and prints the change against the last run.
// Flags: --connections N (default 10000), --smoke (500 connections, no docs update), --json.
import { fork } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: { connections: { type: 'string' }, smoke: { type: 'boolean' }, json: { type: 'boolean' } },
});
const CONNECTIONS = Number(flags.connections ?? (flags.smoke ? 500 : 10_000));
const EXTRA = Math.max(100, Math.round(CONNECTIONS / 10));
const LOAD_PROCESSES = 2;
// Fresh loopback source addresses for every contender of every run: closed connections sit in
// TIME_WAIT for a minute, and a contender that reuses another's addresses pays for its ports.
const RUN_OCTET = 10 + Math.floor(Math.random() * 200);
const addressesFor = (contender) => [2, 3, 4, 5].map((host) => `127.${RUN_OCTET}.${contender}.${host}`);
const STEP_TIMEOUT_MS = 120_000;
const here = import.meta.dirname;

function progress(text) {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
}

/** Forks a process and gives it a `next(type)` that waits for its next message of that type. */
function start(script, args = []) {
  const child = fork(join(here, script), args, {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map();
  child.on('message', (message) => {
    if (message.type === 'progress') progress(`  ${script}: ${message.opened} open`);
    const resolve = waiting.get(message.type);
    waiting.delete(message.type);
    resolve?.(message);
  });
  child.next = (type) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${script}: no ${type} within ${STEP_TIMEOUT_MS} ms`)),
        STEP_TIMEOUT_MS,
      );
      waiting.set(type, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  child.ask = (type, answerType = type) => {
    const answer = child.next(answerType);
    child.send({ type });
    return answer;
  };
  return child;
}

function percentile(samples, p) {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function openLoad(url, count, processes, userOffset, sourceAddresses) {
  const perProcess = Math.ceil(count / processes);
  const loads = Array.from({ length: processes }, (_, i) => {
    const addresses = sourceAddresses.filter((_, j) => j % processes === i).join(',');
    return start('load-client.js', [url, String(perProcess), addresses, String(userOffset + i * perProcess)]);
  });
  await Promise.all(loads.map((l) => l.next('ready')));
  const started = performance.now();
  const opened = await Promise.all(loads.map((l) => l.ask('open', 'opened')));
  const ms = performance.now() - started;
  return {
    loads,
    opened: opened.reduce((n, o) => n + o.opened, 0),
    failed: opened.reduce((n, o) => n + o.failed, 0),
    ms,
  };
}

async function measure(name, script, addresses) {
  progress(`${name}: starting server`);
  const server = start(script);
  const { port } = await server.next('ready');
  const url = `ws://127.0.0.1:${port}/ws`;
  const base = await server.ask('memory');
  progress(`${name}: opening ${CONNECTIONS} connections`);
  const held = await openLoad(url, CONNECTIONS, LOAD_PROCESSES, 0, addresses);
  await new Promise((r) => setTimeout(r, 1_000));
  const full = await server.ask('memory');
  const result = {
    connections: held.opened,
    failed: held.failed,
    acceptPerSecond: held.opened / (held.ms / 1000),
    rssPerConnection: (full.rss - base.rss) / held.opened,
    heapPerConnection: (full.heapUsed - base.heapUsed) / held.opened,
  };
  progress(
    `${name}: ${held.opened} open in ${Math.round(held.ms)} ms; ${Math.round(result.rssPerConnection)} B RSS each`,
  );
  if (name === 'sockwarden') {
    await server.ask('samples');
    progress(`${name}: ${EXTRA} more upgrades with ${held.opened} held`);
    const extra = await openLoad(url, EXTRA, 1, CONNECTIONS, addresses);
    const { admissionUs } = await server.ask('samples');
    await Promise.all([...held.loads, ...extra.loads].map((load) => load.ask('close', 'closed')));
    await new Promise((r) => setTimeout(r, 2_000));
    const { cleanupUs } = await server.ask('samples');
    Object.assign(result, {
      admissionP50Us: percentile(admissionUs, 50),
      admissionP99Us: percentile(admissionUs, 99),
      closeToReleasedP50Us: percentile(cleanupUs, 50),
      closeToReleasedP99Us: percentile(cleanupUs, 99),
      closeSamples: cleanupUs.length,
    });
    for (const load of [...held.loads, ...extra.loads]) load.send({ type: 'exit' });
  } else {
    for (const load of held.loads) load.send({ type: 'exit' });
  }
  server.send({ type: 'exit' });
  return result;
}

const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  connections: CONNECTIONS,
  contenders: {},
};
const contenders = [
  ['ws', 'servers/ws-server.js'],
  ['sockwarden', 'servers/sockwarden-server.js'],
];
for (const [index, [name, script]] of contenders.entries()) {
  results.contenders[name] = await measure(name, script, addressesFor(index));
}
const ws = results.contenders.ws;
const sw = results.contenders.sockwarden;
results.ratios = {
  rssPerConnection: sw.rssPerConnection / ws.rssPerConnection,
  heapPerConnection: sw.heapPerConnection / ws.heapPerConnection,
  acceptPerSecond: sw.acceptPerSecond / ws.acceptPerSecond,
};
for (const [name, r] of Object.entries(results.contenders)) {
  if (r.connections !== CONNECTIONS || r.failed > 0)
    throw new Error(`${name}: opened ${r.connections} of ${CONNECTIONS}, ${r.failed} failed`);
}
if (flags.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
if (!flags.smoke) {
  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const previous = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .pop();
  writeFileSync(
    join(dir, `${results.date.replace(/[:.]/g, '-')}.json`),
    `${JSON.stringify(results, null, 2)}\n`,
  );
  if (previous) {
    const before = JSON.parse(readFileSync(join(dir, previous), 'utf8'));
    for (const [key, value] of Object.entries(results.ratios)) {
      const old = before.ratios?.[key];
      if (old) progress(`change since ${previous}: ${key} ratio ${old.toFixed(2)} -> ${value.toFixed(2)}`);
    }
  }
  const { renderReport } = await import('./report.js');
  writeFileSync(join(here, '../docs/benchmarks.md'), renderReport(results));
  progress('wrote docs/benchmarks.md');
}
progress('done');
