// The scenarios of `npm run bench`. Each starts a fresh server process for one contender and its
// own load processes, measures one thing, and stops them all, within the step time bound.
import { now } from './clock.js';
import { ladder, percentile, progress, round, sleep, start } from './processes.js';

/** Sizes of a full run and of the CI smoke run, which only checks that everything runs. */
export const SIZES = {
  full: {
    memory: [5_000, 19_000],
    closes: 2_000,
    closesPerSecond: 1_000,
    churnMs: 30_000,
    fanout: 10_000,
    rounds: 30,
    echo: 1_000,
    echoMs: 10_000,
    deadPeers: 100,
    deadHeartbeatMs: 1_000,
  },
  smoke: {
    memory: [100, 200],
    closes: 50,
    closesPerSecond: 500,
    churnMs: 2_000,
    fanout: 200,
    rounds: 3,
    echo: 50,
    echoMs: 1_000,
    deadPeers: 10,
    deadHeartbeatMs: 1_000,
  },
};

/** The longest a dead peer may go unnoticed before the scenario stops waiting for it. */
const DEAD_PEER_DEADLINE_MS = 30_000;

async function withServer(contender, { args = [], profileDir }, use) {
  const server = start(contender.script, args, { profileDir });
  try {
    const { port } = await server.next('ready');
    return await use(server, `ws://127.0.0.1:${port}/ws`);
  } finally {
    await server.stop();
  }
}

async function withLoads(contender, url, count, addresses, use) {
  const loads = Array.from({ length: count }, (_, i) =>
    start('load-client.js', [
      contender.kind,
      url,
      addresses.filter((_, j) => j % count === i).join(','),
      // Disjoint ids per process: ids name users and match closes to releases.
      String(i * 1_000_000),
    ]),
  );
  try {
    await Promise.all(loads.map((load) => load.next('ready')));
    return await use(loads);
  } finally {
    await Promise.all(loads.map((load) => load.stop()));
  }
}

/** Opens `count` connections spread over `loads`; throws naming the contender if any failed. */
async function openSpread(contender, loads, count) {
  const started = now();
  const shares = loads.map((_, i) => Math.floor(count / loads.length) + (i < count % loads.length ? 1 : 0));
  const results = await Promise.all(
    loads.map((load, i) => load.ask({ type: 'open', count: shares[i], window: 100 })),
  );
  const failed = results.reduce((n, r) => n + r.failed, 0);
  if (failed > 0) throw new Error(`${contender.name}: ${failed} of ${count} connections failed to open`);
  return { opened: count, ms: now() - started };
}

async function waitForCount(server, wanted, deadlineMs) {
  const deadline = now() + deadlineMs;
  let connections = -1;
  while (now() < deadline) {
    ({ connections } = await server.ask({ type: 'count' }));
    if (connections === wanted) return connections;
    await sleep(50);
  }
  return connections;
}

function summary(samples, withLadder = false) {
  return {
    samples: samples.length,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: percentile(samples, 100),
    ...(withLadder ? { ladder: ladder(samples) } : {}),
  };
}

/** Milliseconds from each `[id, time]` start to the release of the same id. */
function matched(starts, releases) {
  const began = new Map();
  for (let i = 0; i < starts.length; i += 2) began.set(starts[i], starts[i + 1]);
  const latencies = [];
  for (let i = 0; i < releases.length; i += 2) {
    const from = began.get(releases[i]);
    if (from !== undefined) latencies.push(round(releases[i + 1] - from));
  }
  return latencies;
}

/** Idle memory per connection at each size, the accept rate, and close-to-released latency. */
export function memoryScenario(contender, { sizes, addresses, profileDir }) {
  return withServer(contender, { profileDir }, (server, url) =>
    withLoads(contender, url, 2, addresses, async (loads) => {
      const base = await server.ask({ type: 'memory' });
      const memory = [];
      let acceptPerSecond = null;
      let held = 0;
      for (const target of sizes.memory) {
        progress(`${contender.name}: opening ${target - held} connections (${target} held)`);
        const fill = await openSpread(contender, loads, target - held);
        held = target;
        acceptPerSecond ??= fill.opened / (fill.ms / 1000);
        await sleep(1_000);
        const full = await server.ask({ type: 'memory' });
        if (full.connections !== target)
          throw new Error(`${contender.name}: server counts ${full.connections} connections of ${target}`);
        memory.push({
          connections: target,
          rssPerConnection: (full.rss - base.rss) / target,
          heapPerConnection: (full.heapUsed - base.heapUsed) / target,
        });
      }
      const { admissionUs } = await server.ask({ type: 'samples' });
      await server.ask({ type: 'releases' });
      progress(`${contender.name}: closing ${sizes.closes} at ${sizes.closesPerSecond}/s`);
      const paced = await Promise.all(
        loads.map((load) =>
          load.ask({
            type: 'closePaced',
            count: sizes.closes / loads.length,
            perSecond: sizes.closesPerSecond / loads.length,
          }),
        ),
      );
      await sleep(500);
      const { releases } = await server.ask({ type: 'releases' });
      const { cleanupUs } = await server.ask({ type: 'samples' });
      await Promise.all(loads.map((load) => load.ask({ type: 'closeAll' })));
      return {
        memory,
        acceptPerSecond,
        closeToReleasedMs: summary(
          matched(
            paced.flatMap((p) => p.starts),
            releases,
          ),
        ),
        ...(admissionUs ? { admissionUs: summary(admissionUs), closeHandlerUs: summary(cleanupUs) } : {}),
      };
    }),
  );
}

