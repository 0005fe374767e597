/**
 * A voucher rush across two server processes on one Redis (TEST_REDIS=cluster: a real cluster):
 * 1,000 claimers, half on each node, for 100 vouchers, all at once, some retrying with their
 * requestId and some trying a second claim. Exactly 100 are claimed, by 100 different users, never
 * two by one; the remaining count the room hears goes down to 0 (`voucher:claimed-out` on both
 * nodes) and never up.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roomVoucherKeys } from '../src/commerce/vouchers/voucher-keys.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { TokenService } from '../src/auth/tokens.js';
import { connect, liveRoom, nextEvent, ok, request, type TestSocket, type TestUser } from './helpers/clients.js';
import { ONE_ADDRESS_CROWD } from './helpers/lifted-limits.js';
import { TEST_SECRET, type ServerProcess } from './helpers/stack.js';
import { startServerProcesses, stopServerProcesses } from './helpers/server-processes.js';
import { type TestRedis } from './helpers/test-redis.js';

const CLAIMERS = 1000;
const VOUCHERS = 100;

let redisServer: TestRedis;
let redis: RedisClient;
let nodes: ServerProcess[] = [];

beforeAll(async () => ({ redisServer, redis, nodes } = await startServerProcesses(2, { ...ONE_ADDRESS_CROWD })), 120_000);
afterAll(() => stopServerProcesses({ redisServer, redis, nodes }));

describe('voucher rush across two processes', () => {
  it(`${CLAIMERS} claimers over two nodes for ${VOUCHERS} vouchers: exactly ${VOUCHERS} claimed, none twice, remaining reaches 0`, async () => {
    const [a, b] = nodes.map((n) => n.url) as [string, string];
    const { host, roomId } = await liveRoom(a, 'Host');
    const hostSocket = await connect(a, host);
    await ok(hostSocket, 'room:join', { roomId });
    // Tokens minted with the servers' secret (as the giveaway rush does), not 1,000 HTTP calls.
    const tokens = new TokenService(TEST_SECRET, 'live-commerce');
    const users: TestUser[] = await Promise.all(Array.from({ length: CLAIMERS }, async (_, i) => {
      const user = { id: `u_claimer${i}`, name: `Claimer ${i}` };
      return { ...user, token: await tokens.sign(user) };
    }));
    const crowd: { user: TestUser; socket: TestSocket }[] = [];
    for (let i = 0; i < CLAIMERS; i += 100) {
      crowd.push(...(await Promise.all(users.slice(i, i + 100).map(async (user, j) => {
        const socket = await connect((i + j) % 2 ? b : a, user);
        await ok(socket, 'room:join', { roomId });
        return { user, socket };
      }))));
    }
    const watchers = [crowd[0]!.socket, crowd[1]!.socket]; // node a, node b
    const remainingSeen: number[][] = watchers.map(() => []);
    watchers.forEach((s, i) => s.on('voucher:stock', (p) => remainingSeen[i]!.push(p.remaining)));

    const { voucher } = await ok(hostSocket, 'voucher:drop', { kind: 'amount', value: 500, quantity: VOUCHERS, validSec: 600, durationSec: 300 });
    const outs = watchers.map((s) => nextEvent(s, 'voucher:claimed-out', (p) => p.voucherId === voucher.id, 30_000));

    // Everyone at once; every tenth claimer sends the same claim twice (a retry) and every
    // seventh a second claim with another requestId.
    const attempts = crowd.flatMap((c, i) => {
      const requestId = randomUUID();
      const claim = (id: string) => request(c.socket, 'voucher:claim', { voucherId: voucher.id, requestId: id }).then((res) => ({ c, id, res }));
      return [claim(requestId), ...(i % 10 === 0 ? [claim(requestId)] : []), ...(i % 7 === 0 ? [claim(randomUUID())] : [])];
    });
    const results = await Promise.all(attempts);
    const codes = new Map<string, number>();
    for (const { res } of results) {
      const code = res.ok ? 'ok' : res.error.code;
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect([...codes.keys()].every((c) => ['ok', 'VOUCHER_CLAIMED_OUT', 'ALREADY_CLAIMED'].includes(c)), JSON.stringify([...codes])).toBe(true);

    // Winners: distinct users, each ok answer for one user carries one and the same claim.
    const okByUser = new Map<string, Set<string>>();
    for (const { c, res } of results) {
      if (!res.ok) continue;
      const set = okByUser.get(c.user.id) ?? new Set<string>();
      set.add(JSON.stringify(res.data.claim));
      okByUser.set(c.user.id, set);
    }
    expect(okByUser.size).toBe(VOUCHERS);
    for (const claims of okByUser.values()) expect(claims.size).toBe(1);

    // Redis agrees: 100 claim records, of 100 users, and the counter says 100.
    const k = roomVoucherKeys(roomId);
    const fields = (await redis.hkeys(k.claims)).filter((f) => f.startsWith(`${voucher.id}|`));
    expect(fields).toHaveLength(VOUCHERS);
    expect(new Set(fields.map((f) => f.slice(voucher.id.length + 1)))).toEqual(new Set(okByUser.keys()));
    expect(await redis.hget(k.vouchers, `${voucher.id}|claimed`)).toBe(String(VOUCHERS));

    // The room heard it run out, on both nodes; no stock frame ever went back up or said less than 0.
    await Promise.all(outs);
    for (const seen of remainingSeen) {
      for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeLessThanOrEqual(seen[i - 1]!);
      for (const r of seen) expect(r).toBeGreaterThanOrEqual(0);
    }
    const snap = await ok(await connect(b, users[2]!), 'room:join', { roomId });
    expect((snap.vouchers as { active: { id: string; remaining: number }[] }).active).toEqual([expect.objectContaining({ id: voucher.id, remaining: 0, claimed: VOUCHERS })]);
    expect((await request(crowd[3]!.socket, 'voucher:claim', { voucherId: voucher.id, requestId: randomUUID() }))).toMatchObject({ ok: false });
  }, 240_000);
});
