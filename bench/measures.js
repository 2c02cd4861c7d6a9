// Every figure the report shows, read from one contender's results. One list drives the tables, the
// goals and the change against the previous run, so they cannot disagree.

const firstMemory = (r) => r.memory?.memory?.[0];
const lastMemory = (r) => r.memory?.memory?.at(-1);

/**
 * The figures of each scenario. `lower` says whether less is better; `get` reads one contender's
 * results (null when that scenario did not run).
 */
export const MEASURES = [
  {
    key: 'rssPerConnectionSmall',
    scenario: 'memory',
    label: (s) => `RSS per connection at ${s.memory[0].toLocaleString('en-US')} (bytes)`,
    lower: true,
    get: (r) => firstMemory(r)?.rssPerConnection,
  },
  {
    key: 'rssPerConnection',
    scenario: 'memory',
    label: (s) => `RSS per connection at ${s.memory.at(-1).toLocaleString('en-US')} (bytes)`,
    lower: true,
    get: (r) => lastMemory(r)?.rssPerConnection,
  },
  {
    key: 'heapPerConnection',
    scenario: 'memory',
    label: (s) => `heap per connection at ${s.memory.at(-1).toLocaleString('en-US')} (bytes)`,
    lower: true,
    get: (r) => lastMemory(r)?.heapPerConnection,
  },
  {
    key: 'acceptPerSecond',
    scenario: 'memory',
    label: () => 'accept rate (connections/s)',
    lower: false,
    get: (r) => r.memory?.acceptPerSecond,
  },
  {
    key: 'closeToReleasedP50',
    scenario: 'memory',
    label: () => 'close to released p50 (ms)',
    lower: true,
    get: (r) => r.memory?.closeToReleasedMs?.p50,
  },
  {
    key: 'closeToReleasedP99',
    scenario: 'memory',
    label: () => 'close to released p99 (ms)',
    lower: true,
    get: (r) => r.memory?.closeToReleasedMs?.p99,
  },
  {
    key: 'churnPerSecond',
    scenario: 'churn',
    label: () => 'connect+disconnect cycles/s',
    lower: false,
    get: (r) => r.churn?.cyclesPerSecond,
  },
  {
    key: 'churnRssBefore',
    scenario: 'churn',
    label: () => 'server RSS before (MB)',
    lower: true,
    get: (r) => mb(r.churn?.rssBefore),
  },
  {
    key: 'churnRssAfter',
    scenario: 'churn',
    label: () => 'server RSS after (MB)',
    lower: true,
    get: (r) => mb(r.churn?.rssAfter),
  },
  {
    key: 'fanoutP50',
    scenario: 'fanout',
    label: () => 'last delivery p50 (ms)',
    lower: true,
    get: (r) => r.fanout?.lastDeliveryMs?.p50,
  },
  {
    key: 'fanoutP99',
    scenario: 'fanout',
    label: () => 'last delivery p99 (ms)',
    lower: true,
    get: (r) => r.fanout?.lastDeliveryMs?.p99,
  },
  {
    key: 'echoP50',
    scenario: 'echo',
    label: () => 'round trip p50 (ms)',
    lower: true,
    get: (r) => r.echo?.roundTripMs?.p50,
  },
  {
    key: 'echoP99',
    scenario: 'echo',
    label: () => 'round trip p99 (ms)',
    lower: true,
    get: (r) => r.echo?.roundTripMs?.p99,
  },
  {
    key: 'echoPerSecond',
    scenario: 'echo',
    label: () => 'messages/s (round trips)',
    lower: false,
    get: (r) => r.echo?.messagesPerSecond,
  },
  {
    key: 'deadPeerP50',
    scenario: 'deadPeer',
    label: () => 'detection p50 (ms)',
    lower: true,
    get: (r) => r.deadPeer?.detectionMs?.p50,
  },
  {
    key: 'deadPeerP99',
    scenario: 'deadPeer',
    label: () => 'detection p99 (ms)',
    lower: true,
    get: (r) => r.deadPeer?.detectionMs?.p99,
  },
];

function mb(bytes) {
  return bytes === undefined ? undefined : bytes / 2 ** 20;
}

/**
 * The goals of the benchmark issue, each as a ratio of two contenders' figures for one measure:
 * `ratio = of / against`, met when within `atMost` or `atLeast`.
 */
export const GOALS = [
  {
    measure: 'rssPerConnection',
    of: 'sockwarden',
    against: 'ws',
    atMost: 1.2,
    text: 'memory per idle connection at most 1.2x ws',
  },
  {
    measure: 'acceptPerSecond',
    of: 'sockwarden',
    against: 'ws',
    atLeast: 0.85,
    text: 'accept rate at least 0.85x ws',
  },
  { measure: 'fanoutP50', of: 'sockwarden', against: 'ws', atMost: 1.2, text: 'fan-out at most 1.2x ws' },
  {
    measure: 'churnPerSecond',
    of: 'sockwarden',
    against: 'ws',
    atLeast: 0.8,
    text: 'churn cycles at least 0.8x ws',
  },
  {
    measure: 'rssPerConnection',
    of: 'socket.io',
    against: 'sockwarden',
    atLeast: 2,
    text: 'memory 2x better than Socket.IO',
  },
  {
    measure: 'fanoutP50',
    of: 'socket.io',
    against: 'sockwarden',
    atLeast: 2,
    text: 'fan-out 2x better than Socket.IO',
  },
];

/** The figure of `measure` for one contender's results, or null. */
export function figureOf(results, key) {
  const measure = MEASURES.find((m) => m.key === key);
  const value = results ? measure.get(results) : undefined;
  return Number.isFinite(value) ? value : null;
}

/** Each goal with the two figures, their ratio and whether it is met (null when a side is missing). */
export function evaluateGoals(contenders) {
  return GOALS.map((goal) => {
    const of = figureOf(contenders[goal.of], goal.measure);
    const against = figureOf(contenders[goal.against], goal.measure);
    const ratio = of !== null && against ? of / against : null;
    const met =
      ratio === null ? null : goal.atMost !== undefined ? ratio <= goal.atMost : ratio >= goal.atLeast;
    return { ...goal, ofValue: of, againstValue: against, ratio, met };
  });
}
