import { describe, expect, it } from 'vitest';
import { connect, type Running, until, useGateway } from '../helpers/gateway.js';

const gw = useGateway();
let running: Running | undefined;

describe('gateway basics', () => {
  it('welcomes, delivers sequenced messages both ways, and frees per-connection resources on close', async () => {
    running = await gw.start();
    const received: unknown[] = [];
    running.gateway.on('session', (session) => {
      session.onMessage((data) => {
        received.push(data);
        void session.send({ echo: data });
      });
    });
    const client = await connect(running.url, { user: 'alice' });
    expect(client.frames[0]).toMatchObject({ type: 'welcome', resumed: false, seq: 0, heartbeatMs: 25_000 });
    client.send({ type: 'message', id: 'm1', data: 'hi' });
    const reply = await client.next((f) => f.type === 'message');
    expect(reply).toEqual({ type: 'message', seq: 1, data: { echo: 'hi' } });
    expect(received).toEqual(['hi']);
    expect(running.gateway.stats()).toMatchObject({ connections: 1, sessions: 1, users: 1 });
    expect(running.gateway.stats().resources).toMatchObject({ connection: 1, session: 1 });
    client.ws.close(1000);
    await until(() => running?.gateway.stats().sessions === 0, 2000, 'session end');
    expect(running.gateway.stats()).toMatchObject({ connections: 0, users: 0 });
    expect(running.gateway.stats().resources).toMatchObject({ connection: 0, session: 0 });
  });
});
