// `npm run bench`: sockwarden against bare `ws`, Socket.IO and uWebSockets.js, side by side in one
// run. Each server runs in its own process and the load in separate processes on several loopback
// source addresses. Writes bench/results/<date>.json, prints the change against the previous run,
// and renders docs/benchmarks.md with its charts.
// Flags: --smoke (tiny sizes; no files written), --json (results on stdout),
// --contenders ws,sockwarden (a subset), --scenarios memory,echo (a subset).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderCharts } from './charts.js';
import { CLUSTER_SIZES, clusterMissing, runCluster } from './cluster.js';
import { CONTENDERS, inspect } from './contenders.js';
import { figureOf, MEASURES } from './measures.js';
import { progress } from './processes.js';
import { renderReport } from './report.js';
import { SCENARIOS, SIZES } from './scenarios.js';

const here = import.meta.dirname;
const USAGE = `Usage: npm run bench -- [flags]   (or: sockwarden bench [flags])

  --smoke                 Tiny sizes, to check that every scenario runs; writes no files.
  --json                  Print the raw results as JSON on stdout.
  --contenders a,b        Run only these: ${CONTENDERS.map((c) => c.name).join(', ')}.
  --scenarios a,b         Run only these: ${SCENARIOS.map(([name]) => name).join(', ')}.
  --cluster               Run only the cluster benchmark (Redis engine, --workers 2) and add its
                          figures to the newest full run's results and docs/benchmarks.md.
  --profile DIR           Write a CPU profile of every server process into DIR (open in Chrome DevTools).
  --report FILE           Run nothing: render docs/benchmarks.md and its charts from saved results.
  --help                  This text.

Only a full run of every contender and scenario writes bench/results/ and docs/benchmarks.md.`;

