/**
 * The benchmark's regression guard, which times nothing: `sockwarden bench --smoke` runs every
 * scenario against every contender at tiny sizes, and its results must be complete and well formed.
 * The figures themselves are only compared in `npm run bench`, never asserted here.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { run } from '../helpers/cli.js';
import { redisAvailable } from '../helpers/redis.js';

const figure = z.number().finite().nonnegative();
const distribution = z.object({
  samples: z.number().int().positive(),
  p50: figure,
  p99: figure,
  max: figure,
});
const ladder = z.array(figure).length(101);

const contender = z.object({
  versions: z.record(z.string(), z.string()),
  heartbeat: z.string().min(1),
  memory: z.object({
    memory: z
      .array(
        z.object({
          connections: z.number().int().positive(),
          rssPerConnection: z.number().finite(),
          heapPerConnection: z.number().finite(),
        }),
      )
      .length(2),
    acceptPerSecond: figure.positive(),
    closeToReleasedMs: distribution,
  }),
  churn: z.object({
    cyclesPerSecond: figure.positive(),
    failed: z.literal(0),
    leftOpen: z.literal(0),
    rssBefore: figure,
    rssAfter: figure,
  }),
  fanout: z.object({ missed: z.literal(0), lastDeliveryMs: distribution.extend({ ladder }) }),
  echo: z.object({ messagesPerSecond: figure.positive(), roundTripMs: distribution.extend({ ladder }) }),
  deadPeer: z.object({ undetected: z.literal(0), setting: z.string().min(1), detectionMs: distribution }),
});

const cluster = z.object({
  admission: z.object({ memoryMs: distribution, redisMs: distribution }),
  publish: z.object({ sameNodeMs: distribution, crossNodeMs: distribution }),
  hold: z.object({
    target: z.number().int().positive(),
    held: z.number().int().positive(),
    failed: z.literal(0),
    droppedWhileHeld: z.literal(0),
    fourthOfUserStatus: z.literal(429),
    rssPerConnection: z.number().finite(),
    redisBytesPerConnection: z.number().finite(),
  }),
});

// Without redis-server (and without SOCKWARDEN_REQUIRE_REDIS) the cluster part is skipped, and says why.
const withRedis = redisAvailable();
const results = z.object({
  mode: z.literal('smoke'),
  node: z.string(),
  contenders: z.object({ ws: contender, sockwarden: contender, 'socket.io': contender, uWS: contender }),
  cluster: withRedis ? cluster : z.undefined(),
  skipped: withRedis ? z.object({}).strict() : z.object({ cluster: z.string() }).strict(),
  failures: z.array(z.string()).length(0),
});

describe('sockwarden bench --smoke', () => {
  it('runs every scenario against every contender and emits well-formed results', async () => {
    const { code, stdout, stderr } = await run(['bench', '--smoke', '--json']);
    expect(code, stderr.slice(-3000)).toBe(0);
    const parsed = results.safeParse(JSON.parse(stdout));
    expect(parsed.success ? 'well formed' : z.prettifyError(parsed.error)).toBe('well formed');
    // Every contender's closes were all matched to a release: nothing was lost between processes.
    for (const c of Object.values(parsed.data?.contenders ?? {}))
      expect(c.memory.closeToReleasedMs.samples).toBe(50);
    // sockwarden's own figures are there too, and the cluster held every connection it opened.
    expect(JSON.parse(stdout).contenders.sockwarden.memory.admissionUs.samples).toBe(200);
    if (withRedis) expect(parsed.data?.cluster?.hold.held).toBe(parsed.data?.cluster?.hold.target);
  }, 300_000);

  it('refuses an unknown contender, naming it and the known ones', async () => {
    const { code, stderr } = await run(['bench', '--contenders', 'ws,nginx']);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown contender nginx');
    expect(stderr).toContain('socket.io');
  });
});
