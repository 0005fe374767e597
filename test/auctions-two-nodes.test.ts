/**
 * Auctions across two server processes on one Redis (or a Redis Cluster with TEST_REDIS=cluster).
 *
 * Extend: 300 bidders, half on each process, bid in the final 2 s of a lot (and on, as long as
 * their bids keep extending it), some with maximums, some retrying a bid through the other
 * process. Then: each accepted bid moved the end exactly as the rules say; every accepted ack is
 * its entry in the final history (same seq, amount, price), and the history holds nothing else;
 * the history replayed through the rules gives the recorded price and winner, and the winner is
 * the earliest of the highest amounts; no bid is accepted at or after the close, and bids after
 * it are AUCTION_ENDED; exactly one winner hold.
 *
 * Sudden death: bidders keep bidding through the end; the lot closes on its original time, no
 * accepted bid at or after it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../src/core/redis-client.js';
import type { AuctionBidResult, AuctionLot, AuctionState, AuctionWin } from '../src/protocol/index.js';
import { lotKeys } from '../src/commerce/auctions/auction-keys.js';
import { parseHistoryEntry } from '../src/commerce/auctions/auction-model.js';
import { incrementAt, replayHistory, type LotRules } from '../src/commerce/auctions/auction-rules.js';
import { connect, devUser, liveRoom, nextEvent, ok, request, type TestSocket, type TestUser } from './helpers/clients.js';
import { ONE_ADDRESS_CROWD } from './helpers/lifted-limits.js';
import { type ServerProcess } from './helpers/stack.js';
import { startServerProcesses, stopServerProcesses } from './helpers/server-processes.js';
import { type TestRedis } from './helpers/test-redis.js';

let redisServer: TestRedis;
let redis: RedisClient;
let nodes: ServerProcess[] = [];

beforeAll(async () => ({ redisServer, redis, nodes } = await startServerProcesses(2, { ...ONE_ADDRESS_CROWD, AUCTION_CLOSE_TICK_MS: '50' })), 120_000);
afterAll(() => stopServerProcesses({ redisServer, redis, nodes }));

interface Bidder {
  user: TestUser;
  /** One socket on each process. */
  sockets: [TestSocket, TestSocket];
}

async function crowd(roomId: string, n: number, url: string): Promise<Bidder[]> {
  const users = await Promise.all(Array.from({ length: n }, (_, i) => devUser(url, `Bidder ${i}`)));
  const out: Bidder[] = [];
  for (let i = 0; i < users.length; i += 50) {
    out.push(
      ...(await Promise.all(
        users.slice(i, i + 50).map(async (user) => {
          const sockets = (await Promise.all(nodes.map((node) => connect(node.url, user)))) as [TestSocket, TestSocket];
          for (const s of sockets) await ok(s, 'room:join', { roomId });
          return { user, sockets };
        }),
      )),
    );
  }
  return out;
}

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

interface Sent {
  user: string;
  requestId: string;
  amount: number;
  max: boolean;
  sentAt: number;
  res: Awaited<ReturnType<typeof request<'auction:bid'>>>;
}

/** Everyone bids from `from` until `until()` says stop or the price passes what they will pay,
 * each at their own random times, at the price they last heard plus a few increments (a fifth of
 * the bids are maximums a few more increments up). Some bids are sent again with the same requestId
 * through the other process. */
async function rush(lot: AuctionLot, bidders: Bidder[], from: number, until: () => boolean, watcher: TestSocket, maxBudget: number): Promise<Sent[]> {
  // The lowest acceptable bid as the crowd knows it: from the room's frames and every ack.
  let known = lot.startPrice;
  watcher.on('auction:state', (s) => {
    if (s.lotId === lot.lotId) known = Math.max(known, s.nextMin);
  });
  const sent: Sent[] = [];
  await sleepUntil(from);
  await Promise.all(
    bidders.map(async (b, i) => {
      // Staggered starts: the crowd's bids spread over the window instead of one burst.
      await new Promise((r) => setTimeout(r, (i * 7) % 400));
      // What this bidder will pay at most: the lot ends once the crowd is priced out.
      const budget = lot.startPrice + Math.floor(Math.random() * maxBudget);
      while (!until()) {
        const base = known;
        if (base > budget) break;
        const max = Math.random() < 0.2;
        const amount = Math.min(budget, base + incrementAt(lot.increments, base) * Math.floor(Math.random() * (max ? 10 : 4)));
        const requestId = randomUUID();
        const sentAt = Date.now();
        const res = await request(b.sockets[i % 2]!, 'auction:bid', { lotId: lot.lotId, amount, max, requestId });
        sent.push({ user: b.user.id, requestId, amount, max, sentAt, res });
        if (res.ok) known = Math.max(known, res.data.nextMin);
        if (i % 10 === 0) {
          // a retry through the other process must get the very same answer
          const again = await request(b.sockets[(i + 1) % 2]!, 'auction:bid', { lotId: lot.lotId, amount: amount + 1, max, requestId });
          expect(again).toEqual(res);
        }
        // the per-user limit is 5 bids a second: a human pace of 250–450 ms between taps
        await new Promise((r) => setTimeout(r, 250 + Math.random() * 200));
      }
    }),
  );
  return sent;
}