let flags;
try {
  ({ values: flags } = parseArgs({
    options: {
      smoke: { type: 'boolean' },
      json: { type: 'boolean' },
      contenders: { type: 'string' },
      scenarios: { type: 'string' },
      profile: { type: 'string' },
      report: { type: 'string' },
      cluster: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  }));
} catch (error) {
  process.stderr.write(`bench: ${error.message}\n${USAGE}\n`);
  process.exit(2);
}
if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (flags.report) {
  await writeDocs(JSON.parse(readFileSync(flags.report, 'utf8')));
  process.exit(0);
}

/** Renders the charts and docs/benchmarks.md for one full run, in the project's Markdown format. */
async function writeDocs(results) {
  const charts = await renderCharts(results, join(here, '../docs/images'));
  const doc = join(here, '../docs/benchmarks.md');
  writeFileSync(doc, renderReport(results, charts));
  // Biome aligns the tables, as `npm test`'s lint expects; without it the file is still valid Markdown.
  const biome = join(here, '../node_modules/.bin/biome');
  if (existsSync(biome)) execFileSync(biome, ['format', '--write', doc], { stdio: 'ignore' });
  progress('wrote docs/benchmarks.md');
}

/** Runs the cluster benchmark into `results.cluster`, or records why it could not. */
async function clusterInto(results, sizes) {
  const missing = clusterMissing();
  if (missing) {
    results.skipped.cluster = missing;
    progress(`cluster: skipped, ${missing}`);
    return;
  }
  try {
    results.cluster = await runCluster(sizes);
  } catch (error) {
    results.failures.push(`cluster: ${error.message}`);
    progress(`cluster FAILED: ${error.message}`);
    process.exitCode = 1;
  }
}

if (flags.cluster) {
  const mode = flags.smoke ? 'smoke' : 'full';
  const dir = join(here, 'results');
  const newest = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .sort()
        .pop()
    : undefined;
  const base =
    mode === 'full' && newest
      ? JSON.parse(readFileSync(join(dir, newest), 'utf8'))
      : { mode, contenders: {}, skipped: {}, failures: [] };
  base.failures = base.failures ?? [];
  base.skipped = base.skipped ?? {};
  const started = Date.now();
  await clusterInto(base, CLUSTER_SIZES[mode]);
  base.clusterDate = new Date().toISOString();
  base.clusterElapsedS = Math.round((Date.now() - started) / 1000);
  if (flags.json) process.stdout.write(`${JSON.stringify(base, null, 2)}\n`);
  if (mode === 'full' && newest && base.cluster) {
    writeFileSync(join(dir, newest), `${JSON.stringify(base, null, 2)}\n`);
    await writeDocs(base);
  }
  progress(`done in ${base.clusterElapsedS} s`);
  process.exit(process.exitCode ?? 0);
}

function pick(flag, all, what) {
  if (flag === undefined) return all;
  const names = flag.split(',');
  const unknown = names.filter((n) => !all.some(([name]) => name === n));
  if (unknown.length > 0) {
    process.stderr.write(
      `bench: unknown ${what} ${unknown.join(', ')}; known: ${all.map(([n]) => n).join(', ')}\n`,
    );
    process.exit(2);
  }
  return all.filter(([name]) => names.includes(name));
}

const contenders = pick(
  flags.contenders,
  CONTENDERS.map((c) => [c.name, c]),
  'contender',
).map(([, c]) => c);
const scenarios = pick(flags.scenarios, SCENARIOS, 'scenario');
const mode = flags.smoke ? 'smoke' : 'full';
const sizes = SIZES[mode];
// Fresh loopback source addresses for every contender and scenario of every run: closed
// connections sit in TIME_WAIT for a minute, and a contender reusing another's pays for its ports.
const runOctet = 10 + Math.floor(Math.random() * 200);
const addressesFor = (contender, scenario) =>
  Array.from({ length: 8 }, (_, host) => `127.${runOctet}.${contender * 8 + scenario}.${host + 2}`);

const results = {
  date: new Date().toISOString(),
  mode,
  command: `node bench/run.js${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
  node: process.version,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  sizes,
  contenders: {},
  skipped: {},
  failures: [],
};

const started = Date.now();
for (const [c, contender] of contenders.entries()) {
  const { missing, versions } = inspect(contender);
  if (missing) {
    results.skipped[contender.name] = missing;
    progress(`${contender.name}: skipped, ${missing}`);
    continue;
  }
  const entry = { versions, heartbeat: contender.heartbeat(25_000) };
  results.contenders[contender.name] = entry;
  for (const [s, [name, run]] of scenarios.entries()) {
    progress(
      `[${c * scenarios.length + s + 1}/${contenders.length * scenarios.length}] ${contender.name}: ${name}`,
    );
    try {
      entry[name] = await run(contender, {
        sizes,
        addresses: addressesFor(CONTENDERS.indexOf(contender), s),
        profileDir: flags.profile,
      });
    } catch (error) {
      // One contender failing a scenario must not hide the others' figures; the run still fails.
      results.failures.push(`${contender.name} ${name}: ${error.message}`);
      progress(`${contender.name}: ${name} FAILED: ${error.message}`);
      process.exitCode = 1;
    }
  }
}
if (!flags.contenders && !flags.scenarios) await clusterInto(results, CLUSTER_SIZES[mode]);
results.elapsedS = Math.round((Date.now() - started) / 1000);

if (flags.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
const complete = contenders.length === CONTENDERS.length && scenarios.length === SCENARIOS.length;
if (mode === 'full' && complete) {
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
  if (previous) printChange(JSON.parse(readFileSync(join(dir, previous), 'utf8')), previous);
  await writeDocs(results);
}
progress(`done in ${results.elapsedS} s`);

/** Prints every figure that moved by more than 5% since the previous run. */
function printChange(before, name) {
  progress(`change since ${name}:`);
  for (const [contender, after] of Object.entries(results.contenders)) {
    for (const measure of MEASURES) {
      const old = figureOf(before.contenders?.[contender], measure.key);
      const now = figureOf(after, measure.key);
      if (old === null || now === null || old === 0) continue;
      const change = (now - old) / old;
      if (Math.abs(change) < 0.05) continue;
      const better = measure.lower ? change < 0 : change > 0;
      progress(
        `  ${contender} ${measure.key}: ${old.toFixed(1)} -> ${now.toFixed(1)} (${change > 0 ? '+' : ''}${(change * 100).toFixed(0)}%, ${better ? 'better' : 'worse'})`,
      );
    }
  }
}
