/**
 * The backend's circuit is shared by every session, so only the backend's own failures may open it.
 * A client whose input the backend refuses (4xx) or answers wrongly (a bad reply) is told so, but
 * cannot trip the circuit for everyone else.
 */
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type BackendRequest, bridge, startBackend } from '../helpers/backend.js';
import { type Frame, useGateway } from '../helpers/gateway.js';

const gw = useGateway();
const detachers: Array<() => void> = [];
afterEach(() => {
  for (const detach of detachers.splice(0)) detach();
});

const ATTACKS = 5;
const isError = (f: Frame) => f.type === 'error';
const json = (res: ServerResponse, body: unknown) =>
  void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));

/** An attacker sends ATTACKS messages the backend answers with `answer`, then a victim sends one. */
async function attackThenVictim(answer: (res: ServerResponse) => void) {
  const running = await gw.start({
    governor: { breakerConsecutiveFailures: ATTACKS, breakerMinimumRequests: ATTACKS, backoffBaseMs: 10 },
  });
  const backend = await startBackend();
  backend.handle = (request: BackendRequest, res) => {
    if (request.body.user === 'attacker') answer(res);
    else json(res, { answer: request.body.data });
  };
  detachers.push(bridge(running, backend.url));
  const attacker = await gw.open({ user: 'attacker' });
  for (let i = 0; i < ATTACKS; i++) {
    attacker.send({ type: 'message', id: `a${i}`, data: 'refused input' });
    await attacker.next((f) => isError(f) && f.ref === `a${i}`);
  }
  const victim = await gw.open({ user: 'victim' });
  victim.send({ type: 'message', id: 'v1', data: 'hello' });
  const reply = await victim.next((f) => f.type === 'message' || isError(f));
  return { running, attacker, reply, backend };
}

describe('backend bridge: only the backend’s own failures count toward its circuit', () => {
  it('five 422s from one session do not open the circuit: another session still gets its answers', async () => {
    const { running, attacker, reply, backend } = await attackThenVictim(
      (res) => void res.writeHead(422).end(),
    );
    expect(reply).toMatchObject({ type: 'message', data: { answer: 'hello' } });
    // Each refusal reached the attacker, named by its ref, as the backend refusing that message.
    const errors = attacker.frames.filter(isError);
    expect(errors.map((f) => f.ref)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    for (const error of errors) {
      expect(error).toMatchObject({ code: 'backend_rejected', message: expect.stringMatching(/HTTP 422/) });
    }
    // A refusal is final (not retried) and not held against the backend's circuit, though the
    // figures still count each as a call that failed.
    expect(backend.requests.filter((r) => r.body.user === 'attacker')).toHaveLength(ATTACKS);
    expect(running.gateway.stats().upstream.backend).toMatchObject({ circuit: 'closed', failures: ATTACKS });
  });

  it.each([
    [400, 'bad request'],
    [404, 'not found'],
    [409, 'conflict'],
  ])('neither do %i (%s) answers', async (status) => {
    const { running, reply } = await attackThenVictim((res) => void res.writeHead(status).end());
    expect(reply).toMatchObject({ type: 'message', data: { answer: 'hello' } });
    expect(running.gateway.stats().upstream.backend?.circuit).toBe('closed');
  });

  it('nor bad replies the attacker’s input provoked (invalid JSON)', async () => {
    const { running, attacker, reply } = await attackThenVictim(
      (res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"echo":'),
    );
    expect(reply).toMatchObject({ type: 'message', data: { answer: 'hello' } });
    expect(attacker.frames.filter(isError).every((f) => f.code === 'backend_bad_reply')).toBe(true);
    expect(running.gateway.stats().upstream.backend?.circuit).toBe('closed');
  });

  it('5xx answers still open it, for everyone: the backend is failing', async () => {
    const { running, reply } = await attackThenVictim((res) => void res.writeHead(500).end());
    expect(reply).toMatchObject({
      type: 'error',
      code: 'backend_unavailable',
      ref: 'v1',
      message: expect.stringMatching(/circuit open/),
    });
    expect(running.gateway.stats().upstream.backend?.circuit).toBe('open');
  });
});
