/**
 * Moderation through the real socket API: delete, mute, ban, slow mode, blocked words, the audit
 * log, and the chat and heart rate limits. Every test gets its own live room with a host, a
 * moderator and two viewers, so limits and settings never leak between tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request, type TestSocket, type TestUser } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';
import { liveEventSchemas } from '../src/protocol/index.js';

const CHAT_RATE = 5;
const HEART_RATE = 3;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    config: { CHAT_RATE_PER_10S: String(CHAT_RATE), HEART_RATE_PER_SEC: String(HEART_RATE), MEDIA_ENABLED: 'false' },
  });
});
afterAll(async () => {
  closeAllSockets();
  await stack.stop();
});

interface Cast {
  roomId: string;
  users: { host: TestUser; mod: TestUser; alice: TestUser; bob: TestUser };
  host: TestSocket;
  mod: TestSocket;
  alice: TestSocket;
  bob: TestSocket;
}

/** A live room with its host, an appointed moderator and two viewers, all joined. */
async function cast(): Promise<Cast> {
  const { host, roomId } = await liveRoom(stack.url, 'Hal');
  const [mod, alice, bob] = (await Promise.all(['Moe', 'Alice', 'Bob'].map((n) => devUser(stack.url, n)))) as [TestUser, TestUser, TestUser];
  expect((await http(stack.url, 'PUT', `/api/rooms/${roomId}/moderators/${mod.id}`, host.token)).status).toBe(200);
  const sockets = await Promise.all([host, mod, alice, bob].map((u) => connect(stack.url, u)));
  for (const s of sockets) await ok(s, 'room:join', { roomId });
  const [h, m, a, b] = sockets as [TestSocket, TestSocket, TestSocket, TestSocket];
  return { roomId, users: { host, mod, alice, bob }, host: h, mod: m, alice: a, bob: b };
}

const refused = (code: string, message: RegExp = /./) => ({ ok: false, error: { code, message: expect.stringMatching(message) } });
/** MUTED and SLOW_MODE also say how long until the next message may go (retryAfterMs, ms). */
const waitRefused = (code: string, message: RegExp, minMs: number, maxMs: number) => ({
  ok: false,
  error: { code, message: expect.stringMatching(message), retryAfterMs: expect.toSatisfy((ms: number) => ms >= minMs && ms <= maxMs) },
});

describe('delete', () => {
  it('a deleted message disappears for everyone, now and in later snapshots and history', async () => {
    const c = await cast();
    const doomed = await ok(c.alice, 'chat:send', { text: 'buy followers at spam.example' });
    const kept = await ok(c.alice, 'chat:send', { text: 'love the scarf' });

    const notices = [c.host, c.alice, c.bob].map((s) => nextEvent(s, 'chat:deleted', (p) => p.messageId === doomed.id));
    expect(await ok(c.mod, 'mod:delete', { messageId: doomed.id })).toEqual({ deleted: true });
    await Promise.all(notices);

    const late = await connect(stack.url, await devUser(stack.url, 'Late'));
    const snap = await ok(late, 'room:join', { roomId: c.roomId });
    expect(snap.chat.messages.map((m) => m.id)).toEqual([kept.id]);
    expect((await ok(c.bob, 'chat:history', { limit: 50 })).map((m) => m.id)).toEqual([kept.id]);

    expect(await request(c.mod, 'mod:delete', { messageId: doomed.id })).toEqual(refused('NOT_FOUND'));
  });
});