/** Connect+disconnect cycles per second for `churnMs`, with the server's memory before and after. */
export function churnScenario(contender, { sizes, addresses, profileDir }) {
  return withServer(contender, { profileDir }, (server, url) =>
    withLoads(contender, url, 2, addresses, async (loads) => {
      const before = await server.ask({ type: 'memory' });
      progress(`${contender.name}: churning for ${sizes.churnMs / 1000} s`);
      const runs = await Promise.all(
        loads.map((load) => load.ask({ type: 'churn', ms: sizes.churnMs, window: 50 })),
      );
      const left = await waitForCount(server, 0, 10_000);
      const after = await server.ask({ type: 'memory' });
      return {
        cyclesPerSecond: runs.reduce((n, r) => n + r.cycles, 0) / (sizes.churnMs / 1000),
        failed: runs.reduce((n, r) => n + r.failed, 0),
        leftOpen: left,
        rssBefore: before.rss,
        rssAfter: after.rss,
        heapBefore: before.heapUsed,
        heapAfter: after.heapUsed,
      };
    }),
  );
}

/** One broadcast reaching every connection, `rounds` times: the latency of the last delivery. */
export function fanoutScenario(contender, { sizes, addresses, profileDir }) {
  return withServer(contender, { profileDir }, (server, url) =>
    withLoads(contender, url, 2, addresses, async (loads) => {
      await openSpread(contender, loads, sizes.fanout);
      progress(`${contender.name}: ${sizes.rounds} broadcasts to ${sizes.fanout} connections`);
      const lastDelivery = [];
      let missed = 0;
      for (let n = 1; n <= sizes.rounds; n++) {
        const listening = Promise.all(loads.map((load) => load.next('listening')));
        const replies = Promise.all(loads.map((load) => load.ask({ type: 'expectRound', round: n })));
        await listening;
        await server.ask({ type: 'broadcast', round: n });
        const got = await replies;
        missed += got.reduce((sum, g) => sum + g.expected - g.received, 0);
        lastDelivery.push(Math.max(...got.map((g) => g.maxLatencyMs)));
        await sleep(100);
      }
      return { connections: sizes.fanout, missed, lastDeliveryMs: summary(lastDelivery, true) };
    }),
  );
}

/** Every connection sends, awaits its echo and sends again: round-trip times and throughput. */
export function echoScenario(contender, { sizes, addresses, profileDir }) {
  return withServer(contender, { profileDir }, (_server, url) =>
    withLoads(contender, url, 2, addresses, async (loads) => {
      await openSpread(contender, loads, sizes.echo);
      progress(`${contender.name}: echo on ${sizes.echo} connections for ${sizes.echoMs / 1000} s`);
      const runs = await Promise.all(loads.map((load) => load.ask({ type: 'echo', ms: sizes.echoMs })));
      const rtts = runs.flatMap((r) => r.rtts);
      return {
        connections: sizes.echo,
        messagesPerSecond: rtts.length / (sizes.echoMs / 1000),
        roundTripMs: summary(rtts, true),
      };
    }),
  );
}

/** Peers frozen with SIGSTOP (real half-open sockets): how long until the server closes them. */
export function deadPeerScenario(contender, { sizes, addresses, profileDir }) {
  const heartbeatMs = sizes.deadHeartbeatMs;
  return withServer(contender, { args: [`--heartbeat-ms=${heartbeatMs}`], profileDir }, (server, url) =>
    withLoads(contender, url, 1, addresses, async ([load]) => {
      await openSpread(contender, [load], sizes.deadPeers);
      await server.ask({ type: 'releases' });
      progress(`${contender.name}: freezing ${sizes.deadPeers} peers`);
      process.kill(load.pid, 'SIGSTOP');
      const frozenAt = now();
      const left = await waitForCount(server, 0, DEAD_PEER_DEADLINE_MS);
      const { releases } = await server.ask({ type: 'releases' });
      const detection = [];
      for (let i = 1; i < releases.length; i += 2) detection.push(round(releases[i] - frozenAt));
      return {
        peers: sizes.deadPeers,
        undetected: left,
        setting: contender.heartbeat(heartbeatMs),
        detectionMs: summary(detection),
      };
    }),
  );
}

/** Every scenario, in the order they run and appear in the report. */
export const SCENARIOS = [
  ['memory', memoryScenario],
  ['churn', churnScenario],
  ['fanout', fanoutScenario],
  ['echo', echoScenario],
  ['deadPeer', deadPeerScenario],
];
