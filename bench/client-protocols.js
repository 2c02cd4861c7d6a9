// How a load process speaks to each contender. Every contender is reached the same way: a link that
// is ready once the server's welcome arrived, sends and receives application objects, and closes
// cleanly. Only the framing differs: raw JSON text (ws, uWS), sockwarden's protocol (welcome, sequenced
// messages, batched acks as its SDK sends them), and Socket.IO events.
import WebSocket from 'ws';

/** How long a connection may take to be welcomed before it counts as failed. */
const OPEN_TIMEOUT_MS = 30_000;
/** sockwarden's SDK acks at most this often; the load does the same so replay rings are freed. */
const ACK_EVERY_MS = 100;

/**
 * A connection of the load generator.
 * @typedef {{ id: number, send(data: object): void, close(): void, closed: Promise<void> }} Link
 */

const unacked = new Set();
let ackTimer = null;
function scheduleAck(state) {
  unacked.add(state);
  if (ackTimer) return;
  ackTimer = setTimeout(() => {
    ackTimer = null;
    for (const s of unacked)
      if (s.ws.readyState === WebSocket.OPEN) s.ws.send(`{"type":"ack","seq":${s.seq}}`);
    unacked.clear();
  }, ACK_EVERY_MS);
}

function dialWebSocket(kind, { url, id, localAddress, onData }) {
  const sockwarden = kind === 'sockwarden';
  const ws = new WebSocket(`${url}?user=u${id}&id=${id}`, sockwarden ? 'sockwarden.v1' : undefined, {
    localAddress,
    perMessageDeflate: false,
  });
  const state = { ws, seq: 0 };
  const closed = new Promise((resolve) => ws.once('close', resolve));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('not welcomed in time'));
    }, OPEN_TIMEOUT_MS);
    let welcomed = false;
    ws.on('message', (raw) => {
      if (!welcomed) {
        welcomed = true;
        clearTimeout(timer);
        resolve({
          id,
          send: (data) => ws.send(JSON.stringify(sockwarden ? { type: 'message', data } : data)),
          close: () => ws.close(1000),
          closed,
        });
        return;
      }
      const frame = JSON.parse(raw);
      if (!sockwarden) return onData(frame);
      if (frame.type !== 'message') return;
      state.seq = frame.seq;
      scheduleAck(state);
      onData(frame.data);
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    ws.once('close', () => {
      clearTimeout(timer);
      if (!welcomed) reject(new Error('closed before the welcome'));
    });
  });
}

let socketIoClient = null;
async function dialSocketIo({ url, id, localAddress, onData }) {
  socketIoClient ??= (await import('socket.io-client')).io;
  const { origin } = new URL(url.replace(/^ws/, 'http'));
  const socket = socketIoClient(origin, {
    path: '/ws',
    transports: ['websocket'],
    query: { id: String(id), user: `u${id}` },
    reconnection: false,
    forceNew: true,
    perMessageDeflate: false,
    localAddress,
    timeout: OPEN_TIMEOUT_MS,
  });
  const closed = new Promise((resolve) => socket.once('disconnect', () => resolve()));
  return new Promise((resolve, reject) => {
    socket.once('welcome', () =>
      resolve({
        id,
        send: (data) => socket.emit('m', data),
        close: () => socket.disconnect(),
        closed,
      }),
    );
    socket.on('m', onData);
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Opens one connection to a contender speaking `kind`; resolves once the server welcomed it. */
export function dial(kind, options) {
  return kind === 'socketio' ? dialSocketIo(options) : dialWebSocket(kind, options);
}
