/**
 * The heart batcher (src/rooms/heart-tap-batcher.ts, heart-tap-script.ts): the taps of a room that
 * arrive in one event-loop turn are one script call (at most HEART_BATCH_MAX taps each, one call
 * per room), decided in order as separate calls would be — every tap answered, totals exact, the
 * per-user rate limit exact inside a batch and across the rate-limit hash's two generations — and
 * a batch sent into a stalled Redis counts nothing (and limits no one) when Redis wakes.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, toErrorBody } from '../src/core/errors.js';
import { roomKey } from '../src/core/keys.js';
import { createRedisClient, type RedisClient } from '../src/core/redis-client.js';
import { RedisGuard } from '../src/core/redis-guard.js';
import { EngagementStore } from '../src/rooms/engagement-store.js';
import { HEART_BATCH_MAX, HeartTapBatcher } from '../src/rooms/heart-tap-batcher.js';
import { onCluster, startTestRedis, type TestRedis } from './helpers/test-redis.js';
import { signalAndConfirm } from './helpers/process-signals.js';

let redis: TestRedis;
/** The test's own reads (no command timeout). */
let probe: RedisClient;
/** The stores' client: a command timeout, as a server has. */
let client: RedisClient;
const closers: (() => void)[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  probe = redis.client();
  await probe.ping(); // connected (on a cluster: the slot map, so scriptCalls sees every master)
  client = createRedisClient(redis.target, { commandTimeoutMs: 10_000, name: 'hearts-test' });
});
afterAll(async () => {
  for (const close of closers) close();
  probe?.disconnect();
  client?.disconnect();
  await redis?.stop();
});

function store(heartsPerSecond: number, storeClient: RedisClient = client) {
  const counted: { roomId: string; hearts: number }[] = [];
  const engagement = new EngagementStore(storeClient, heartsPerSecond, { onHearts: (roomId, hearts) => counted.push({ roomId, hearts }) });
  closers.push(() => engagement.close());
  return { engagement, counted };
}

/** Script calls Redis has run so far (EVALSHA, or EVAL the first time a node sees the script);
 * on a cluster, summed over its masters. */
async function scriptCalls(): Promise<number> {
  const servers = 'nodes' in probe ? probe.nodes('master') : [probe];
  const infos = await Promise.all(servers.map((r) => r.info('commandstats')));
  let calls = 0;
  for (const info of infos) for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(m[1]);
  return calls;
}

const hearts = async (roomId: string) => (await probe.hmget(roomKey(roomId, 'stats'), 'hearts', 'engagement')).map(Number);

/** Settles every tap; returns for each its ack or its refusal's error body. */
async function settle(taps: Promise<{ counted: number }>[]) {
  return (await Promise.allSettled(taps)).map((r) => (r.status === 'fulfilled' ? r.value : toErrorBody(r.reason)));
}

