// The servers measured side by side. Each runs in its own process with the same application (a
// welcome frame, echo and broadcast); `kind` is how a load process speaks to it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

/** Every contender, the baseline first: every ratio is against bare `ws`. */
export const CONTENDERS = [
  {
    name: 'ws',
    script: 'servers/ws-server.js',
    kind: 'raw',
    packages: ['ws'],
    heartbeat: (ms) => `ping every ${ms / 1000} s, terminate if no pong by the next (README pattern)`,
  },
  {
    name: 'sockwarden',
    script: 'servers/sockwarden-server.js',
    kind: 'sockwarden',
    packages: [],
    heartbeat: (ms) => `heartbeatIntervalMs ${ms}, pongTimeoutMs ${Math.round(ms * 0.9)}`,
  },
  {
    name: 'socket.io',
    script: 'servers/socketio-server.js',
    kind: 'socketio',
    packages: ['socket.io', 'socket.io-client'],
    heartbeat: (ms) => `pingInterval ${ms}, pingTimeout ${ms}`,
  },
  {
    name: 'uWS',
    script: 'servers/uws-server.js',
    kind: 'raw',
    packages: ['@trufflesuite/uws-js-unofficial'],
    // Mirrors uws-server.js: uWS takes whole seconds and refuses fewer than 8.
    heartbeat: (ms) => `idleTimeout ${Math.max(8, Math.round((2 * ms) / 1000))} s with automatic pings`,
  },
];

function packageJson(name) {
  const file = join(root, 'node_modules', name, 'package.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
}

/** The installed version of each of a contender's packages, or why it cannot run. */
export function inspect(contender) {
  if (contender.name === 'sockwarden') {
    if (!existsSync(join(root, 'dist/index.js'))) return { missing: 'dist/ is not built: run npm run build' };
    return { versions: { sockwarden: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version } };
  }
  const versions = {};
  for (const name of contender.packages) {
    const pkg = packageJson(name);
    if (!pkg) return { missing: `${name} is not installed (a devDependency: npm install)` };
    versions[name] = pkg.version;
  }
  return { versions };
}
