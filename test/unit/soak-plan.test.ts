import { describe, expect, it } from 'vitest';
import { parseDuration, parsePercent, parseRate, readSoakPlan } from '../../src/soak/plan.js';

describe('sockwarden soak flags', () => {
  it('reads durations, rates and percentages in the forms the docs show', () => {
    expect(parseDuration('d', '500ms')).toBe(500);
    expect(parseDuration('d', '60s')).toBe(60_000);
    expect(parseDuration('d', '2m')).toBe(120_000);
    expect(parseDuration('d', '1h')).toBe(3_600_000);
    expect(parseDuration('d', '90')).toBe(90_000);
    expect(parseRate('r', '200/s')).toBe(200);
    expect(parseRate('r', '30/m')).toBe(0.5);
    expect(parsePercent('p', '20%')).toBeCloseTo(0.2);
    expect(parsePercent('p', '2.5')).toBeCloseTo(0.025);
  });

  it('resolves the example of the docs into a plan with one process per 15,000 connections', () => {
    const plan = readSoakPlan(
      '--url ws://127.0.0.1:8080/ws --api http://127.0.0.1:8080 --api-key K --connections 40000 --users 200 --duration 60s --churn 200/s --messages 5/s --abrupt 20% --zombies 5% --silent 2% --slow 2% --resume 30% --stopped 1%'.split(
        ' ',
      ),
    );
    expect(plan).toMatchObject({
      apiKey: 'K',
      connections: 40_000,
      processes: 3,
      durationMs: 60_000,
      warmupMs: 12_000,
      churnPerSecond: 200,
      messagesPerSecond: 5,
      json: false,
    });
    expect(plan.mix).toEqual({
      abrupt: 0.2,
      resume: 0.3,
      zombies: 0.05,
      silent: 0.02,
      slow: 0.02,
      stopped: 0.01,
    });
  });

  it.each([
    [['--duration', 'soon'], /--duration: "soon" is not a duration/],
    [['--churn', 'fast'], /--churn: "fast" is not a rate/],
    [['--zombies', '120%'], /--zombies: "120%" is not a percentage from 0% to 100%/],
    [['--connections', '0'], /--connections: "0" is not a positive integer/],
    [['--abrupt', '80%', '--resume', '30%'], /--abrupt and --resume together exceed 100%/],
    [['--zombies', '50%', '--slow', '60%'], /together exceed 100%/],
    [['--url', 'http://x/ws'], /--url: must be a ws: or wss:\/\/ URL/],
    [['--warmup', '90s', '--duration', '60s'], /--warmup: must be shorter than --duration/],
    [['--conections', '5'], /--conections: unknown flag/],
    [['--users'], /--users: needs a value/],
  ])('refuses %j naming the flag', (args, message) => {
    expect(() => readSoakPlan(args)).toThrow(message);
    expect(() => readSoakPlan(args)).toThrow(expect.objectContaining({ code: 'invalid_config' }));
  });
});
