// uWebSockets.js (through @trufflesuite/uws-js-unofficial) with the same application as the others:
// a welcome frame, echo, and broadcast through its own pub/sub, which is how uWS broadcasts. Its
// heartbeat is `idleTimeout` with automatic pings, in whole seconds; it refuses fewer than 8 ("must
// be either 0 or greater than 8"), so the dead-peer row says what it was given.
import uWS from '@trufflesuite/uws-js-unofficial';
import { fanoutPayload, heartbeatMs, idOf, released, serveBenchControl, WELCOME } from './control.js';

/** uWS closes a socket after idleTimeout seconds without traffic, pinging before that. */
const IDLE_TIMEOUT_S = Math.max(8, Math.round((2 * heartbeatMs) / 1000));
let connections = 0;
const app = uWS.App().ws('/ws', {
  compression: uWS.DISABLED,
  idleTimeout: IDLE_TIMEOUT_S,
  sendPingsAutomatically: true,
  maxPayloadLength: 64 * 1024,
  upgrade(res, req, context) {
    res.upgrade(
      { id: idOf(`?${req.getQuery()}`) },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open(ws) {
    connections++;
    ws.subscribe('all');
    ws.send(WELCOME);
  },
  message(ws, message, isBinary) {
    ws.send(message, isBinary);
  },
  close(ws) {
    connections--;
    released(ws.getUserData().id);
  },
});
app.listen('127.0.0.1', 0, (token) => {
  if (!token) throw new Error('uWS could not listen');
  serveBenchControl(uWS.us_socket_local_port(token), {
    count: () => connections,
    broadcast(round) {
      app.publish('all', JSON.stringify(fanoutPayload(round)));
    },
  });
});