/** Redis's clock in ms. */
async function redisNow(): Promise<number> {
  const [s, us] = await probe.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** Waits until Redis's clock reaches `at` (what the windows are measured on). */
async function redisClockAt(at: number): Promise<void> {
  while ((await redisNow()) < at) await new Promise((ok) => setTimeout(ok, 20));
}

describe('heart tap batcher', () => {
  it('counts 1,200 taps of 300 users in one turn with ceil(1200 / 512) script calls, every tap answered, totals exact', async () => {
    const { engagement, counted } = store(1000);
    const roomId = `r-${randomUUID()}`;
    await engagement.tapHearts(roomId, 'warm-up', 1); // loads the script on the room's node
    counted.length = 0;
    const before = await scriptCalls();

    const taps: Promise<{ counted: number }>[] = [];
    let sent = 0;
    for (let round = 0; round < 4; round++) {
      for (let u = 0; u < 300; u++) {
        const count = 1 + ((u + round) % 20);
        sent += count;
        taps.push(engagement.tapHearts(roomId, `u${u}`, count));
      }
    }
    const answers = await settle(taps);

    expect(await scriptCalls()).toBe(before + Math.ceil(1200 / HEART_BATCH_MAX));
    expect(answers).toEqual(taps.map((_, i) => ({ counted: 1 + ((i % 300) + Math.floor(i / 300)) % 20 })));
    expect(await hearts(roomId)).toEqual([1 + sent, 1 + sent]); // a heart weighs 1
    // Told once per script call, with exactly what each call counted.
    expect(counted).toHaveLength(Math.ceil(1200 / HEART_BATCH_MAX));
    expect(counted.every((c) => c.roomId === roomId)).toBe(true);
    expect(counted.reduce((n, c) => n + c.hearts, 0)).toBe(sent);
  });

  it('sends one call per room when a turn brings taps for several rooms, each room exact', async () => {
    const { engagement } = store(1000);
    const rooms = [0, 1, 2].map(() => `r-${randomUUID()}`);
    await Promise.all(rooms.map((r) => engagement.tapHearts(r, 'warm-up', 1)));
    const before = await scriptCalls();
    const taps = [];
    for (let i = 0; i < 300; i++) taps.push(engagement.tapHearts(rooms[i % 3]!, `u${i}`, 2)); // interleaved
    await Promise.all(taps);
    expect(await scriptCalls()).toBe(before + 3);
    for (const r of rooms) expect(await hearts(r)).toEqual([1 + 200, 1 + 200]);
  });

  it('keeps the per-user limit exact inside a batch: 25 taps in one turn at 20/s → the first 20 counted, 5 RATE_LIMITED', async () => {
    const { engagement, counted } = store(20);
    const roomId = `r-${randomUUID()}`;
    const taps: Promise<{ counted: number }>[] = [];
    const greedy: number[] = [];
    for (let i = 0; i < 25; i++) {
      greedy.push(taps.length);
      taps.push(engagement.tapHearts(roomId, 'greedy', 3));
      if (i % 5 === 0) taps.push(engagement.tapHearts(roomId, 'calm', 2)); // someone else's taps, in between
    }
    const answers = await settle(taps);
    const limited = { code: 'RATE_LIMITED', message: 'at most 20 heart events per second' }; // as documented, no retryAfterMs
    expect(greedy.map((i) => answers[i])).toEqual([...Array(20).fill({ counted: 3 }), ...Array(5).fill(limited)]);
    expect(answers.filter((_, i) => !greedy.includes(i))).toEqual(Array(5).fill({ counted: 2 }));
    expect(await hearts(roomId)).toEqual([20 * 3 + 5 * 2, 20 * 3 + 5 * 2]);
    expect(counted).toEqual([{ roomId, hearts: 70 }]);

    // The window holds across calls: a later turn's tap is refused too, and counts nothing.
    const later = await settle([engagement.tapHearts(roomId, 'greedy', 1), engagement.tapHearts(roomId, 'calm', 1)]);
    expect(later).toEqual([limited, { counted: 1 }]);
    expect(await hearts(roomId)).toEqual([71, 71]);
    // The refusal is one shared error whose ack is built once (a rush refuses thousands).
    const again = await Promise.allSettled([engagement.tapHearts(roomId, 'greedy', 1), engagement.tapHearts(roomId, 'greedy', 1)]);
    const [a, b] = again.map((r) => (r.status === 'rejected' ? r.reason : null));
    expect(a).toBeInstanceOf(AppError);
    expect(a).toBe(b);
  });

  it('keeps a window across the rotation of the rate-limit generations and drops entries whose windows are over', { timeout: 30_000 }, async () => {
    const W = 2000;
    const batcher = new HeartTapBatcher(client, (_count, total) => total, {
      rlMax: 3,
      rlWindowMs: W,
      weight: 1,
      rateLimited: new AppError('RATE_LIMITED', 'limited'),
    });
    closers.push(() => batcher.close());
    const roomId = `r-${randomUUID()}`;
    const current = roomKey(roomId, 'rl:hearts');
    const previous = roomKey(roomId, 'rl:hearts:previous');
    const windowOf = async (key: string, user: string) => (await probe.hget(key, user))?.split('|').map(Number) ?? null;
    const outcome = (p: Promise<number>) => p.then(() => 'ok', (err: AppError) => err.code);

    expect(await outcome(batcher.tap(roomId, 'x', 1))).toBe('ok');
    const born = Number(await probe.hget(current, '#born'));
    expect(await probe.pttl(current)).toBeLessThanOrEqual(W);

    // Half a window later, u uses up its window in one turn.
    await redisClockAt(born + W / 2);
    expect(await Promise.all([1, 2, 3, 4].map(() => outcome(batcher.tap(roomId, 'u', 1))))).toEqual(['ok', 'ok', 'ok', 'RATE_LIMITED']);
    const [uStart, uCount] = (await windowOf(current, 'u'))!;
    expect(uCount).toBe(3);

    // The generation is a window old: the next call rotates it, and u's window, still open, is
    // found in the previous generation.
    await redisClockAt(born + W);
    expect(await outcome(batcher.tap(roomId, 'u', 1))).toBe('RATE_LIMITED');
    expect(await redisNow()).toBeLessThan(uStart! + W); // (else this machine stalled for a second and the check above proved nothing)
    expect(await probe.exists(current)).toBe(0);
    expect(await windowOf(previous, 'u')).toEqual([uStart, 3]);
    expect(await outcome(batcher.tap(roomId, 'y', 1))).toBe('ok'); // the new generation
    const born2 = Number(await probe.hget(current, '#born'));
    expect(born2).toBeGreaterThanOrEqual(born + W);

    // Once u's window is over, u counts again (a new window, in the current generation).
    await redisClockAt(uStart! + W);
    expect(await outcome(batcher.tap(roomId, 'u', 1))).toBe('ok');
    expect((await windowOf(current, 'u'))![1]).toBe(1);

    // The next rotation drops the generation x was written in: its window is long over.
    await redisClockAt(born2 + W);
    expect(await outcome(batcher.tap(roomId, 'z', 1))).toBe('ok');
    expect(await windowOf(previous, 'x')).toBeNull();
    expect(await windowOf(current, 'x')).toBeNull();
    expect(await probe.hkeys(previous)).toEqual(expect.arrayContaining(['u', 'y']));
    expect(await probe.hkeys(current)).toEqual(expect.arrayContaining(['z', '#born']));
    expect(await probe.hlen(current)).toBe(2);
  });

  // Freezing one of a cluster's servers is a partial stall with slot failover, something else
  // (see redis-stall.test.ts): single Redis only.
  it.skipIf(onCluster)('answers a batch sent into a stalled Redis UNAVAILABLE; when Redis wakes it counts nothing and limits no one', { timeout: 60_000 }, async () => {
    const TIMEOUT_MS = 1000;
    const guard = new RedisGuard(TIMEOUT_MS);
    const guarded = guard.protect(new Redis(redis.url, { commandTimeout: TIMEOUT_MS, maxRetriesPerRequest: 1, enableAutoPipelining: true }));
    closers.push(() => guarded.disconnect());
    await guard.calibrate(guarded);
    const { engagement } = store(20, guarded);
    const roomId = `r-${randomUUID()}`;
    await engagement.tapHearts(roomId, 'warm-up', 1); // the batcher's connection is up, the script loaded

    await signalAndConfirm(redis.pid, 'SIGSTOP');
    let stopped = true;
    try {
      // One turn: 10 users × 5 taps, and one user at the limit (20 taps), all in one call.
      const taps: Promise<{ counted: number }>[] = [];
      for (let i = 0; i < 50; i++) taps.push(engagement.tapHearts(roomId, `u${i % 10}`, 3));
      for (let i = 0; i < 20; i++) taps.push(engagement.tapHearts(roomId, 'greedy', 1));
      const answers = await settle(taps);
      for (const a of answers) expect(a).toMatchObject({ code: 'UNAVAILABLE' });
      expect(guard.isOpen).toBe(true);
      // While the breaker is open a tap is refused without being sent.
      await expect(engagement.tapHearts(roomId, 'u0', 1)).rejects.toThrow(/circuit open/);

      await signalAndConfirm(redis.pid, 'SIGCONT');
      stopped = false;
      // A tap of another room on the batcher's connection is answered only after the frozen call
      // has run there (one connection answers in order): once it is, the frozen call is done.
      for (const started = Date.now(); ; ) {
        try {
          await engagement.tapHearts(`r-${randomUUID()}`, 'after', 1);
          break;
        } catch (err) {
          expect(toErrorBody(err).code).toBe('UNAVAILABLE');
          expect(Date.now() - started).toBeLessThan(10_000);
          await new Promise((ok) => setTimeout(ok, 20)); // the breaker closes when its probe is answered
        }
      }
      expect(await hearts(roomId)).toEqual([1, 1]); // the warm-up tap only
      // Nothing was limited either: greedy's whole window is still to be used.
      const retried = await settle(Array.from({ length: 21 }, () => engagement.tapHearts(roomId, 'greedy', 1)));
      expect(retried.filter((a) => 'counted' in a)).toHaveLength(20);
      expect(await hearts(roomId)).toEqual([21, 21]);
    } finally {
      if (stopped) process.kill(redis.pid, 'SIGCONT');
    }
  });
});

