// Bare `ws` with the heartbeat pattern from its README: the baseline every ratio is against.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { serveBenchControl } from './control.js';

const server = createServer();
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false });
function heartbeat() {
  this.isAlive = true;
}
wss.on('connection', (ws) => {
  ws.isAlive = true;
  ws.on('error', console.error);
  ws.on('pong', heartbeat);
  ws.send('{"type":"welcome"}');
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
}, 25_000);
wss.on('close', () => clearInterval(interval));
server.listen(0, '127.0.0.1', () => serveBenchControl(server, () => ({ connections: wss.clients.size })));
