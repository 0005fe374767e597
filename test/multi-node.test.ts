/**
 * Two server processes on one private Redis, as in production behind a load balancer: what
 * happens on node A must reach sockets on node B (chat, pins, bag, hearts, viewer counts), and
 * evictions (ban, end of the live) must reach B's sockets too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request } from './helpers/clients.js';
import { spawnServerProcess, type ServerProcess } from './helpers/stack.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';

let redis: TestRedis;
let nodeA: ServerProcess;
let nodeB: ServerProcess;

beforeAll(async () => {
  redis = await startTestRedis();
  // Rooms only: no mediasoup workers needed to prove cross-node fan-out.
  [nodeA, nodeB] = await Promise.all([0, 1].map(() => spawnServerProcess(redis, { MEDIA_ENABLED: 'false' }))) as [ServerProcess, ServerProcess];
  expect(nodeA.url).not.toBe(nodeB.url);
});

afterAll(async () => {
  closeAllSockets();
  await Promise.all([nodeA?.stop(), nodeB?.stop()]);
  await redis?.stop();
});

describe('two server processes', () => {
  it('a viewer on node B sees chat, pins, bag changes, hearts and viewer counts caused on node A', async () => {
    const { host, roomId, productId } = await liveRoom(nodeA.url, 'Ana');
    const hostA = await connect(nodeA.url, host);
    await ok(hostA, 'room:join', { roomId });
    const vera = await devUser(nodeB.url, 'Vera');
    const viewerB = await connect(nodeB.url, vera);
    const snap = await ok(viewerB, 'room:join', { roomId });
    expect(snap.commerce.bag.map((p) => p.id)).toEqual([productId]);

    // Viewer counts: two more viewers join on A; B hears the cluster-wide unique count (the host
    // is staff, counted apart).
    const threeViewers = nextEvent(viewerB, 'presence:update', (p) => p.viewers === 3 && p.staff === 1);
    const [ann, abe] = await Promise.all(['Ann', 'Abe'].map((n) => devUser(nodeA.url, n)));
    const viewersA = await Promise.all([ann!, abe!].map((u) => connect(nodeA.url, u)));
    for (const s of viewersA) await ok(s, 'room:join', { roomId });
    expect((await threeViewers).peak).toBe(3);

    // Chat both ways.
    const onB = nextEvent(viewerB, 'chat:message', (m) => m.text === 'hello from A');
    const onA = nextEvent(hostA, 'chat:message', (m) => m.text === 'hello from B');
    const fromA = await ok(viewersA[0]!, 'chat:send', { text: 'hello from A' });
    const fromB = await ok(viewerB, 'chat:send', { text: 'hello from B' });
    expect(await onB).toEqual(fromA);
    expect(await onA).toEqual(fromB);

    // Pins and the bag.
    const pinOnB = nextEvent(viewerB, 'pin:changed');
    await ok(hostA, 'pin:set', { productId });
    expect((await pinOnB).product?.id).toBe(productId);
    const bagOnB = nextEvent(viewerB, 'bag:changed');
    const added = await http(nodeA.url, 'POST', `/api/rooms/${roomId}/products`, host.token, { title: 'Gloves', price: 1200, currency: 'USD' });
    expect(added.status).toBe(201);
    expect(await bagOnB).toEqual({ change: 'added', product: added.body.product });

    // Hearts: taps on A, the total on B.
    const hearts = nextEvent(viewerB, 'hearts:update', (p) => p.total === 12);
    await ok(viewersA[0]!, 'heart:tap', { count: 5 });
    await ok(viewersA[1]!, 'heart:tap', { count: 7 });
    expect((await hearts).total).toBe(12);
    const stats = await ok(hostA, 'room:stats', {});
    expect(stats).toMatchObject({ viewers: 3, staff: 1, hearts: 12, chatMessages: 2 });
  });

  it('a ban issued on node A removes the viewer on node B, who can no longer chat or rejoin', async () => {
    const { host, roomId } = await liveRoom(nodeA.url, 'Ben');
    const hostA = await connect(nodeA.url, host);
    await ok(hostA, 'room:join', { roomId });
    const troll = await devUser(nodeB.url, 'Troll');
    const trollB = await connect(nodeB.url, troll);
    await ok(trollB, 'room:join', { roomId });
    const msg = await ok(trollB, 'chat:send', { text: 'first!!!' });

    const removed = nextEvent(trollB, 'room:removed');
    await ok(hostA, 'mod:ban', { userId: troll.id });
    expect(await removed).toEqual({ roomId, reason: 'banned' });

    expect(await request(trollB, 'chat:send', { text: 'let me back' })).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
    expect(await request(trollB, 'room:join', { roomId })).toMatchObject({ ok: false, error: { code: 'BANNED' } });
    const elsewhere = await connect(nodeA.url, troll);
    expect(await request(elsewhere, 'room:join', { roomId })).toMatchObject({ ok: false, error: { code: 'BANNED' } });

    // The room itself goes on for the others, on either node.
    const deleted = nextEvent(hostA, 'chat:deleted');
    await ok(hostA, 'mod:delete', { messageId: msg.id });
    expect(await deleted).toEqual({ messageId: msg.id });
  });

  it('ending the live on node A tells and removes viewers on node B', async () => {
    const { host, roomId } = await liveRoom(nodeA.url, 'Cy');
    const viewerB = await connect(nodeB.url, await devUser(nodeB.url, 'Watcher'));
    const guestB = await connect(nodeB.url, null);
    for (const s of [viewerB, guestB]) await ok(s, 'room:join', { roomId });

    const status = nextEvent(viewerB, 'room:status');
    const removed = [viewerB, guestB].map((s) => nextEvent(s, 'room:removed'));
    expect((await http(nodeA.url, 'POST', `/api/rooms/${roomId}/end`, host.token)).status).toBe(200);
    expect((await status).room.status).toBe('ended');
    for (const r of await Promise.all(removed)) expect(r).toEqual({ roomId, reason: 'ended' });
    expect(await request(guestB, 'room:join', { roomId })).toMatchObject({ ok: false, error: { code: 'ROOM_ENDED' } });
  });

  it('appointing and removing a moderator on node A changes their connections on both nodes at once', async () => {
    const { host, roomId } = await liveRoom(nodeA.url, 'Cleo');
    const hostA = await connect(nodeA.url, host);
    await ok(hostA, 'room:join', { roomId });
    await ok(hostA, 'mod:blocked-words', { words: ['spoiler'] });
    const kim = await devUser(nodeB.url, 'Kim');
    const tabs = [await connect(nodeA.url, kim), await connect(nodeB.url, kim)];
    for (const t of tabs) expect((await ok(t, 'room:join', { roomId })).role).toBe('viewer');

    const appointed = tabs.map((t) => nextEvent(t, 'room:role'));
    expect((await http(nodeA.url, 'PUT', `/api/rooms/${roomId}/moderators/${kim.id}`, host.token)).status).toBe(200);
    for (const r of await Promise.all(appointed)) {
      expect(r).toEqual({ roomId, role: 'moderator', moderation: { slowModeSeconds: 0, blockedWords: ['spoiler'] } });
    }
    // Staff-only messages reach both tabs now, without rejoining.
    const staffView = tabs.map((t) => nextEvent(t, 'room:settings'));
    await ok(hostA, 'mod:blocked-words', { words: ['spoiler', 'leak'] });
    for (const s of await Promise.all(staffView)) expect(s.blockedWords).toEqual(['spoiler', 'leak']);

    const removed = tabs.map((t) => nextEvent(t, 'room:role'));
    expect((await http(nodeA.url, 'DELETE', `/api/rooms/${roomId}/moderators/${kim.id}`, host.token)).status).toBe(200);
    for (const r of await Promise.all(removed)) {
      expect(r).toEqual({ roomId, role: 'viewer', moderation: { slowModeSeconds: 0, blockedWords: [] } });
    }
    const publicView = tabs.map((t) => nextEvent(t, 'room:settings'));
    await ok(hostA, 'mod:blocked-words', { words: ['gone'] });
    for (const s of await Promise.all(publicView)) expect(s.blockedWords).toEqual([]);
  });
});
