/**
 * kill -9 mid-sale, on three server processes sharing one Redis. Buyers spread over the three
 * reserve, check out, release or let holds run out, while the host keeps starting short sales
 * (sales created while the sweepers run). One process is killed with SIGKILL in the middle; its
 * buyers reconnect to the others and resend what got no answer with the same requestId. Then an
 * independent audit that reads Redis directly (test/helpers/sale-audit.ts, not the server's
 * ledger code) must find every sale consistent:
 * initial + restocked = available + held + sold; nobody over the limit; orders in the stream =
 * units sold = the distinct successful checkout acks; no duplicate order per requestId; and every
 * hold back in stock on time, including in the sales started during the rush.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../src/core/redis-client.js';
import { type TestRedis } from './helpers/test-redis.js';
import type { Ack, FlashSale } from '../src/protocol/index.js';
import { connect, devUser, liveRoom, nextEvent, ok, type TestSocket, type TestUser } from './helpers/clients.js';
import { auditSale, redisNow } from './helpers/sale-audit.js';
import { type ServerProcess } from './helpers/stack.js';
import { startServerProcesses, stopServerProcesses } from './helpers/server-processes.js';

let redisServer: TestRedis;
let redis: RedisClient;
let nodes: ServerProcess[] = [];

beforeAll(async () => ({ redisServer, redis, nodes } = await startServerProcesses(3, { MEDIA_ENABLED: 'false', SALE_SWEEP_MS: '50' })), 180_000);
// (the killed one has exited already: stopServerProcesses stops only those still running)
afterAll(() => stopServerProcesses({ redisServer, redis, nodes }));

const BUYERS = 36;
const ROUNDS = 10;
const LIMIT = 2;
const HOLD_SEC = 2;
/** How late a hold may go back to stock on this shared, slow machine and still be "on time". */
const LATE_MS = 10_000;
/** A request with no answer this long is resent (same requestId) on a live node. */
const ACK_TIMEOUT_MS = 15_000;

type Outcome = { event: string; requestId: string; res: Ack<any> };

/** A buyer with one socket; when its node dies, it moves to a live one and resends. */
class Buyer {
  socket!: TestSocket;
  readonly acks: Outcome[] = [];
  /** Requests that got no answer (their node died) and were sent again elsewhere. */
  resent = 0;
  constructor(
    readonly user: TestUser,
    private url: string,
    private readonly roomId: string,
    private readonly liveUrls: () => string[],
  ) {}

  async join(): Promise<void> {
    for (;;) {
      try {
        this.socket = await connect(this.url, this.user);
        const res = await this.once('room:join', { roomId: this.roomId });
        if (res && res.ok) return;
      } catch {
        // the node is gone (or going): pick a live one
      }
      const live = this.liveUrls();
      this.url = live[Math.floor(Math.random() * live.length)]!;
    }
  }

  /** One emit; null when the socket dropped or nothing came back in time. */
  private once(event: string, payload: unknown): Promise<Ack<any> | null> {
    const socket = this.socket;
    return new Promise((resolve) => {
      if (!socket.connected) return resolve(null);
      const done = (res: Ack<any> | null) => {
        clearTimeout(timer);
        socket.off('disconnect', onDrop);
        resolve(res);
      };
      const onDrop = () => done(null);
      const timer = setTimeout(() => done(null), ACK_TIMEOUT_MS);
      socket.on('disconnect', onDrop);
      (socket.emit as (...a: unknown[]) => void)(event, payload, (res: Ack<any>) => done(res));
    });
  }

  /** Sends until answered, moving to a live node when needed: the same payload (and requestId). */
  async send(event: string, payload: Record<string, unknown>): Promise<Ack<any>> {
    for (;;) {
      const res = await this.once(event, payload);
      if (res && !(res.ok === false && res.error.code === 'NOT_IN_ROOM')) {
        this.acks.push({ event, requestId: String(payload.requestId ?? ''), res });
        return res;
      }
      this.resent += 1;
      this.socket.disconnect();
      await this.join();
    }
  }
}

