// sockwarden with every feature on: heartbeats on the timer wheel, per-user limits with zombie
// probing, sessions with replay rings, metrics and logs. The application is the same as the
// peers': echo and broadcast. It also records admission-decision and close-handler times for the
// "sockwarden alone" table, from the gateway's diagnostics channels.
import { subscribe } from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import { pino } from 'pino';
import { createGateway, DIAGNOSTICS_CHANNELS } from '../../dist/index.js';
import { fanoutPayload, heartbeatMs, released, serveBenchControl } from './control.js';

const gateway = createGateway({
  insecure: true,
  logger: pino({ level: 'error' }),
  heartbeatIntervalMs: heartbeatMs,
  pongTimeoutMs: Math.round(heartbeatMs * 0.9),
  maxConnections: 40_000,
  maxConnectionsPerIp: 40_000,
  maxConnectionsPerUser: 10,
  maxSessionsPerUser: 10,
  connectRatePerIp: { perSecond: 1_000_000, burst: 1_000_000 },
});
const sessions = new Set();
gateway.on('session', (session) => {
  sessions.add(session);
  session.scope.signal.addEventListener('abort', () => sessions.delete(session), { once: true });
  session.onMessage((data) => void session.send(data));
});

const admissionUs = [];
const cleanupUs = [];
subscribe(DIAGNOSTICS_CHANNELS.admission, ({ durationMs }) => admissionUs.push(durationMs * 1000));
subscribe(DIAGNOSTICS_CHANNELS.connectionClose, ({ identity, cleanupMs }) => {
  cleanupUs.push(cleanupMs * 1000);
  // The load generator names each connection's user `u<id>`.
  released(Number(identity.user.slice(1)));
});

const server = createServer();
gateway.attach(server);
server.listen(0, '127.0.0.1', () =>
  serveBenchControl(server.address().port, {
    count: () => gateway.stats().connections,
    broadcast(round) {
      const payload = fanoutPayload(round);
      for (const session of sessions) void session.send(payload);
    },
    samples: () => ({ admissionUs: admissionUs.splice(0), cleanupUs: cleanupUs.splice(0) }),
  }),
);
