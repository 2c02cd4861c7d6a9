// A load process: opens, holds, churns and closes connections to one contender from the given
// source addresses, as the coordinator asks over IPC, and reports what it measured. Every step is
// bounded in count and time. Arguments: kind url addresses firstId.
import { dial } from './client-protocols.js';
import { now } from './clock.js';

const [kind, url, addressesText, firstIdText] = process.argv.slice(2);
const addresses = addressesText.split(',');
let nextId = Number(firstIdText);
/** Open links by id. */
const links = new Map();
/** Handlers for the application data links receive: fan-out rounds and echo replies. */
const expectations = { round: -1, received: 0, maxLatencyMs: 0, done: null, onEcho: null };

function onData(data) {
  if (data.f !== undefined) {
    if (data.f !== expectations.round) return;
    expectations.received++;
    expectations.maxLatencyMs = Math.max(expectations.maxLatencyMs, now() - data.t);
    if (expectations.received === links.size) expectations.done?.();
  } else if (data.e !== undefined) {
    expectations.onEcho?.(data);
  }
}

async function openOne() {
  const id = nextId++;
  const link = await dial(kind, { url, id, localAddress: addresses[id % addresses.length], onData });
  links.set(id, link);
  link.closed.then(() => links.delete(id));
  return link;
}

/** Runs `task` from `window` workers until `more()` says stop. */
async function inWindow(window, more, task) {
  const worker = async () => {
    while (more()) await task();
  };
  await Promise.all(Array.from({ length: window }, worker));
}

async function open({ count, window }) {
  const started = now();
  let left = count;
  let failed = 0;
  await inWindow(
    window,
    () => left-- > 0,
    () =>
      openOne().then(
        () => (links.size % 1_000 === 0 ? process.send({ type: 'progress', open: links.size }) : undefined),
        () => void failed++,
      ),
  );
  return { opened: count - failed, failed, ms: now() - started };
}

async function churn({ ms, window }) {
  const until = now() + ms;
  let cycles = 0;
  let failed = 0;
  await inWindow(
    window,
    () => now() < until,
    async () => {
      try {
        const link = await openOne();
        link.close();
        await link.closed;
        cycles++;
      } catch {
        failed++;
      }
    },
  );
  return { cycles, failed };
}

/** Closes `count` links at `perSecond`, noting when each close began, so the server's release can be timed. */
async function closePaced({ count, perSecond }) {
  const starts = [];
  const chosen = [...links.values()].slice(0, count);
  const gapMs = 1000 / perSecond;
  const begun = now();
  for (const [i, link] of chosen.entries()) {
    const due = begun + i * gapMs;
    if (due > now()) await new Promise((r) => setTimeout(r, due - now()));
    starts.push(link.id, now());
    link.close();
  }
  await Promise.all(chosen.map((link) => link.closed));
  return { starts };
}

async function closeAll() {
  const all = [...links.values()];
  for (const link of all) link.close();
  await Promise.race([Promise.all(all.map((l) => l.closed)), new Promise((r) => setTimeout(r, 30_000))]);
  return { left: links.size };
}

/** Waits until every link has round `round`, or 30 s; reports the slowest delivery. */
function expectRound({ round }) {
  Object.assign(expectations, { round, received: 0, maxLatencyMs: 0 });
  return new Promise((resolve) => {
    const report = () => {
      clearTimeout(timer);
      expectations.done = null;
      resolve({
        received: expectations.received,
        expected: links.size,
        maxLatencyMs: expectations.maxLatencyMs,
      });
    };
    const timer = setTimeout(report, 30_000);
    expectations.done = report;
    process.send({ type: 'listening' });
  });
}

/** Every link sends, waits for its echo, and sends again, for `ms`; reports every round trip. */
async function echo({ ms }) {
  const until = now() + ms;
  const rtts = [];
  const waiting = new Map();
  expectations.onEcho = (data) => {
    rtts.push(Math.round((now() - data.t) * 1000) / 1000);
    waiting.get(data.e)?.();
  };
  // One deadline for every link rather than a timer per message: an echo that never comes back
  // releases its link 5 s after the end.
  const giveUp = setTimeout(() => {
    for (const resolve of waiting.values()) resolve();
  }, ms + 5_000);
  await Promise.all(
    [...links.values()].map(async (link) => {
      while (now() < until) {
        await new Promise((resolve) => {
          waiting.set(link.id, resolve);
          link.send({ e: link.id, t: now() });
        });
      }
      waiting.delete(link.id);
    }),
  );
  clearTimeout(giveUp);
  expectations.onEcho = null;
  return { rtts };
}

const steps = { open, churn, closePaced, closeAll, expectRound, echo };
process.on('message', async (message) => {
  if (message.type === 'exit') process.exit(0);
  const step = steps[message.type];
  if (!step) throw new Error(`unknown step ${message.type}`);
  process.send({ type: message.type, ...(await step(message)) });
});
process.send({ type: 'ready' });