describe('kill -9 mid-sale on three processes', () => {
  it('keeps every sale consistent by an independent audit of Redis', async () => {
    const urls = nodes.map((n) => n.url);
    const dead = new Set<string>();
    const liveUrls = () => urls.filter((u) => !dead.has(u));
    const [a] = urls as [string];
    const { host, roomId, productId } = await liveRoom(a, 'Host');
    const hostSocket = await connect(a, host); // node 0 survives
    await ok(hostSocket, 'room:join', { roomId });
    const watcher = await connect(urls[1]!, await devUser(urls[1]!, 'Watcher'));
    await ok(watcher, 'room:join', { roomId });

    const main = await ok(hostSocket, 'sale:start', { productId, price: 1500, quantity: 30, perUserLimit: LIMIT, durationSec: 600, holdSec: HOLD_SEC });
    const sales: FlashSale[] = [main];
    const buyers = await Promise.all(
      Array.from({ length: BUYERS }, async (_, i) => {
        const b = new Buyer(await devUser(a, `Buyer ${i}`), urls[i % urls.length]!, roomId, liveUrls);
        await b.join();
        return b;
      }),
    );

    // The host keeps starting short sales (3 s, 1 s holds) during the rush, before and after the kill.
    const starting: Promise<void>[] = [];
    const startShort = () =>
      starting.push(
        ok(hostSocket, 'sale:start', { productId, price: 900, quantity: 6, perUserLimit: LIMIT, durationSec: 3, holdSec: 1 }).then((s) => {
          sales.push(s);
        }),
      );

    let acked = 0;
    let killed!: () => void;
    const killedNow = new Promise<void>((resolve) => (killed = resolve));
    const victim = nodes[2]!;
    const killAfter = BUYERS * 3; // acks before the kill: well into the rush
    const onAck = () => {
      if (++acked % 30 === 0 && starting.length < 12) startShort();
      if (acked === killAfter) {
        dead.add(victim.url);
        victim.child.kill('SIGKILL');
        killed();
      }
    };

    const shop = async (b: Buyer) => {
      for (let round = 0; round < ROUNDS; round++) {
        const live = sales.filter((s) => s.id === main.id || Math.random() < 0.5);
        const sale = live[Math.floor(Math.random() * live.length)]!;
        const reserved = await b.send('sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() });
        onAck();
        if (!reserved.ok) continue;
        const roll = Math.random();
        if (roll < 0.55) {
          const requestId = randomUUID();
          const bought = await b.send('sale:checkout', { holdId: reserved.data.holdId, requestId });
          onAck();
          // a retry of the same tap after a lost answer: the same order or the same refusal
          if (bought.ok && Math.random() < 0.3) {
            const again = await b.send('sale:checkout', { holdId: reserved.data.holdId, requestId });
            expect(again).toEqual(bought);
          }
        } else if (roll < 0.7) {
          await b.send('sale:release', { holdId: reserved.data.holdId });
          onAck();
        } // else: the hold is left to expire
      }
    };
    await Promise.all(buyers.map(shop));
    await Promise.all(starting);
    await killedNow; // the kill really happened mid-rush
    expect(victim.child.signalCode).toBe('SIGKILL');

    // Mid-way audit right after the rush: nothing overdue while the two survivors sweep.
    for (const s of sales) expect((await auditSale(redis, roomId, s.id, LATE_MS)).overdue).toEqual([]);

    // Every hold goes back by itself: wait for each sale's stock to show none held. Nobody acts
    // any more, so the last hold back is one that expired: it must come back within LATE_MS.
    for (const s of sales) {
      const none = nextEvent(watcher, 'sale:stock', (st) => st.saleId === s.id && st.held === 0, 60_000);
      const before = await auditSale(redis, roomId, s.id, LATE_MS);
      if (before.held > 0) {
        await none;
        const after = await auditSale(redis, roomId, s.id, LATE_MS);
        expect((await redisNow(redis)) - after.lastExpiry, `last hold of ${s.id} back late`).toBeLessThan(LATE_MS);
      } else none.catch(() => undefined);
      // and at every one of these moments, no hold of any sale is overdue
      for (const t of sales) expect((await auditSale(redis, roomId, t.id, LATE_MS)).overdue).toEqual([]);
    }

    const checkouts = buyers.flatMap((b) => b.acks.filter((o) => o.event === 'sale:checkout'));
    let totalSold = 0;
    for (const s of sales) {
      const audit = await auditSale(redis, roomId, s.id, LATE_MS);
      expect(audit.problems, `sale ${s.id}`).toEqual([]);
      expect(audit.held).toBe(0);
      expect(audit.initial + audit.added).toBe(audit.available + audit.sold);
      // orders in the stream = distinct successful checkout acks for this sale
      const acked = new Set(checkouts.flatMap((o) => (o.res.ok && o.res.data.saleId === s.id ? [o.res.data.orderId as string] : [])));
      expect(new Set(audit.orders.map((o) => o.orderId))).toEqual(acked);
      totalSold += audit.sold;
    }
    expect(totalSold).toBeGreaterThan(0);
    expect(sales.length).toBeGreaterThan(6);
    // the kill hit requests in flight, which were answered after a move to another node
    const resent = buyers.reduce((n, b) => n + b.resent, 0);
    expect(resent).toBeGreaterThan(0);
    console.log(`kill -9 audit: ${sales.length} sales, ${totalSold} units sold, ${checkouts.length} checkout acks, ${acked} acks, ${resent} resent after the kill`);
  }, 300_000);

  it('the audit itself fails on a broken sale (it can catch what it looks for)', async () => {
    const [a] = nodes.map((n) => n.url) as [string];
    const { host, roomId, productId } = await liveRoom(a, 'Host');
    const hostSocket = await connect(a, host);
    await ok(hostSocket, 'room:join', { roomId });
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 100, quantity: 5, perUserLimit: 1, durationSec: 600 });
    const buyer = await connect(a, await devUser(a, 'Olga'));
    await ok(buyer, 'room:join', { roomId });
    const hold = await ok(buyer, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() });
    const order = await ok(buyer, 'sale:checkout', { holdId: hold.holdId, requestId: randomUUID() });
    expect((await auditSale(redis, roomId, sale.id, LATE_MS)).problems).toEqual([]);

    const base = `{room:${roomId}}:sale:${sale.id}`;
    await redis.xadd(`{room:${roomId}}:orders`, '*', 'saleId', sale.id, 'orderId', order.orderId, 'holdId', hold.holdId, 'userId', 'u_x', 'qty', '1', 'requestId', 'r1');
    await redis.hincrby(base, 'available', 1);
    await redis.hset(`${base}:holds`, `${sale.id}.hfake`, `held|u_y|2|${Date.now() - 60_000}||0`);
    const problems = (await auditSale(redis, roomId, sale.id, LATE_MS)).problems.join('\n');
    expect(problems).toMatch(/!= available/);
    expect(problems).toMatch(/duplicate orderId/);
    expect(problems).toMatch(/over the limit/);
    expect(problems).toMatch(/overdue/);
  });
});
