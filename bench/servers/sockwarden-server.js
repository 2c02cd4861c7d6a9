// sockwarden with every feature on: heartbeats on the timer wheel, per-user limits with zombie
// probing, sessions with replay rings, metrics and logs. The application is the same as the
// peers': echo and broadcast. It also records admission-decision and close-handler times for the
// "sockwarden alone" table.
import { createServer } from 'node:http';
import { pino } from 'pino';
import { hubOf } from '../../dist/gateway.js';
import { createGateway } from '../../dist/index.js';
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

const hub = hubOf(gateway);
const admissionUs = [];
const cleanupUs = [];
const admit = hub.admit.bind(hub);
hub.admit = async (request) => {
  const started = performance.now();
  const result = await admit(request);
  admissionUs.push((performance.now() - started) * 1000);
  return result;
};
const telemetry = hub.telemetry;
const closed = telemetry.closed.bind(telemetry);
telemetry.closed = (identity, code, cleanupMs) => {
  cleanupUs.push(cleanupMs * 1000);
  closed(identity, code, cleanupMs);
  // The load generator names each connection's user `u<id>`.
  released(Number(identity.user.slice(1)));
};

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
