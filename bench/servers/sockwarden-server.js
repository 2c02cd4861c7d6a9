// sockwarden with every feature on: heartbeats, per-user limits, sessions with replay, metrics.
// It records admission-decision and close-to-released times for the report.
import { createServer } from 'node:http';
import { pino } from 'pino';
import { hubOf } from '../../dist/gateway.js';
import { createGateway } from '../../dist/index.js';
import { serveBenchControl } from './control.js';

const gateway = createGateway({
  insecure: true,
  logger: pino({ level: 'warn' }),
  maxConnections: 40_000,
  maxConnectionsPerIp: 40_000,
  maxConnectionsPerUser: 10,
  maxSessionsPerUser: 10,
  connectRatePerIp: { perSecond: 1_000_000, burst: 1_000_000 },
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
};
const server = createServer();
gateway.attach(server);
server.listen(0, '127.0.0.1', () =>
  serveBenchControl(server, () => ({ connections: gateway.stats().connections }), {
    samples: () => ({ admissionUs: admissionUs.splice(0), cleanupUs: cleanupUs.splice(0) }),
  }),
);
