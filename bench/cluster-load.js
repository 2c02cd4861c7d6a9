// A load process of the cluster benchmark: opens connections to a gateway from one source address
// (each user at the per-user limit of 3), holds them while the server pings, and reports what it
// saw, as the coordinator asks over IPC. Every step is bounded. Arguments: url address userPrefix.
import WebSocket from 'ws';

const [url, address, userPrefix] = process.argv.slice(2);
const sockets = new Set();
let dropped = 0;
let pings = 0;

/** Opens one connection; resolves with its HTTP status (101 when admitted). */
function dial(user) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url}?user=${encodeURIComponent(user)}`, 'sockwarden.v1', {
      localAddress: address,
      perMessageDeflate: false,
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', () => resolve(0));
    ws.once('message', () => {
      sockets.add(ws);
      ws.on('ping', () => void pings++);
      ws.once('close', () => {
        if (sockets.delete(ws)) dropped++;
      });
      resolve(101);
    });
  });
}

async function open({ count, window }) {
  const started = performance.now();
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      if ((await dial(`${userPrefix}${Math.floor(i / 3)}`)) !== 101) failed++;
      if (sockets.size % 2_000 === 0) process.send({ type: 'progress', open: sockets.size });
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return { opened: count - failed, failed, ms: performance.now() - started };
}

function closeAll() {
  const closing = [...sockets];
  sockets.clear();
  for (const ws of closing) ws.terminate();
  return { closed: closing.length };
}

process.on('message', async (message) => {
  if (message.type === 'open') process.send({ type: 'open', ...(await open(message)) });
  else if (message.type === 'extra') process.send({ type: 'extra', status: await dial(message.user) });
  else if (message.type === 'hold') process.send({ type: 'hold', open: sockets.size, dropped, pings });
  else if (message.type === 'close') process.send({ type: 'close', ...closeAll() });
  else if (message.type === 'exit') process.exit(0);
});
process.send({ type: 'ready' });