describe('mute', () => {
  it('a muted user gets MUTED while others chat; unmute lifts it', async () => {
    const c = await cast();
    const told = nextEvent(c.alice, 'user:muted');
    const before = Date.now();
    const muted = await ok(c.mod, 'mod:mute', { userId: c.users.alice.id, seconds: 120 });
    expect(muted.userId).toBe(c.users.alice.id);
    expect(muted.until).toBeGreaterThanOrEqual(before + 120_000);
    expect(muted.until).toBeLessThanOrEqual(Date.now() + 120_000);
    expect(await told).toEqual({ roomId: c.roomId, until: muted.until });

    expect(await request(c.alice, 'chat:send', { text: 'hello?' })).toEqual(waitRefused('MUTED', /muted until/, 110_000, 120_000));
    const bobSays = nextEvent(c.alice, 'chat:message');
    const sent = await ok(c.bob, 'chat:send', { text: 'I can talk' });
    expect(await bobSays).toEqual(sent); // a muted user still reads the chat

    await ok(c.mod, 'mod:unmute', { userId: c.users.alice.id });
    expect((await ok(c.alice, 'chat:send', { text: 'back again' })).text).toBe('back again');
  });

  it('a mute ends by itself after its N seconds', async () => {
    const c = await cast();
    const { until } = await ok(c.host, 'mod:mute', { userId: c.users.bob.id, seconds: 1 });
    expect(await request(c.bob, 'chat:send', { text: 'now?' })).toEqual(waitRefused('MUTED', /muted until/, 1, 1000));
    // Waiting for the clock, not for an event: the mute is a deadline.
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()) + 20));
    expect((await ok(c.bob, 'chat:send', { text: 'now!' })).text).toBe('now!');
  });
});

describe('ban', () => {
  it('removes every connection of the user, keeps them out and silent; unban lets them back', async () => {
    const c = await cast();
    const aliceAgain = await connect(stack.url, c.users.alice); // a second tab
    await ok(aliceAgain, 'room:join', { roomId: c.roomId });

    const removed = [c.alice, aliceAgain].map((s) => nextEvent(s, 'room:removed'));
    expect(await ok(c.mod, 'mod:ban', { userId: c.users.alice.id, reason: 'spam links' })).toEqual({ userId: c.users.alice.id });
    for (const r of await Promise.all(removed)) expect(r).toEqual({ roomId: c.roomId, reason: 'banned' });

    expect(await request(c.alice, 'chat:send', { text: 'still here?' })).toEqual(refused('NOT_IN_ROOM'));
    expect(await request(c.alice, 'heart:tap', { count: 1 })).toEqual(refused('NOT_IN_ROOM'));
    expect(await request(c.alice, 'room:join', { roomId: c.roomId })).toEqual(refused('BANNED'));
    const fresh = await connect(stack.url, c.users.alice);
    expect(await request(fresh, 'room:join', { roomId: c.roomId })).toEqual(refused('BANNED'));

    // The room carries on, and no longer counts or reaches the banned user.
    const bobSees = nextEvent(c.bob, 'chat:message');
    const sent = await ok(c.host, 'chat:send', { text: 'moving on' });
    expect(await bobSees).toEqual(sent);

    await ok(c.host, 'mod:unban', { userId: c.users.alice.id });
    expect(await request(c.host, 'mod:unban', { userId: c.users.alice.id })).toEqual(refused('NOT_FOUND'));
    const snap = await ok(c.alice, 'room:join', { roomId: c.roomId });
    expect(snap.role).toBe('viewer');
    expect(snap.chat.messages.map((m) => m.text)).toContain('moving on');
    expect((await ok(c.alice, 'chat:send', { text: 'sorry' })).text).toBe('sorry');
  });
});

describe('slow mode', () => {
  it('a second message within N seconds gets SLOW_MODE; host and moderators are exempt', async () => {
    const c = await cast();
    const viewerNotice = nextEvent(c.bob, 'room:settings');
    expect(await ok(c.mod, 'mod:slow-mode', { seconds: 30 })).toEqual({ slowModeSeconds: 30, blockedWords: [] });
    expect(await viewerNotice).toEqual({ slowModeSeconds: 30, blockedWords: [] });

    await ok(c.alice, 'chat:send', { text: 'first' });
    expect(await request(c.alice, 'chat:send', { text: 'second' })).toEqual(waitRefused('SLOW_MODE', /slow mode: wait (29|30) s/, 28_000, 30_000));
    await ok(c.bob, 'chat:send', { text: 'one each' }); // per user, not per room

    for (const staff of [c.host, c.mod]) {
      await ok(staff, 'chat:send', { text: 'staff 1' });
      await ok(staff, 'chat:send', { text: 'staff 2' });
    }

    await ok(c.host, 'mod:slow-mode', { seconds: 0 });
    expect((await ok(c.alice, 'chat:send', { text: 'free again' })).text).toBe('free again');
  });
});

