/**
 * A giveaway across two server processes on one Redis (TEST_REDIS=cluster: a real cluster):
 * 1,000 entrants split over both, the `commenters` rule checked per user (half commented, half
 * are refused and take the free route), both nodes' sweepers racing every 20 ms at the deadline,
 * the published draw recomputed by the verifier script, and one prize hold per winner.
 */
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { giveawayKeys, GIVEAWAY_DUE, giveawayRef } from '../src/commerce/giveaways/giveaway-keys.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { connect, http, liveRoom, nextEvent, ok, request, type TestSocket, type TestUser } from './helpers/clients.js';
import { ONE_ADDRESS_CROWD } from './helpers/lifted-limits.js';
import { TEST_SECRET, type ServerProcess } from './helpers/stack.js';
import { startServerProcesses, stopServerProcesses } from './helpers/server-processes.js';
import { TokenService } from '../src/auth/tokens.js';
import { type TestRedis } from './helpers/test-redis.js';

const run = promisify(execFile);
const ENTRANTS = 1000;
const WINNERS = 10;

let redisServer: TestRedis;
let redis: RedisClient;
let nodes: ServerProcess[] = [];

beforeAll(async () => ({ redisServer, redis, nodes } = await startServerProcesses(2, { ...ONE_ADDRESS_CROWD, GIVEAWAY_SWEEP_MS: '20' })), 120_000);
afterAll(() => stopServerProcesses({ redisServer, redis, nodes }));

