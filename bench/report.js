// Renders docs/benchmarks.md from one run's results: the goals, a table per scenario with absolute
// figures and ratios against bare `ws`, the charts, and the hand-written analysis in analysis.md.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_SIZES } from './cluster.js';
import { evaluateGoals, figureOf, MEASURES } from './measures.js';

const SCENARIO_TITLES = {
  memory: 'Idle memory, accept rate and close to released',
  churn: 'Churn',
  fanout: 'Fan-out',
  echo: 'Echo',
  deadPeer: 'Dead-peer detection',
};

const SCENARIO_NOTES = {
  memory: (s) =>
    `Connections are opened from two load processes, 100 upgrades in flight each, and held idle; memory is read after \`gc()\` in the server, against the same server before any connection. The accept rate is that of the first ${fmt(s.memory[0])}. Close to released: ${fmt(s.closes)} clients close at ${fmt(s.closesPerSecond)} per second, timed from the client starting the close to the end of the server's close handler (ws \`close\`, Socket.IO \`disconnect\`, uWS \`close\`, sockwarden's release of slot, session and scope).`,
  churn: (s) =>
    `Two load processes, 50 connections in flight each, connect, wait for the welcome, close and wait for the close, for ${s.churnMs / 1000} s. RSS is read after \`gc()\` on the fresh server and again once every connection is gone.`,
  fanout: (s) =>
    `${fmt(s.fanout)} connections; the server sends one message to all of them (its own broadcast: a loop over ws clients, sockwarden sessions, \`io.emit\`, uWS \`publish\`), ${s.rounds} times. The figure is when the last connection received it, from the moment the server began.`,
  echo: (s) =>
    `${fmt(s.echo)} connections each send a message, wait for its echo and send again, for ${s.echoMs / 1000} s.`,
  deadPeer: (s) =>
    `${fmt(s.deadPeers)} connections whose load process is frozen with SIGSTOP, so their TCP stays up and nothing answers. Heartbeat settings, as comparable as each allows: ${s.deadHeartbeatMs / 1000} s.`,
};

function fmt(n, digits = 0) {
  return n === null || n === undefined
    ? 'n/a'
    : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits });
}

function digitsFor(value) {
  return Math.abs(value) < 10 ? 2 : Math.abs(value) < 100 ? 1 : 0;
}

