/**
 * Giveaway entries batched per giveaway per event-loop turn (giveaway-entry-batcher.ts, core/
 * turn-batcher.ts; TEST_REDIS=cluster too): a turn's entries for one giveaway are one script call,
 * and every entry gets the answer it would get alone, in arrival order — eligible by the rule, not
 * eligible, free, a repeat (also within the turn), banned, the cap — with the same counters.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { giveawayKeys } from '../src/commerce/giveaways/giveaway-keys.js';
import { notEligibleMessage } from '../src/commerce/giveaways/giveaway-rules.js';
import { GiveawayStore } from '../src/commerce/giveaways/giveaway-store.js';
import { toErrorBody } from '../src/core/errors.js';
import { roomBansKey, roomFollowersKey } from '../src/core/keys.js';
import { createRedisClient, type RedisClient } from '../src/core/redis-client.js';
import { RedisGuard } from '../src/core/redis-guard.js';
import { signalAndConfirm } from './helpers/process-signals.js';
import type { GiveawayRule } from '../src/protocol/index.js';
import { onCluster, startTestRedis, type TestRedis } from './helpers/test-redis.js';

let redis: TestRedis;
/** The test's own reads and fact writes. */
let probe: RedisClient;
/** The stores' client: a command timeout, as a server has. */
let client: RedisClient;
const stores: GiveawayStore[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  probe = redis.client();
  await probe.ping(); // connected (on a cluster: the slot map, so scriptCalls sees every master)
  client = createRedisClient(redis.target, { commandTimeoutMs: 10_000, name: 'giveaway-entries-test' });
}, 60_000);
afterAll(async () => {
  for (const s of stores) s.close();
  probe?.disconnect();
  client?.disconnect();
  await redis?.stop();
});