describe('blocked words', () => {
  it('are matched case-insensitively → BLOCKED_WORD naming the word; viewers are not shown the list', async () => {
    const c = await cast();
    const viewerNotice = nextEvent(c.alice, 'room:settings');
    const staffNotice = nextEvent(c.mod, 'room:settings');
    const settings = await ok(c.host, 'mod:blocked-words', { words: ['Scam', '  FAKE  ', 'scam'] });
    expect(settings).toEqual({ slowModeSeconds: 0, blockedWords: ['scam', 'fake'] });
    expect(await staffNotice).toEqual(settings);
    expect(await viewerNotice).toEqual({ slowModeSeconds: 0, blockedWords: [] });

    expect(await request(c.alice, 'chat:send', { text: 'This is a SCAM!!' })).toEqual(
      refused('BLOCKED_WORD', /message contains a blocked word: "scam"/),
    );
    expect(await request(c.bob, 'chat:send', { text: 'looks FaKe to me' })).toEqual(refused('BLOCKED_WORD', /"fake"/));
    expect((await ok(c.alice, 'chat:send', { text: 'lovely colours' })).text).toBe('lovely colours');

    const viewerSnap = await ok(await connect(stack.url, await devUser(stack.url, 'Nosy')), 'room:join', { roomId: c.roomId });
    expect(viewerSnap.chat.moderation.blockedWords).toEqual([]);
    const modSnap = await ok(c.mod, 'room:join', { roomId: c.roomId });
    expect(modSnap.chat.moderation.blockedWords).toEqual(['scam', 'fake']);

    await ok(c.host, 'mod:blocked-words', { words: [] });
    expect((await ok(c.alice, 'chat:send', { text: 'scam scam scam' })).text).toBe('scam scam scam');
  });
});

describe('blocked words size', () => {
  // ㍿ becomes 株式会社 under NFKC: a 7.8 KB payload used to fold into a 27.6 KB room:settings.
  const BROADCAST_CAP = 4096 + 64; // the folded list's cap plus the settings' own few bytes
  const bloated = (n: number) => Array.from({ length: n }, (_, i) => '㍿'.repeat(11) + String.fromCodePoint(0x4e00 + i));

  it('a list that expands when folded is refused; the largest accepted list broadcasts under the cap', async () => {
    const c = await cast();
    expect(await request(c.host, 'mod:blocked-words', { words: bloated(200) })).toEqual(refused('BAD_REQUEST', /4096 bytes/));

    // The most of these words the schema takes, sent for real: the staff broadcast stays small.
    let n = 200;
    while (n > 0 && !liveEventSchemas['mod:blocked-words'].safeParse({ words: bloated(n) }).success) n--;
    expect(n).toBeGreaterThan(0);
    const staffNotice = nextEvent(c.mod, 'room:settings');
    const settings = await ok(c.host, 'mod:blocked-words', { words: bloated(n) });
    expect(settings.blockedWords).toHaveLength(n);
    const received = await staffNotice;
    expect(received).toEqual(settings);
    expect(Buffer.byteLength(JSON.stringify(received))).toBeLessThan(BROADCAST_CAP);
  });

  it('one word is at most 50 characters after folding, and the list at most 200 words', async () => {
    const c = await cast();
    expect(await request(c.host, 'mod:blocked-words', { words: ['㍿'.repeat(13)] })).toEqual(refused('BAD_REQUEST'));
    expect(await request(c.host, 'mod:blocked-words', { words: Array.from({ length: 201 }, (_, i) => `w${i}`) })).toEqual(refused('BAD_REQUEST'));
  });
});

