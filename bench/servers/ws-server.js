// Bare `ws` with the heartbeat pattern from its README: the baseline every ratio is against.
// The application is the same for every contender: a welcome frame, echo, and broadcast.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { fanoutPayload, heartbeatMs, idOf, released, serveBenchControl, WELCOME } from './control.js';

const server = createServer();
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false });
function heartbeat() {
  this.isAlive = true;
}
function echo(data, isBinary) {
  this.send(data, { binary: isBinary });
}
wss.on('connection', (ws, request) => {
  const id = idOf(request.url);
  ws.isAlive = true;
  ws.on('error', console.error);
  ws.on('pong', heartbeat);
  ws.on('message', echo);
  ws.on('close', () => released(id));
  ws.send(WELCOME);
});
const interval = setInterval(() => {
  for (const ws of wss.clients) {
    if (ws.isAlive === false) {
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, heartbeatMs);
wss.on('close', () => clearInterval(interval));
server.listen(0, '127.0.0.1', () =>
  serveBenchControl(server.address().port, {
    count: () => wss.clients.size,
    broadcast(round) {
      const text = JSON.stringify(fanoutPayload(round));
      for (const ws of wss.clients) ws.send(text);
    },
  }),
);
