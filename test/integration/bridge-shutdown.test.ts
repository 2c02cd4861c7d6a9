/**
 * `sockwarden serve` drained by SIGTERM: every live session ends (drained), and each one's
 * `disconnect` event must reach the backend before the process exits, within the drain window: the
 * gateway waits for the bridge before it disposes the bridge's scope (`beforeDispose`). An event
 * that cannot make it in time is counted and logged, never dropped in silence.
 */
import { describe, expect, it } from 'vitest';
import { startBackend, type TestBackend } from '../helpers/backend.js';
import { serve } from '../helpers/cli.js';
import { connect, type TestClient } from '../helpers/gateway.js';

const SESSIONS = 20;

/** Serves with the bridge, opens SESSIONS sessions, drains with SIGTERM; returns what each side saw. */
async function drainWithLiveSessions(backend: TestBackend) {
  const { child, base, exited, stderr } = await serve([
    '--insecure',
    '--backend-url',
    backend.url,
    '--backend-secret',
    'backend-secret',
    '--backend-events',
    'disconnect',
  ]);
  const clients: TestClient[] = [];
  for (let i = 0; i < SESSIONS; i++)
    clients.push(await connect(`${base.replace('http', 'ws')}/ws`, { user: `u${i}`, session: `s${i}` }));
  child.kill('SIGTERM');
  for (const client of clients) expect((await client.closed).code).toBe(1012);
  const code = await exited;
  const delivered = new Set(
    backend.requests.filter((r) => r.body.event === 'disconnect').map((r) => r.body.session),
  );
  const givenUp = new Set(
    stderr()
      .split('\n')
      .filter((line) => line.includes('backend disconnect event given up'))
      .map((line) => (JSON.parse(line) as { session: string }).session),
  );
  return { code, delivered, givenUp };
}

describe('backend bridge: shutdown', () => {
  it('accounts for every disconnect on SIGTERM: delivered, or counted and logged with its session', async () => {
    const backend = await startBackend();
    const { code, delivered, givenUp } = await drainWithLiveSessions(backend);
    // Exit 0: nothing was left behind either.
    expect(code).toBe(0);
    expect(new Set([...delivered, ...givenUp]).size).toBe(SESSIONS);
    expect(backend.requests.every((r) => r.signed)).toBe(true);
  });

  it('delivers the disconnect of each of 20 live sessions before the process exits on SIGTERM', async () => {
    const backend = await startBackend();
    const { code, delivered, givenUp } = await drainWithLiveSessions(backend);
    expect(code).toBe(0);
    expect(delivered.size).toBe(SESSIONS);
    expect(givenUp.size).toBe(0);
  });
});