function store(maxEntries: number): GiveawayStore {
  const s = new GiveawayStore(client, { maxPerRoom: 10, maxEntries, drawLeaseMs: 10_000 });
  stores.push(s);
  return s;
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

type Entry = [userId: string, free: boolean];

/** Settles every entry; returns for each its answer or its refusal's error body. */
async function settle(entries: Promise<{ via: string; alreadyEntered: boolean }>[]) {
  return (await Promise.allSettled(entries)).map((r) => (r.status === 'fulfilled' ? { ...r.value } : toErrorBody(r.reason)));
}

const user = (id: string) => ({ id, name: `Name of ${id}` });

async function start(s: GiveawayStore, roomId: string, rule: GiveawayRule): Promise<string> {
  const { giveaway } = await s.start(roomId, { id: 'u_host', name: 'Host' }, { prize: { kind: 'text', text: 'Mug' }, durationSec: 600, winners: 1, rule });
  return giveaway.id;
}

describe('giveaway entries batched per turn', () => {
  it('decides a mixed turn of 36 entries in one script call, each answered as alone, the same state as one call each', async () => {
    const s = store(100);
    const roomId = `r-${randomUUID()}`;
    const followers = Array.from({ length: 12 }, (_, i) => `f${i}`);
    await probe.sadd(roomFollowersKey(roomId), ...followers);
    await probe.sadd(roomBansKey(roomId), 'f11', 'x_banned');
    const [batched, oneByOne] = [await start(s, roomId, 'followers'), await start(s, roomId, 'followers')];
    // An entry from an earlier turn (also loads the script on the room's node).
    for (const id of [batched, oneByOne]) await s.enter(roomId, id, user('p_prior'), true);

    const entries: Entry[] = [
      ...followers.slice(0, 11).map((f): Entry => [f, false]), // eligible by the rule
      ['f11', false], // a banned follower
      ['x_banned', true], // banned, free route: still banned
      ['p1', false], ['p2', false], ['p3', false], // not eligible
      ['p4', true], ['p5', true], // free
      ['p_prior', false], // entered free in an earlier turn: answered as entered
      ['f0', false], ['f1', true], // followers again in the same turn (free or not): their first entry
      ['p4', false], ['p4', true], // free again, and without free
      ['p1', true], ['p1', false], // not eligible earlier in this turn, now free; then again
      ...followers.slice(0, 8).map((f): Entry => [f, true]), // a second wave of repeats
      ['p6', false], ['p7', true], ['f10', false],
    ];
    expect(entries).toHaveLength(36);

    const before = await scriptCalls();
    const answers = await settle(entries.map(([u, free]) => s.enter(roomId, batched, user(u), free)));
    expect(await scriptCalls()).toBe(before + 1);

    const ok = (via: 'rule' | 'free', alreadyEntered: boolean) => ({ via, alreadyEntered });
    const banned = { code: 'BANNED', message: 'you are banned from this room' };
    const notEligible = { code: 'NOT_ELIGIBLE', message: notEligibleMessage('followers') };
    expect(answers).toEqual([
      ...Array.from({ length: 11 }, () => ok('rule', false)),
      banned, banned,
      notEligible, notEligible, notEligible,
      ok('free', false), ok('free', false),
      ok('free', true),
      ok('rule', true), ok('rule', true),
      ok('free', true), ok('free', true),
      ok('free', false), ok('free', true),
      ...Array.from({ length: 8 }, () => ok('rule', true)),
      notEligible, ok('free', false), ok('rule', true),
    ]);

    // The same entries as separate calls (one per turn): the same answers and the same giveaway.
    const alone = [];
    for (const [u, free] of entries) alone.push(...(await settle([s.enter(roomId, oneByOne, user(u), free)])));
    expect(alone).toEqual(answers);
    const [a, b] = [giveawayKeys(roomId, batched), giveawayKeys(roomId, oneByOne)];
    expect(await probe.hgetall(a.entries)).toEqual(await probe.hgetall(b.entries));
    expect(Object.keys(await probe.hgetall(a.entries))).toHaveLength(1 + 11 + 4); // prior, followers, p1 p4 p5 p7
    expect(await s.entryCounts(roomId, batched)).toEqual({ entries: 16, free: 5 });
    expect(await s.entryCounts(roomId, oneByOne)).toEqual({ entries: 16, free: 5 });
  });

  it('fills a giveaway to its cap inside one call (a repeat still answered), and sends one call per giveaway in a turn', async () => {
    const s = store(5);
    const roomId = `r-${randomUUID()}`;
    const [capped, other] = [await start(s, roomId, 'everyone'), await start(s, roomId, 'everyone')];
    await s.enter(roomId, other, user('warm-up'), false); // loads the script on the room's node
    const unknown = `g_${randomUUID()}`;

    const before = await scriptCalls();
    const toCapped = settle(['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u2'].map((u) => s.enter(roomId, capped, user(u), u === 'u1')));
    const toOther = settle(['v0', 'v1'].map((u) => s.enter(roomId, other, user(u), false)));
    const toUnknown = settle(['w0', 'w1'].map((u) => s.enter(roomId, unknown, user(u), false)));
    const [c, o, n] = await Promise.all([toCapped, toOther, toUnknown]);
    expect(await scriptCalls()).toBe(before + 3);

    const full = { code: 'LIMIT_EXCEEDED', message: 'this giveaway is full (5 entries)' };
    // 'everyone': the free flag changes nothing (an entry by the rule).
    expect(c).toEqual([...Array.from({ length: 5 }, () => ({ via: 'rule', alreadyEntered: false })), full, full, { via: 'rule', alreadyEntered: true }]);
    expect(o).toEqual([{ via: 'rule', alreadyEntered: false }, { via: 'rule', alreadyEntered: false }]);
    expect(n).toEqual([{ code: 'NOT_FOUND', message: 'giveaway not found' }, { code: 'NOT_FOUND', message: 'giveaway not found' }]);
    expect(await s.entryCounts(roomId, capped)).toEqual({ entries: 5, free: 0 });
    expect(await s.entryCounts(roomId, other)).toEqual({ entries: 3, free: 0 });
  });

  // Freezing one of a cluster's servers is a partial stall with slot failover (redis-stall.test.ts):
  // single Redis only.
  it.skipIf(onCluster)('answers a batch sent into a stalled Redis UNAVAILABLE; when Redis wakes it enters nobody', { timeout: 60_000 }, async () => {
    const TIMEOUT_MS = 1000;
    const guard = new RedisGuard(TIMEOUT_MS);
    const guarded = guard.protect(createRedisClient(redis.target, { commandTimeoutMs: TIMEOUT_MS, name: 'giveaway-stall-test' }));
    await guard.calibrate(guarded);
    const s = new GiveawayStore(guarded, { maxPerRoom: 10, maxEntries: 100, drawLeaseMs: 10_000 });
    const roomId = `r-${randomUUID()}`;
    try {
      const id = await start(s, roomId, 'everyone');
      await s.enter(roomId, id, user('warm-up'), false); // the batcher's connection is up, the script loaded

      await signalAndConfirm(redis.pid, 'SIGSTOP');
      let stopped = true;
      try {
        const answers = await settle(Array.from({ length: 30 }, (_, i) => s.enter(roomId, id, user(`u${i}`), false)));
        for (const a of answers) expect(a).toMatchObject({ code: 'UNAVAILABLE' });
        expect(guard.isOpen).toBe(true);
        await signalAndConfirm(redis.pid, 'SIGCONT');
        stopped = false;
        // An entry on the batcher's connection is answered only after the frozen call has run
        // there (one connection answers in order): once it is, the frozen call is done.
        for (const started = Date.now(); ; ) {
          try {
            await s.enter(roomId, id, user('after'), false);
            break;
          } catch (err) {
            expect(toErrorBody(err).code).toBe('UNAVAILABLE');
            expect(Date.now() - started).toBeLessThan(10_000);
            await new Promise((ok) => setTimeout(ok, 20)); // the breaker closes when its probe is answered
          }
        }
        expect(Object.keys(await probe.hgetall(giveawayKeys(roomId, id).entries)).sort()).toEqual(['after', 'warm-up']);
        expect(await s.entryCounts(roomId, id)).toEqual({ entries: 2, free: 0 });
      } finally {
        if (stopped) process.kill(redis.pid, 'SIGCONT');
      }
    } finally {
      s.close();
      guarded.disconnect();
    }
  });
});