async function historyOf(roomId: string, lotId: string) {
  return (await redis.lrange(lotKeys(roomId, lotId).bids, 0, -1)).map(parseHistoryEntry);
}

describe('auctions across two processes', () => {
  it('300 bidders in the final 2 s of an extend lot: extensions, acks = history, price by the rules, nothing after the close', async () => {
    const [a] = nodes.map((n) => n.url) as [string];
    const { host, roomId, productId } = await liveRoom(a, 'Host');
    const hostSocket = await connect(a, host);
    await ok(hostSocket, 'room:join', { roomId });
    const bidders = await crowd(roomId, 300, a);

    const EXTEND_MS = 3000;
    const lot = await ok(hostSocket, 'auction:start', { productId, startPrice: 1000, durationSec: 6, mode: 'extend', extendSec: 3 });
    const closedFrame = nextEvent(hostSocket, 'auction:state', (s) => s.lotId === lot.lotId && s.status !== 'open', 90_000);
    let closed = false;
    void closedFrame.then(() => (closed = true));
    const wins: AuctionWin[] = [];
    const firstWin = new Promise<{ user: string; win: AuctionWin }>((resolve) => {
      for (const b of bidders) for (const sock of b.sockets) sock.on('auction:won', (w) => {
        wins.push(w);
        resolve({ user: b.user.id, win: w });
      });
    });
    const extensionFrames: AuctionState[] = [];
    bidders[1]!.sockets[1].on('auction:state', (s) => s.extended && extensionFrames.push(s));

    // Bidding starts 2 s before the original end and goes on until the close is heard.
    const sent = await rush(lot, bidders, lot.endsAt - 2000, () => closed, bidders[0]!.sockets[0], 40_000);
    const frame = await closedFrame;
    // After the close: refused, on both processes.
    for (const [i, b] of bidders.slice(0, 20).entries()) {
      expect(await request(b.sockets[i % 2]!, 'auction:bid', { lotId: lot.lotId, amount: 10_000_000, requestId: randomUUID() })).toMatchObject({
        ok: false,
        error: { code: 'AUCTION_ENDED' },
      });
    }

    const accepted = sent.filter((s) => s.res.ok).map((s) => ({ ...s, ack: (s.res as { data: AuctionBidResult }).data }));
    const refusedCodes = new Set(sent.filter((s) => !s.res.ok).map((s) => (s.res as { error: { code: string } }).error.code));
    expect([...refusedCodes].filter((c) => !['BID_TOO_LOW', 'ALREADY_LEADING', 'AUCTION_ENDED', 'RATE_LIMITED'].includes(c))).toEqual([]);
    const codeCounts: Record<string, number> = {};
    for (const x of sent) codeCounts[x.res.ok ? 'ok' : x.res.error.code] = (codeCounts[x.res.ok ? 'ok' : x.res.error.code] ?? 0) + 1;
    console.log('extend lot: bids by outcome', codeCounts);
    // Enough contention for the checks below to mean something. How many bids win is the
    // machine's pace, not a rule: bidders bid on the last price they heard, so slower acks mean
    // more BID_TOO_LOW (58–59 accepted on an idle machine, 47–49 during CI's full Cluster pass).
    expect(accepted.length).toBeGreaterThanOrEqual(30);
    expect(new Set(accepted.map((s) => s.user)).size).toBeGreaterThanOrEqual(20);

    const history = await historyOf(roomId, lot.lotId);
    const record = await redis.hgetall(lotKeys(roomId, lot.lotId).lot);
    // every accepted ack is its entry in the history, and the history holds nothing else
    expect(history.map((h) => h.seq)).toEqual(history.map((_, i) => i + 1));
    expect(history.length).toBe(accepted.length);
    const bySeq = new Map(history.map((h) => [h.seq, h]));
    for (const s of accepted) {
      const h = bySeq.get(s.ack.seq)!;
      expect({ user: h.user, amount: h.amount, max: h.max, price: h.price, leading: h.leader === s.user }).toEqual({
        user: s.user, amount: s.amount, max: s.max, price: s.ack.price, leading: s.ack.leading,
      });
    }
    // the extensions: each bid in the last 3 s set the end to its time + 3 s, and nothing else moved it
    let endsAt = lot.endsAt;
    let extensions = 0;
    for (const h of history) {
      expect(h.at).toBeLessThan(endsAt); // accepted only before the end as it stood
      const ack = accepted.find((s) => s.ack.seq === h.seq)!.ack;
      const extends_ = endsAt - h.at < EXTEND_MS;
      expect(ack.extended).toBe(extends_);
      if (extends_) {
        endsAt = h.at + EXTEND_MS;
        extensions++;
      }
      expect(ack.endsAt).toBe(endsAt);
    }
    expect(extensions).toBeGreaterThan(0);
    expect(Number(record.endsAt)).toBe(endsAt);
    expect(endsAt).toBeGreaterThan(lot.endsAt);
    expect(extensionFrames.length).toBeGreaterThan(0);
    // the price and the winner are the rules applied to the history
    const rules: LotRules = { startPrice: lot.startPrice, increments: lot.increments, mode: 'extend', extendMs: EXTEND_MS };
    const replayed = replayHistory(rules, history, lot.endsAt);
    expect({ price: Number(record.price), leader: record.leader, endsAt: Number(record.endsAt) }).toEqual({
      price: replayed.price, leader: replayed.leader, endsAt: replayed.endsAt,
    });
    const top = Math.max(...history.map((h) => h.amount));
    expect(record.leader).toBe(history.find((h) => h.amount === top)!.user); // ties: the earlier
    // closed once, with that winner, on the extended time
    expect(frame).toMatchObject({ status: 'awaiting-payment', price: replayed.price, endsAt, endReason: 'time' });
    expect(record.status).toBe('awaiting-payment');
    // exactly one winner hold, told to the winner: the award's sale was made once whatever the
    // number of closers racing (a racing closer replays it and may tell the winner again)
    const win = await firstWin;
    expect(win.user).toBe(record.leader);
    expect(win.win).toMatchObject({ lotId: lot.lotId, price: replayed.price });
    expect(await redis.zrange(`{room:${roomId}}:sales`, 0, -1)).toEqual([win.win.saleId]);
    expect(new Set(wins.map((w) => w.holdId))).toEqual(new Set([win.win.holdId]));
  }, 150_000);

  it('sudden death: bids through the end, the lot closes on its original time', async () => {
    const [a] = nodes.map((n) => n.url) as [string];
    const { host, roomId, productId } = await liveRoom(a, 'Host 2');
    const hostSocket = await connect(a, host);
    await ok(hostSocket, 'room:join', { roomId });
    const bidders = await crowd(roomId, 60, a);
    const lot = await ok(hostSocket, 'auction:start', { productId, startPrice: 500, durationSec: 5, mode: 'sudden-death' });
    const closedFrame = nextEvent(hostSocket, 'auction:state', (s) => s.lotId === lot.lotId && s.status !== 'open', 30_000);
    const stopAt = lot.endsAt + 1000;
    const sent = await rush(lot, bidders, lot.endsAt - 2000, () => Date.now() >= stopAt, bidders[0]!.sockets[1], 1e12);
    const frame = await closedFrame;
    // closed on its original time, heard promptly (closers tick every 50 ms)
    expect(frame).toMatchObject({ endsAt: lot.endsAt, status: 'awaiting-payment', endReason: 'time' });
    const history = await historyOf(roomId, lot.lotId);
    expect(history.length).toBe(sent.filter((s) => s.res.ok).length);
    expect(history.every((h) => h.at < lot.endsAt)).toBe(true);
    // bids sent well after the end were refused as ended
    const late = sent.filter((s) => s.sentAt > lot.endsAt + 100);
    expect(late.length).toBeGreaterThan(0);
    expect(late.every((s) => !s.res.ok && s.res.error.code === 'AUCTION_ENDED')).toBe(true);
    const record = await redis.hgetall(lotKeys(roomId, lot.lotId).lot);
    expect(Number(record.closedAt)).toBe(lot.endsAt);
  }, 90_000);
});
