/**
 * Presence against a real redis-server: unique counting with staff apart, peak, role changes,
 * count/join cost independent of room size (the Redis commands they run, read from INFO
 * commandstats, are the same at 10 members and at 100k), a dead node's share reaped by a
 * survivor, and a node re-asserting its connections after Redis lost everything (FLUSHALL).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedRedis, type EmbeddedRedis } from '../src/core/embedded-redis.js';
import { createLogger } from '../src/core/logger.js';
import { createRedisClient, type RedisClient } from '../src/core/redis-client.js';
import { PresenceNode } from '../src/rooms/presence-node.js';
import { PresenceStore, presenceField, type PresenceField } from '../src/rooms/presence-store.js';

const log = createLogger('silent');
const HEARTBEAT_MS = 500;
let redis: EmbeddedRedis;
let client: RedisClient;
let store: PresenceStore;
const nodes: PresenceNode[] = [];

beforeAll(async () => {
  redis = await startEmbeddedRedis({ persist: false });
  client = createRedisClient({ kind: 'single', url: redis.url }, { commandTimeoutMs: 5000 });
  await client.connect();
  store = new PresenceStore(client);
});

afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close();
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

type Waiter = { roomId: string; done: () => void };
const anyNodeWaiters: Waiter[] = [];
const notify = (waiters: Waiter[], roomIds: string[]) => {
  for (const w of waiters.splice(0)) if (roomIds.includes(w.roomId)) w.done();
  else waiters.push(w);
};

/** A node whose "counts changed" notifications (re-assert, reap) can be awaited. */
function startNode(heartbeatMs = HEARTBEAT_MS) {
  const waiters: Waiter[] = [];
  const node = new PresenceNode(store, heartbeatMs, log, (roomIds) => {
    notify(waiters, roomIds);
    notify(anyNodeWaiters, roomIds);
  });
  nodes.push(node);
  return {
    node,
    /** Resolves when this node next reports a change to `roomId` it did not cause by a join or leave. */
    changed: (roomId: string) => new Promise<void>((done) => waiters.push({ roomId, done })),
  };
}

/** Resolves when any node reports a change to `roomId` (e.g. it reaped a dead node there). */
const changedOnAnyNode = (roomId: string) => new Promise<void>((done) => anyNodeWaiters.push({ roomId, done }));

/** Redis commands (name → calls) run by `fn`, from INFO commandstats. */
async function commandsOf(fn: () => Promise<unknown>): Promise<Record<string, number>> {
  await client.config('RESETSTAT');
  await fn();
  const info = await client.info('commandstats');
  const calls: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
  // The measuring itself (Redis 7 names subcommands `config|resetstat`).
  for (const name of Object.keys(calls)) if (/^(config|info)/.test(name)) delete calls[name];
  return calls;
}

