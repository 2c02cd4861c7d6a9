// Socket.IO v4 on the websocket transport only, compression off, with the same application as the
// others: a welcome event, echo, and broadcast. Its heartbeat (engine.io's ping) is set to the
// run's interval, with the pong awaited for as long again.
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { fanoutPayload, heartbeatMs, released, serveBenchControl } from './control.js';

const server = createServer();
const io = new Server(server, {
  path: '/ws',
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  pingInterval: heartbeatMs,
  pingTimeout: heartbeatMs,
});
io.on('connection', (socket) => {
  const id = Number(socket.handshake.query.id);
  socket.on('m', (data) => socket.emit('m', data));
  socket.on('disconnect', () => released(id));
  socket.emit('welcome');
});
server.listen(0, '127.0.0.1', () =>
  serveBenchControl(server.address().port, {
    count: () => io.engine.clientsCount,
    broadcast(round) {
      io.emit('m', fanoutPayload(round));
    },
  }),
);