describe('giveaway across two processes', () => {
  it(`${ENTRANTS} entrants over two nodes, rule checked per user, one draw with both sweepers racing, verifier PASS`, async () => {
    const [a, b] = nodes.map((n) => n.url) as [string, string];
    const { host, roomId } = await liveRoom(a, 'Host');
    const hostSocket = await connect(a, host);
    await ok(hostSocket, 'room:join', { roomId });
    // Tokens minted here with the servers' secret, as the benches do: 1,000 HTTP round trips
    // to the dev endpoint would only slow the setup on a shared machine.
    const tokens = new TokenService(TEST_SECRET, 'live-commerce');
    const users: TestUser[] = await Promise.all(Array.from({ length: ENTRANTS }, async (_, i) => {
      const user = { id: `u_entrant${i}`, name: `Entrant ${i}` };
      return { ...user, token: await tokens.sign(user) };
    }));
    const crowd: { user: TestUser; socket: TestSocket; commenter: boolean }[] = [];
    for (let i = 0; i < ENTRANTS; i += 100) {
      crowd.push(...(await Promise.all(users.slice(i, i + 100).map(async (user, j) => {
        const socket = await connect((i + j) % 2 ? b : a, user);
        await ok(socket, 'room:join', { roomId });
        return { user, socket, commenter: (i + j) % 4 < 2 }; // half commenters, on both nodes
      }))));
    }
    // A comment is retried with its clientId, as clients do: on a loaded machine a send can meet
    // the chat script's deadline (UNAVAILABLE) and the retry posts it once.
    const comment = async (socket: TestSocket) => {
      const clientId = randomUUID();
      for (let attempt = 0; ; attempt++) {
        const res = await request(socket, 'chat:send', { text: 'me please', clientId });
        if (res.ok || res.error.code !== 'UNAVAILABLE' || attempt === 5) return expect(res.ok).toBe(true);
      }
    };
    for (let i = 0; i < crowd.length; i += 100) {
      await Promise.all(crowd.slice(i, i + 100).filter((c) => c.commenter).map((c) => comment(c.socket)));
    }
    const watchers = [crowd[0]!.socket, crowd[1]!.socket, hostSocket]; // node a, node b, node a
    const drawnSeen = watchers.map(() => 0);
    watchers.forEach((s, i) => s.on('giveaway:drawn', () => drawnSeen[i]!++));
    // Every entrant listens for a personal win: each winner must hear exactly one, nobody else any.
    const wonBy = new Map<string, string[]>();
    for (const c of crowd) c.socket.on('giveaway:won', (p) => wonBy.set(c.user.id, [...(wonBy.get(c.user.id) ?? []), p.holdId]));

    const startedOnB = nextEvent(crowd[1]!.socket, 'giveaway:started');
    const g = await ok(hostSocket, 'giveaway:start', { text: 'Gift card', durationSec: 15, winners: WINNERS, rule: 'commenters' });
    expect((await startedOnB).giveaway.commitment).toBe(g.commitment);
    const drawnOnA = nextEvent(crowd[0]!.socket, 'giveaway:drawn', (p) => p.giveaway.id === g.id, 30_000);
    const drawnOnB = nextEvent(crowd[1]!.socket, 'giveaway:drawn', (p) => p.giveaway.id === g.id, 30_000);

    const first = await Promise.all(crowd.map(async (c) => ({ c, res: await request(c.socket, 'giveaway:enter', { giveawayId: g.id }) })));
    for (const { c, res } of first) expect(res.ok ? 'ok' : res.error.code, c.user.name).toBe(c.commenter ? 'ok' : 'NOT_ELIGIBLE');
    const free = await Promise.all(crowd.filter((c) => !c.commenter).map((c) => request(c.socket, 'giveaway:enter', { giveawayId: g.id, free: true })));
    expect(free.every((r) => r.ok && r.data.via === 'free' && !r.data.alreadyEntered)).toBe(true);
    expect(Date.now()).toBeLessThan(g.endsAt); // all of it inside the window, or the test says nothing

    const [onA, onB] = await Promise.all([drawnOnA, drawnOnB]);
    expect(onB).toEqual(onA);
    const drawn = onA.giveaway;
    expect(drawn.entries).toBe(ENTRANTS);
    expect(drawn.winners).toHaveLength(WINNERS);
    expect(createHash('sha256').update(Buffer.from(drawn.seed!, 'hex')).digest('hex')).toBe(g.commitment);
    const ids = new Set(users.map((u) => u.id));
    for (const w of drawn.winners) expect(ids.has(w.userId)).toBe(true);

    // The verifier recomputes the same winners from what node b publishes.
    const { stdout } = await run(process.execPath, ['scripts/verify-giveaway.mjs', b, g.id]);
    expect(stdout).toMatch(/^PASS .*"entries":1000/m);
    const published = await http(b, 'GET', `/api/giveaways/${g.id}/entries`, null);
    expect(published.body.entries).toHaveLength(ENTRANTS);
    expect(published.body.giveaway.winners).toEqual(drawn.winners);

    // Exactly once: one result recorded, the index entry retired, one announcement per watcher.
    await expect.poll(() => redis.zscore(GIVEAWAY_DUE, giveawayRef(roomId, g.id)), { timeout: 5000 }).toBeNull();
    expect(await redis.hget(giveawayKeys(roomId, g.id).giveaway, 'draws')).toBe('1');
    expect(drawnSeen).toEqual([1, 1, 1]);
    // One prize hold per winner, however the two sweepers raced: one giveaway:won each (the
    // personal event leaves with the drawn one), one prize sale each in the room.
    await expect.poll(() => wonBy.size, { timeout: 5000 }).toBe(WINNERS);
    expect(new Set(wonBy.keys())).toEqual(new Set(drawn.winners.map((w) => w.userId)));
    expect([...wonBy.values()].every((holds) => holds.length === 1)).toBe(true);
    const prizeSales = (await http(a, 'GET', `/api/rooms/${roomId}/sales`, null)).body.sales.filter((x: { endReason: string }) => x.endReason === 'giveaway');
    expect(prizeSales).toHaveLength(WINNERS);
    expect(new Set(prizeSales.map((x: { id: string }) => x.id))).toEqual(new Set([...wonBy.values()].map(([h]) => h!.slice(0, h!.lastIndexOf('.')))));
    // Late entries are refused on both nodes.
    const late = await Promise.all([crowd[2]!, crowd[3]!].map((c) => request(c.socket, 'giveaway:enter', { giveawayId: g.id, free: true })));
    expect(late.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['GIVEAWAY_CLOSED', 'GIVEAWAY_CLOSED']);
  }, 240_000);
});