describe('presence', () => {
  it('counts unique users across nodes, staff apart, guests per connection; peak holds', async () => {
    const a = startNode().node;
    const b = startNode().node;
    const room = 'r-unique';
    await a.enter('a1', room, 'u:ann', false);
    await a.enter('a2', room, 'u:ann', false); // second tab
    await b.enter('b1', room, 'u:ann', false); // third, on another node
    await b.enter('b2', room, 'u:bob', false);
    await a.enter('a3', room, 'g:a3', false);
    await b.enter('b3', room, 'g:b3', false);
    await a.enter('a4', room, 'u:host', true);
    await b.enter('b4', room, 'u:host', true);
    expect(await store.count(room)).toEqual({ viewers: 4, staff: 1, peak: 4 });

    await a.exit('a1');
    await a.exit('a2');
    expect(await store.count(room)).toEqual({ viewers: 4, staff: 1, peak: 4 }); // ann still on b
    await b.exit('b1');
    await b.exit('b3');
    expect(await store.count(room)).toEqual({ viewers: 2, staff: 1, peak: 4 });

    // Bob is made a moderator mid-live, then removed again.
    await b.setStaff('b2', 'u:bob', true);
    expect(await store.count(room)).toEqual({ viewers: 1, staff: 2, peak: 4 });
    await b.setStaff('b2', 'u:bob', false);
    expect(await store.count(room)).toEqual({ viewers: 2, staff: 1, peak: 4 });

    // Moving to another room leaves this one.
    await b.enter('b2', 'r-other', 'u:bob', false);
    expect(await store.count(room)).toEqual({ viewers: 1, staff: 1, peak: 4 });
    expect(await store.count('r-other')).toEqual({ viewers: 1, staff: 0, peak: 1 });
  });

  it('join, leave and count run the same Redis commands at 10 members as at 100,000', async () => {
    const fill = async (room: string, n: number) => {
      for (let i = 0; i < n; i += 1000) {
        const chunk: [PresenceField, number][] = [];
        for (let j = i; j < Math.min(n, i + 1000); j++) chunk.push([presenceField(false, `u:${j}`), 1]);
        await store.apply(room, 'filler', chunk);
      }
    };
    await fill('r-small', 10);
    await fill('r-big', 100_000);
    expect((await store.count('r-big')).viewers).toBe(100_000);

    // No heartbeat during the measurement (it would show up in the stats): an hour-long period.
    const { node } = startNode(3_600_000);
    const costs = async (room: string) => ({
      join: await commandsOf(() => node.enter(`c-${room}`, room, 'u:newcomer', false)),
      count: await commandsOf(() => store.count(room)),
      leave: await commandsOf(() => node.exit(`c-${room}`)),
    });
    // Warm up: the first join of a room on a node also records the room in the node's room set.
    await node.enter('warm-small', 'r-small', 'u:w', false);
    await node.enter('warm-big', 'r-big', 'u:w', false);
    const small = await costs('r-small');
    const big = await costs('r-big');
    expect(big).toEqual(small);
    // Only O(1) commands: nothing that reads a whole hash (HGETALL, HKEYS, HVALS, HSCAN…).
    const constantTime = new Set(['evalsha', 'eval', 'hincrby', 'hdel', 'hlen', 'hget', 'hmget', 'hset', 'multi', 'exec']);
    for (const phase of Object.values(big)) for (const name of Object.keys(phase)) expect(constantTime).toContain(name);
    expect(big.count).toEqual({ evalsha: 1, hlen: 2, hmget: 1 }); // one script call: the three O(1) reads
  });

  it('guests of one address count at most GUESTS_PER_IP_COUNTED (3 here) times, exactly also after a reap', async () => {
    const room = 'r-guests';
    const { node: survivor } = startNode();
    await survivor.enter('g1', room, 'ip:10.0.0.1', false);
    await survivor.enter('g2', room, 'ip:10.0.0.1', false);
    expect(await store.count(room)).toMatchObject({ viewers: 2 });
    // A node with three more guests from that address and one from another, which then dies.
    const dead = PresenceNode.newId();
    await store.register(dead);
    await store.addRooms(dead, [room]);
    await store.apply(room, dead, [
      [presenceField(false, 'ip:10.0.0.1'), 3],
      [presenceField(false, 'ip:10.0.0.2'), 1],
    ]);
    expect(await store.count(room)).toEqual({ viewers: 4, staff: 0, peak: 4 }); // min(5, 3) + 1
    await changedOnAnyNode(room);
    expect(await store.count(room)).toEqual({ viewers: 2, staff: 0, peak: 4 });
    await survivor.exit('g1');
    expect(await store.count(room)).toMatchObject({ viewers: 1 });
    await survivor.exit('g2');
    expect(await store.count(room)).toMatchObject({ viewers: 0 });
    expect(await client.hgetall(`{room:${room}}:presence:guest-extra`)).toEqual({});
  });

  it('a node that stops beating is reaped by one survivor, its share subtracted once', async () => {
    const room = 'r-reap';
    const { node: survivor } = startNode();
    startNode(); // a second survivor: they must not both subtract the dead node's share
    await survivor.enter('s1', room, 'u:sam', false);
    await survivor.enter('s2', room, 'u:host', true);
    // A node that registered, joined three viewers and a moderator, then died without a word.
    const dead = PresenceNode.newId();
    await store.register(dead);
    await store.addRooms(dead, [room]);
    await store.apply(room, dead, [
      [presenceField(false, 'u:sam'), 1],
      [presenceField(false, 'u:dora'), 2],
      [presenceField(false, 'g:x'), 1],
      [presenceField(true, 'u:mod'), 1],
    ]);
    expect(await store.count(room)).toMatchObject({ viewers: 3, staff: 2 });

    await changedOnAnyNode(room);
    expect(await store.count(room)).toEqual({ viewers: 1, staff: 1, peak: 3 });
    expect(await store.roomsOf(dead)).toEqual([]);
  });

  it('after Redis lost everything (FLUSHALL) every node re-asserts its connections', async () => {
    const room = 'r-flush';
    const a = startNode();
    const b = startNode();
    await a.node.enter('fa1', room, 'u:amy', false);
    await a.node.enter('fa2', room, 'g:fa2', false);
    await b.node.enter('fb1', room, 'u:amy', false);
    await b.node.enter('fb2', room, 'u:ben', false);
    await b.node.enter('fb3', room, 'u:host', true);
    expect(await store.count(room)).toEqual({ viewers: 3, staff: 1, peak: 3 });

    const reasserted = Promise.all([a.changed(room), b.changed(room)]);
    await client.flushall();
    expect(await store.count(room)).toEqual({ viewers: 0, staff: 0, peak: 0 });
    await reasserted;
    expect(await store.count(room)).toEqual({ viewers: 3, staff: 1, peak: 3 });

    // Still exact afterwards: leaving under the new incarnation, and no stray share left behind.
    await b.node.exit('fb1');
    await a.node.exit('fa2');
    expect(await store.count(room)).toEqual({ viewers: 2, staff: 1, peak: 3 });
    expect(await client.hgetall(`{room:${room}}:presence:viewers`)).toEqual({ 'u:amy': '1', 'u:ben': '1' });
  });
});
