/**
 * Presence across three server processes on one Redis: viewers and staff on every node are
 * counted exactly (a user in two tabs on two nodes once, each guest connection once, the host and
 * moderators as staff, never as viewers), a moderator appointed mid-live moves from viewers to
 * staff, and after one node is killed with SIGKILL (no goodbye) the survivors' counts are exact
 * again within one heartbeat period.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceCounts } from '../src/protocol/index.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, type TestSocket } from './helpers/clients.js';
import { spawnServerProcess, type ServerProcess } from './helpers/stack.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';

const HEARTBEAT_MS = 5000; // the default of PRESENCE_HEARTBEAT_MS, set explicitly so the test says what it checks
let redis: TestRedis;
let nodes: ServerProcess[];

beforeAll(async () => {
  redis = await startTestRedis();
  nodes = await Promise.all(
    [0, 1, 2].map(() => spawnServerProcess(redis, { MEDIA_ENABLED: 'false', PRESENCE_HEARTBEAT_MS: String(HEARTBEAT_MS) })),
  );
}, 120_000);

afterAll(async () => {
  closeAllSockets();
  const running = (nodes ?? []).filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  await Promise.all(running.map((n) => n.stop()));
  await redis?.stop();
});

const exactly = (want: Omit<PresenceCounts, 'peak'>) => (p: PresenceCounts) => p.viewers === want.viewers && p.staff === want.staff;

describe('presence on three nodes', () => {
  it('is exact across nodes, keeps staff apart, and is exact again within one heartbeat after a node is killed', async () => {
    const [a, b, c] = nodes as [ServerProcess, ServerProcess, ServerProcess];
    const { host, roomId } = await liveRoom(a.url, 'Hana');
    const mod = await devUser(a.url, 'Mo');
    expect((await http(a.url, 'PUT', `/api/rooms/${roomId}/moderators/${mod.id}`, host.token)).status).toBe(200);
    const names = ['Ann', 'Ben', 'Cat', 'Dan', 'Eve', 'Fay', 'Ola', 'Obi', 'Oz'];
    const u = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await devUser(a.url, n)] as const)));

    // One observer viewer per node, listening for what its node broadcasts.
    const observers = await Promise.all([a, b, c].map((n, i) => connect(n.url, u[['Ola', 'Obi', 'Oz'][i]!])));
    for (const s of observers) await ok(s, 'room:join', { roomId });
    const joinAll = async (url: string, users: (typeof host | null)[]) => {
      for (const user of users) await ok(await connect(url, user), 'room:join', { roomId });
    };
    // Staff: the host in two tabs (A and B), the moderator on C.
    // Viewers: Ann in two tabs (A and C), a guest per node.
    const allIn = observers.map((s) => nextEvent(s, 'presence:update', exactly({ viewers: 12, staff: 2 }), 20_000));
    await joinAll(a.url, [host, u.Ann!, u.Ben!, null]);
    await joinAll(b.url, [host, u.Cat!, u.Dan!, null]);
    await joinAll(c.url, [mod, u.Ann!, u.Eve!, u.Fay!, null]);
    for (const p of await Promise.all(allIn)) expect(p).toEqual({ viewers: 12, staff: 2, peak: 12 });
    for (const n of [a, b, c]) {
      expect((await http(n.url, 'GET', `/api/rooms/${roomId}`, null)).body.presence).toEqual({ viewers: 12, staff: 2, peak: 12 });
    }
    const hostSocket = await connect(b.url, host);
    await ok(hostSocket, 'room:join', { roomId });
    expect(await ok(hostSocket, 'room:stats', {})).toMatchObject({ viewers: 12, staff: 2, peak: 12 });

    // Dan (connected to B) is appointed moderator through A, then removed again.
    const danIsStaff = nextEvent(observers[2]!, 'presence:update', exactly({ viewers: 11, staff: 3 }), 20_000);
    expect((await http(a.url, 'PUT', `/api/rooms/${roomId}/moderators/${u.Dan!.id}`, host.token)).status).toBe(200);
    await danIsStaff;
    const danIsViewer = nextEvent(observers[2]!, 'presence:update', exactly({ viewers: 12, staff: 2 }), 20_000);
    expect((await http(a.url, 'DELETE', `/api/rooms/${roomId}/moderators/${u.Dan!.id}`, host.token)).status).toBe(200);
    await danIsViewer;

    // Node C dies without a word. Gone: Eve, Fay, Oz, C's guest and the moderator; Ann stays (tab on A).
    const survivors = observers.slice(0, 2) as [TestSocket, TestSocket];
    const exactAgain = survivors.map((s) => nextEvent(s, 'presence:update', exactly({ viewers: 8, staff: 1 }), 30_000));
    const killedAt = Date.now();
    c.child.kill('SIGKILL');
    const updates = await Promise.all(exactAgain);
    const tookMs = Date.now() - killedAt;
    for (const p of updates) expect(p).toEqual({ viewers: 8, staff: 1, peak: 12 });
    expect(tookMs).toBeLessThanOrEqual(HEARTBEAT_MS);
    for (const n of [a, b]) {
      expect((await http(n.url, 'GET', `/api/rooms/${roomId}`, null)).body.presence).toEqual({ viewers: 8, staff: 1, peak: 12 });
    }
    // The room list shows the same number.
    const listed = (await http(a.url, 'GET', '/api/rooms?status=live&limit=200', null)).body.rooms as { id: string; viewers: number }[];
    expect(listed.find((r) => r.id === roomId)?.viewers).toBe(8);
  }, 120_000);
});
