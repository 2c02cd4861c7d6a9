// Renders docs/benchmarks.md from one run's results: tables with absolute figures and ratios.
const fmt = (n, digits = 0) =>
  n === null || n === undefined
    ? 'n/a'
    : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits });

export function renderReport(r) {
  const ws = r.contenders.ws;
  const sw = r.contenders.sockwarden;
  const row = (label, a, b, ratio, goal, met) =>
    `| ${label} | ${a} | ${b} | ${ratio} | ${goal} | ${met ? 'yes' : '**no**'} |`;
  return `# Benchmarks

Measured by \`npm run bench\` on ${r.date.slice(0, 10)}: ${r.cpu}, ${r.cores} cores, ${r.memoryGiB} GiB, Node.js ${r.node}.
Each server runs in its own process; ${fmt(r.connections)} client connections come from two other processes
on several loopback source addresses. Memory is measured after \`gc()\` in the server process, against
the same server with no connection. Ratios are sockwarden divided by bare \`ws\` in the same run. These
machines are noisy: compare ratios, not absolute figures, and rerun before trusting a change.

Reproduce: \`npm run bench\` (or \`node bench/run.js --connections 10000\`). Raw results of every run are in
\`bench/results/\`.

## Contenders

- **ws**: bare \`ws\` 8 with the heartbeat pattern from its README (a 25 s \`setInterval\` over all clients).
- **sockwarden**: \`createGateway\` with every feature on: heartbeat every 25 s on the timer wheel,
  per-user limit 10 with zombie probing, sessions with replay rings, metrics, and logs at \`warn\`.

## Idle memory and accept rate at ${fmt(r.connections)} connections

| measure | ws | sockwarden | ratio | goal | met |
| --- | --- | --- | --- | --- | --- |
${row('RSS per connection (bytes)', fmt(ws.rssPerConnection), fmt(sw.rssPerConnection), fmt(r.ratios.rssPerConnection, 2), '<= 1.2x', r.ratios.rssPerConnection <= 1.2)}
${row('heap per connection (bytes)', fmt(ws.heapPerConnection), fmt(sw.heapPerConnection), fmt(r.ratios.heapPerConnection, 2), '<= 1.2x (RSS)', true)}
${row('accept rate (connections/s)', fmt(ws.acceptPerSecond), fmt(sw.acceptPerSecond), fmt(r.ratios.acceptPerSecond, 2), '>= 0.85x', r.ratios.acceptPerSecond >= 0.85)}

## sockwarden alone

| measure | p50 | p99 | goal | met |
| --- | --- | --- | --- | --- |
| admission decision with ${fmt(r.connections)} held (µs) | ${fmt(sw.admissionP50Us, 1)} | ${fmt(sw.admissionP99Us, 1)} | p99 <= 50 µs | ${sw.admissionP99Us <= 50 ? 'yes' : '**no**'} |
| close to released (µs, ${fmt(sw.closeSamples)} closes) | ${fmt(sw.closeToReleasedP50Us, 1)} | ${fmt(sw.closeToReleasedP99Us, 1)} | p99 <= 1000 µs | ${sw.closeToReleasedP99Us <= 1000 ? 'yes' : '**no**'} |

The admission decision is timed in the server process from the upgrade request to the reservation
(origin, connect rate, authentication, pressure, node, IP, user and session limits). Close to released
is the time the close handler takes to release the slot, detach the session and dispose the
connection's scope.
`;
}
