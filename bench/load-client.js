// A load process: opens connections from the given source addresses with bounded concurrency,
// reports progress, holds them, and closes them on request. Bounded in count and time.
import WebSocket from 'ws';

const [url, countText, addressesText, userOffsetText] = process.argv.slice(2);
const count = Number(countText);
const addresses = addressesText.split(',');
const userOffset = Number(userOffsetText);
const WINDOW = 100;
const sockets = [];
let failed = 0;

function open(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url}?user=u${(userOffset + i) % 4_000}`, 'sockwarden.v1', {
      localAddress: addresses[i % addresses.length],
      perMessageDeflate: false,
    });
    const timer = setTimeout(() => {
      failed++;
      ws.terminate();
      resolve();
    }, 30_000);
    ws.once('message', () => {
      clearTimeout(timer);
      sockets.push(ws);
      resolve();
    });
    ws.once('error', () => {
      clearTimeout(timer);
      failed++;
      resolve();
    });
  });
}

async function openAll() {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await open(i);
      if (i % 1_000 === 0) process.send({ type: 'progress', opened: sockets.length });
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  process.send({ type: 'opened', opened: sockets.length, failed, ms: performance.now() - started });
}

process.on('message', async (message) => {
  if (message.type === 'open') await openAll();
  if (message.type === 'close') {
    for (const ws of sockets.splice(0)) ws.close(1000);
    process.send({ type: 'closed' });
  }
  if (message.type === 'exit') process.exit(0);
});
process.send({ type: 'ready' });