describe('audit log', () => {
  it('lists every action, newest first, with actor and target; host and moderators only', async () => {
    const c = await cast();
    const { alice, bob, host, mod } = c.users;
    await ok(c.bob, 'chat:send', { text: 'hi all' }); // still in chat after the deletion: Bob's name is known
    const msg = await ok(c.bob, 'chat:send', { text: 'spam' });
    await ok(c.mod, 'mod:delete', { messageId: msg.id });
    await ok(c.mod, 'mod:mute', { userId: alice.id, seconds: 60 });
    await ok(c.host, 'mod:unmute', { userId: alice.id });
    await ok(c.mod, 'mod:ban', { userId: bob.id, reason: 'spam' });
    await ok(c.host, 'mod:unban', { userId: bob.id });
    await ok(c.host, 'mod:slow-mode', { seconds: 10 });
    await ok(c.mod, 'mod:blocked-words', { words: ['spam'] });

    // Names as the room's chat last saw them (Alice never chatted: her name is unknown), and the
    // deleted text, so the log reads "Mod deleted Bob's 'spam'" rather than ids.
    const expected = [
      { action: 'blocked-words', actor: { id: mod.id, name: mod.name }, targetUserId: null, targetName: null, detail: { count: 1 } },
      { action: 'slow-mode', actor: { id: host.id, name: host.name }, targetUserId: null, targetName: null, detail: { seconds: 10 } },
      { action: 'unban', actor: { id: host.id, name: host.name }, targetUserId: bob.id, targetName: bob.name, detail: {} },
      { action: 'ban', actor: { id: mod.id, name: mod.name }, targetUserId: bob.id, targetName: bob.name, detail: { reason: 'spam' } },
      { action: 'unmute', actor: { id: host.id, name: host.name }, targetUserId: alice.id, targetName: null, detail: {} },
      { action: 'mute', actor: { id: mod.id, name: mod.name }, targetUserId: alice.id, targetName: null, detail: { seconds: 60 } },
      // The author of a deleted message is its target: who was moderated matters in an audit.
      { action: 'delete', actor: { id: mod.id, name: mod.name }, targetUserId: bob.id, targetName: bob.name, detail: { messageId: msg.id, text: 'spam' } },
    ];
    for (const reader of [c.host, c.mod]) {
      const log = await ok(reader, 'mod:audit', {});
      expect(log).toMatchObject(expected);
      expect(log).toHaveLength(expected.length);
      for (const e of log) expect(e.at).toBeGreaterThan(0);
    }
    expect(await ok(c.host, 'mod:audit', { limit: 2 })).toMatchObject(expected.slice(0, 2));

    expect(await request(c.alice, 'mod:audit', {})).toEqual(refused('FORBIDDEN'));
    const guest = await connect(stack.url, null);
    await ok(guest, 'room:join', { roomId: c.roomId });
    expect(await request(guest, 'mod:audit', {})).toEqual(refused('UNAUTHORIZED'));
  });
});

describe('rate limits', () => {
  it(`chat beyond ${CHAT_RATE} messages per 10 s → RATE_LIMITED, per user`, async () => {
    const c = await cast();
    for (let i = 1; i <= CHAT_RATE; i++) await ok(c.alice, 'chat:send', { text: `msg ${i}` });
    expect(await request(c.alice, 'chat:send', { text: 'one too many' })).toEqual(
      refused('RATE_LIMITED', new RegExp(`at most ${CHAT_RATE} messages per 10 seconds`)),
    );
    expect((await ok(c.bob, 'chat:send', { text: 'my quota is mine' })).text).toBe('my quota is mine');
    const history = await ok(c.host, 'chat:history', { limit: 50 });
    expect(history.filter((m) => m.user.id === c.users.alice.id)).toHaveLength(CHAT_RATE);
  });

  it(`hearts beyond ${HEART_RATE} taps per second → RATE_LIMITED, and refused taps are not counted`, async () => {
    const c = await cast();
    // Sent together so all land in one one-second window.
    const results = await Promise.all(Array.from({ length: HEART_RATE + 2 }, () => request(c.alice, 'heart:tap', { count: 5 })));
    const accepted = results.filter((r) => r.ok).length;
    expect(accepted).toBe(HEART_RATE);
    for (const r of results.filter((x) => !x.ok)) expect(r).toEqual(refused('RATE_LIMITED', /heart/));
    await ok(c.bob, 'heart:tap', { count: 1 }); // someone else's taps are not limited by Alice's
    const stats = await ok(c.host, 'room:stats', {});
    expect(stats.hearts).toBe(HEART_RATE * 5 + 1);
  });
});
