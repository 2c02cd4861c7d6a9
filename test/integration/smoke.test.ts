import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Running, startGateway, until } from '../helpers/gateway.js';

let running: Running | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

describe('gateway basics', () => {
  it('welcomes, delivers sequenced messages both ways, and releases everything on close', async () => {
    running = await startGateway();
    const received: unknown[] = [];
    running.gateway.on('session', (session) => {
      session.onMessage((data) => {
        received.push(data);
        void session.send({ echo: data });
      });
    });
    const client = await connect(running.url, { user: 'alice' });
    const welcome = client.frames[0];
    expect(welcome).toMatchObject({ type: 'welcome', resumed: false, seq: 0 });
    client.send({ type: 'message', id: 'm1', data: 'hi' });
    const reply = await client.next((f) => f.type === 'message');
    expect(reply).toEqual({ type: 'message', seq: 1, data: { echo: 'hi' } });
    expect(received).toEqual(['hi']);
    expect(running.gateway.stats()).toMatchObject({ connections: 1, sessions: 1, users: 1 });
    client.ws.close(1000);
    await until(() => running?.gateway.stats().sessions === 0, 2000, 'session end');
    const stats = running.gateway.stats();
    expect(stats.connections).toBe(0);
    expect(Object.values(stats.resources).filter((n) => n !== 0 && n !== undefined)).toEqual([3]);
  });
});
