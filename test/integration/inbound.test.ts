import { describe, expect, it } from 'vitest';
import { type Running, type TestClient, useGateway } from '../helpers/gateway.js';

const gw = useGateway();
let running: Running | undefined;

async function open(options = {}): Promise<TestClient> {
  running = await gw.start(options);
  return gw.open({ user: 'u' });
}

describe('inbound frames', () => {
  it('answers a malformed frame with bad_frame and keeps the connection', async () => {
    const client = await open();
    client.send('{not json');
    expect(await client.next((f) => f.type === 'error')).toMatchObject({
      code: 'bad_frame',
      message: 'frame is not valid JSON',
    });
    client.send({ type: 'nonsense' });
    await client.next((f) => f.type === 'error' && String(f.message).includes('"type"'));
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await client.next((f) => f.type === 'error' && String(f.message).includes('binary'));
    client.send({ type: 'ping' });
    await client.next((f) => f.type === 'pong');
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('closes with 1009 when a frame is larger than maxPayloadBytes', async () => {
    const client = await open({ maxPayloadBytes: 1_024 });
    client.send({ type: 'message', data: 'y'.repeat(2_000) });
    expect((await client.closed).code).toBe(1009);
    expect(running?.gateway.stats().connections).toBe(0);
  });

  it('rate-limits messages with retryAfterMs, and closes 4105 on persistent abuse', async () => {
    const client = await open({ inboundRatePerConnection: { perSecond: 1, burst: 5 }, maxViolations: 5 });
    for (let i = 0; i < 7; i++) client.send({ type: 'message', data: i });
    const limited = await client.next((f) => f.type === 'error' && f.code === 'rate_limited');
    expect(limited.retryAfterMs as number).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) client.send({ type: 'message', data: i });
    expect((await client.closed).code).toBe(4105);
  });

  it('closes 4105 after repeated malformed frames', async () => {
    const client = await open({ maxViolations: 3 });
    for (let i = 0; i < 5; i++) client.send('garbage');
    expect((await client.closed).code).toBe(4105);
  });
});