/** Rows are measures, columns contenders; each cell is the figure and its ratio to bare ws. */
function scenarioTable(results, scenario) {
  const names = Object.keys(results.contenders).filter((n) => results.contenders[n][scenario]);
  if (names.length === 0) return '';
  const ws = results.contenders.ws;
  const cell = (name, value, base) => {
    if (value === null) return 'n/a';
    const figure = fmt(value, digitsFor(value));
    return base && name !== 'ws' ? `${figure} (${(value / base).toFixed(2)}x)` : figure;
  };
  const rows = MEASURES.filter((m) => m.scenario === scenario).map((m) => [
    m.label(results.sizes),
    ...names.map((name) => cell(name, figureOf(results.contenders[name], m.key), figureOf(ws, m.key))),
  ]);
  const extra = {
    fanout: [['deliveries missed', (r) => fmt(r.fanout.missed)]],
    deadPeer: [
      ['peers never detected', (r) => fmt(r.deadPeer.undetected)],
      ['heartbeat setting', (r) => r.deadPeer.setting],
    ],
  }[scenario];
  for (const [label, read] of extra ?? [])
    rows.push([label, ...names.map((name) => read(results.contenders[name]))]);
  const header = ['measure', ...names];
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function goalsTable(results) {
  const lines = ['| goal | ratio | bound | met |', '| --- | --- | --- | --- |'];
  for (const g of evaluateGoals(results.contenders)) {
    const bound = g.atMost !== undefined ? `<= ${g.atMost}` : `>= ${g.atLeast}`;
    const met = g.met === null ? 'not measured' : g.met ? 'yes' : '**no**';
    lines.push(
      `| ${g.text} (${g.of} / ${g.against}, ${g.measure}) | ${g.ratio === null ? 'n/a' : g.ratio.toFixed(2)} | ${bound} | ${met} |`,
    );
  }
  return lines.join('\n');
}

function sockwardenAlone(results) {
  const m = results.contenders.sockwarden?.memory;
  if (!m?.admissionUs) return '';
  return `## sockwarden alone

| measure | p50 | p99 | samples |
| --- | --- | --- | --- |
| admission decision, up to ${fmt(results.sizes.memory.at(-1))} held (µs) | ${fmt(m.admissionUs.p50, 1)} | ${fmt(m.admissionUs.p99, 1)} | ${fmt(m.admissionUs.samples)} |
| close handler: slot, session and scope released (µs) | ${fmt(m.closeHandlerUs.p50, 1)} | ${fmt(m.closeHandlerUs.p99, 1)} | ${fmt(m.closeHandlerUs.samples)} |

The admission decision is timed in the server from the upgrade request to the reservation (origin,
connect rate, authentication, pressure, node, IP, user and session limits).
`;
}

function clusterSection(results) {
  const c = results.cluster;
  if (!c) return '';
  const { admission: a, publish: p, hold: h } = c;
  const sizes = c.sizes ?? CLUSTER_SIZES.full;
  const ratio = (x, y) => (y ? ` (${(x / y).toFixed(2)}x)` : '');
  const row = (label, d, base) =>
    `| ${label} | ${fmt(d.p50, 2)}${base ? ratio(d.p50, base.p50) : ''} | ${fmt(d.p99, 2)}${base ? ratio(d.p99, base.p99) : ''} | ${fmt(d.samples)} |`;
  const goal = h.held >= 38_000 && h.droppedWhileHeld === 0 && h.fourthOfUserStatus === 429;
  return `## Cluster mode on Redis

Measured by \`npm run bench -- --cluster\` on ${(results.clusterDate ?? results.date).slice(0, 10)} in ${fmt(results.clusterElapsedS ?? 0)} s, sockwarden against itself: one \`redis-server\` and several \`sockwarden serve\` processes
on this machine. Admission is timed by the client from the upgrade request to the welcome frame, in
alternating batches of ${fmt(sizes.batch)} connections per engine, each to a new user. Publish is timed from the
HTTP \`/api/publish\` call on node A to the message arriving at a client, on A (same node) or on B
(routed through Redis pub/sub), one publish at a time.

| measure (ms) | p50 | p99 | samples |
| --- | --- | --- | --- |
${row('upgrade to welcome, memory engine', a.memoryMs)}
${row('upgrade to welcome, Redis engine (x memory)', a.redisMs, a.memoryMs)}
${row('publish to a client on the same node', p.sameNodeMs)}
${row('publish to a client on another node (x same node)', p.crossNodeMs, p.sameNodeMs)}

Held by \`sockwarden serve --workers 2 --redis\` (heartbeats every 10 s, per-user limit 3, every
user at it), loaded from three processes, each on its own source address:

| measure | value |
| --- | --- |
| connections held (goal: at least 38,000) | ${fmt(h.held)} of ${fmt(h.target)}${goal ? ' (met)' : ' (**not met**)'} |
| failed to open | ${fmt(h.failed)} |
| dropped while held for ${fmt(sizes.holdMs / 1000)} s | ${fmt(h.droppedWhileHeld)} |
| server pings answered by the clients meanwhile | ${fmt(h.pingsAnswered)} |
| a fourth connection of a user at the limit | HTTP ${h.fourthOfUserStatus} |
| time to open them all | ${fmt(h.openSeconds, 1)} s |
| workers' RSS per connection | ${fmt(h.rssPerConnection / 1024, 1)} KiB |
| Redis memory per connection (lease in three sets, plus its age) | ${fmt(h.redisBytesPerConnection)} B |
`;
}

/** The whole of docs/benchmarks.md for `results`, with `charts` as written by charts.js. */
export function renderReport(results, charts) {
  const contenders = Object.entries(results.contenders)
    .map(
      ([name, c]) =>
        `- **${name}** (${Object.entries(c.versions)
          .map(([p, v]) => `${p} ${v}`)
          .join(', ')}): heartbeat: ${c.heartbeat}.`,
    )
    .join('\n');
  const skipped = [
    ...Object.entries(results.skipped).map(([name, why]) => `- **${name}** did not run: ${why}.`),
    ...results.failures.map((failure) => `- **failed**: ${failure}.`),
  ];
  const chart = (file) => {
    const found = charts.find((c) => c.file === file);
    return found ? `\n![${found.title}](images/${file})\n` : '';
  };
  const sections = Object.keys(SCENARIO_TITLES)
    .map((scenario) => {
      const table = scenarioTable(results, scenario);
      if (!table) return '';
      const image = { memory: 'bench-memory.png', fanout: 'bench-fanout.png', echo: 'bench-echo.png' }[
        scenario
      ];
      return `## ${SCENARIO_TITLES[scenario]}\n\n${SCENARIO_NOTES[scenario](results.sizes)}\n\n${table}\n${image ? chart(image) : ''}`;
    })
    .filter(Boolean)
    .join('\n');
  const analysis = readFileSync(join(import.meta.dirname, 'analysis.md'), 'utf8');
  return `# Benchmarks

Measured by \`npm run bench\` on ${results.date.slice(0, 10)} in ${fmt(results.elapsedS / 60, 1)} minutes: ${results.cpu}, ${results.cores} cores,
${results.memoryGiB} GiB, Node.js ${results.node}. Command: \`${results.command}\`.

Each server runs in its own process with the same application (a welcome frame, echo, and a
broadcast); the load comes from separate processes on several loopback source addresses. "x ws" is
the contender's figure divided by bare \`ws\`'s in the same run. These machines are noisy and the load
shares the server's two cores: compare ratios, not absolute figures, and rerun before trusting a
change. Raw results of every run are in \`bench/results/\`; each run prints what moved since the last.

## Contenders

${[contenders, ...skipped].join('\n')}

## Goals

${goalsTable(results)}

${sections}
${sockwardenAlone(results)}
${clusterSection(results)}
${analysis}`;
}
