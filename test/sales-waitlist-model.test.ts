/**
 * Model-based property test of the sold-out waitlist: fast-check interleaves reserve, checkout,
 * release, expiry (the virtual clock moves, the sweeper runs), join, leave, restock and stop, and
 * runs them against the real scripts on a real redis-server. A plain model decides who gets each
 * unit that comes back — the waitlist's head, in join order, skipping whoever is at the limit —
 * and after every step the real waitlist, the real offers (holder, expiry) and the ledger
 * (initial + added = available + held + offered + sold, recounted from the records) must be
 * exactly the model's. A second run does the same on a buy-now standing ledger, whose stock the
 * host sets (the upsert: units added go to the list first, a decrease takes only available units,
 * off sale closes the list) instead of restocking it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Product } from '../src/protocol/index.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { saleKeys } from '../src/commerce/sales/sale-keys.js';
import { roomKey } from '../src/core/keys.js';
import { parseHoldRecord, type SaleStartInput } from '../src/commerce/sales/sale-model.js';
import { SaleQueries } from '../src/commerce/sales/sale-queries.js';
import { SaleStore } from '../src/commerce/sales/sale-store.js';
import { STANDING_LEDGER_SPAN_MS, StandingLedgers, standingLedgerId, type StandingLedgerFields } from '../src/commerce/sales/standing-ledger.js';
import { WaitlistStore } from '../src/commerce/sales/waitlist-store.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';

let server: TestRedis;
let redis: RedisClient;
let clock = 0;
let store: SaleStore;
let waitlist: WaitlistStore;
let queries: SaleQueries;
let ledgers: StandingLedgers;

const ROOM = 'r_wlprop';
const USERS = ['u1', 'u2', 'u3', 'u4'];
const HOLD_MS = 10_000;
const OFFER_MS = 4_000;
const MAX = 2;
const product: Product = { id: 'p1', title: 'Scarf', imageUrl: null, price: 3000, currency: 'USD', merchant: null, brand: null };

beforeAll(async () => {
  server = await startTestRedis();
  redis = server.client();
  store = new SaleStore(redis, { reservesPerSecond: 1_000_000, ordersGroup: 'merchant', maxRunningPerRoom: 1000, clock: () => clock });
  waitlist = new WaitlistStore(redis, store, { max: MAX, offerMs: OFFER_MS, told: 1 });
  queries = new SaleQueries(redis, () => clock);
  ledgers = new StandingLedgers(redis, store, () => clock);
});
afterAll(async () => {
  store.close();
  redis.disconnect();
  await server.stop();
});

type State = 'held' | 'offered' | 'sold' | 'released' | 'expired';
interface Hold {
  user: string;
  qty: number;
  exp: number;
  state: State;
}

class Model {
  available: number;
  held = 0;
  offered = 0;
  sold = 0;
  added = 0;
  offerSeq = 0;
  readonly holds = new Map<string, Hold>();
  readonly holdIds: string[] = [];
  readonly quota = new Map<string, number>();
  /** The waitlist, head first. */
  list: string[] = [];
  /** Who got each offer, in the order they were made (for the fairness check). */
  readonly offerLog: string[] = [];
  /** A standing ledger (stock set by upsert), not a sale; `listed` false: off sale. */
  ledger = false;
  listed = true;

  constructor(
    readonly saleId: string,
    readonly initial: number,
    readonly limit: number,
    readonly startsAt: number,
    public endsAt: number,
  ) {
    this.available = initial;
  }

  q(user: string): number {
    return this.quota.get(user) ?? 0;
  }

  /** Units coming back: the list's heads first, one unit each, while the sale is open. */
  giveBack(units: number): void {
    while (units > 0 && clock < this.endsAt && this.list.length > 0) {
      const head = this.list.shift()!;
      if (this.q(head) + 1 > this.limit) continue; // dropped: could not buy within the limit
      const holdId = `${this.saleId}.o${++this.offerSeq}`;
      this.holds.set(holdId, { user: head, qty: 1, exp: clock + OFFER_MS, state: 'offered' });
      this.holdIds.push(holdId);
      this.quota.set(head, this.q(head) + 1);
      this.offered += 1;
      this.offerLog.push(head);
      units -= 1;
    }
    this.available += units;
  }

  returnHold(h: Hold, state: State): void {
    if (h.state === 'held') this.held -= h.qty;
    else this.offered -= h.qty;
    h.state = state;
    this.quota.set(h.user, this.q(h.user) - h.qty);
    this.giveBack(h.qty);
  }

  /** Due holds and offers, in the order the script takes them: by expiry, then by id. */
  sweepDue(): number {
    const due = [...this.holds.entries()]
      .filter(([, h]) => (h.state === 'held' || h.state === 'offered') && clock >= h.exp)
      .sort(([a, x], [b, y]) => x.exp - y.exp || (a < b ? -1 : 1));
    for (const [, h] of due) this.returnHold(h, 'expired');
    return due.reduce((n, [, h]) => n + h.qty, 0);
  }

  holdAt(i: number): string {
    return this.holdIds.length ? this.holdIds[i % this.holdIds.length]! : `${this.saleId}.hnothing`;
  }
}

type Cmd = fc.AsyncCommand<Model, object>;
const seen = new Set<string>();

async function expectSame(m: Model): Promise<void> {
  const ledger = (await queries.ledger(ROOM, m.saleId))!;
  expect(ledger.checks).toEqual({ balanced: true, availableNonNegative: true, countersMatchRecords: true, withinLimit: true });
  expect({ available: ledger.available, held: ledger.held, offered: ledger.offered, sold: ledger.sold, added: ledger.added }).toEqual({
    available: m.available, held: m.held, offered: m.offered, sold: m.sold, added: m.added,
  });
  const k = saleKeys(ROOM, m.saleId);
  expect(await redis.zrange(k.waitlist, 0, -1)).toEqual(m.list);
  // Nobody waits while units are on sale.
  if (m.list.length > 0) expect(m.available).toBe(0);
  const real = Object.entries(await redis.hgetall(k.holds)).flatMap(([id, raw]) => {
    const h = parseHoldRecord(raw)!;
    return h.state === 'offered' ? [[id, h.userId, h.expiresAt]] : [];
  });
  const model = [...m.holds.entries()].filter(([, h]) => h.state === 'offered').map(([id, h]) => [id, h.user, h.exp]);
  expect(real.sort()).toEqual(model.sort());
}

const reserve = (user: string, qty: number): Cmd => ({
  check: () => true,
  async run(m) {
    const { answer } = await store.reserve(ROOM, m.saleId, user, qty, `r-${Math.random().toString(36).slice(2, 12)}`);
    m.sweepDue();
    const code =
      clock < m.startsAt ? 'SALE_NOT_STARTED'
      : clock >= m.endsAt ? 'SALE_ENDED'
      : m.q(user) + qty > m.limit ? 'LIMIT_EXCEEDED'
      : m.available < qty ? 'SOLD_OUT'
      : null;
    if (code) expect(answer).toMatchObject({ ok: false, code });
    else {
      expect(answer).toMatchObject({ ok: true, qty });
      const holdId = (answer as { holdId: string }).holdId;
      m.holds.set(holdId, { user, qty, exp: clock + HOLD_MS, state: 'held' });
      m.holdIds.push(holdId);
      m.available -= qty;
      m.held += qty;
      m.quota.set(user, m.q(user) + qty);
    }
    seen.add(`reserve:${code ?? 'ok'}`);
    await expectSame(m);
  },
  toString: () => `reserve(${user}, ${qty})`,
});

/** Checkout (take) or release (decline) of a hold or offer, mostly by its owner. `offer`: an
 * offer still out, when there is one (picked by index, offers are few among the holds: the
 * coverage check below would see an offer declined or taken only by luck). */
const settle = (kind: 'checkout' | 'release', holdIndex: number, byOwner: boolean, offer = false): Cmd => ({
  check: () => true,
  async run(m) {
    const offers = offer ? [...m.holds.entries()].filter(([, h]) => h.state === 'offered').map(([id]) => id) : [];
    const holdId = offers.length ? offers[holdIndex % offers.length]! : m.holdAt(holdIndex);
    const h = m.holds.get(holdId);
    const user = h && byOwner ? h.user : 'u4';
    const res =
      kind === 'checkout'
        ? (await store.checkout(ROOM, { id: user, name: user }, holdId, `c-${Math.random().toString(36).slice(2, 12)}`)).answer
        : (await store.release(ROOM, user, holdId)).answer;
    const wasOffer = h?.state === 'offered';
    if (!h || h.user !== user) expect(res).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    else if (h.state === 'held' || h.state === 'offered') {
      if (clock >= h.exp) {
        m.returnHold(h, 'expired');
        expect(res).toMatchObject({ ok: false, code: 'HOLD_EXPIRED' });
      } else if (kind === 'release') {
        m.returnHold(h, 'released');
        expect(res).toMatchObject({ ok: true, released: true });
        if (wasOffer) seen.add('offer:declined');
      } else {
        if (h.state === 'held') m.held -= h.qty;
        else m.offered -= h.qty;
        h.state = 'sold';
        m.sold += h.qty;
        expect(res).toMatchObject({ ok: true, holdId });
        if (wasOffer) seen.add('offer:converted');
      }
    }
    await expectSame(m);
  },
  toString: () => `${kind}(${offer ? 'offer' : 'hold'}#${holdIndex}, ${byOwner ? 'owner' : 'other'})`,
});

const join = (user: string, leave: boolean): Cmd => ({
  check: () => true,
  async run(m) {
    const res = await waitlist.waitlist(ROOM, m.saleId, user, leave ? 'leave' : 'join').catch((err: { code: string }) => err.code);
    if (leave) {
      m.list = m.list.filter((u) => u !== user);
      expect(res).toMatchObject({ position: 0, length: m.list.length });
    } else {
      const at = m.list.indexOf(user);
      const code =
        at >= 0 ? null
        : !m.listed ? 'NOT_FOUND'
        : clock < m.startsAt ? 'SALE_NOT_STARTED'
        : clock >= m.endsAt ? 'SALE_ENDED'
        : m.available > 0 ? 'WAITLIST_NOT_SOLD_OUT'
        : m.q(user) + 1 > m.limit ? 'LIMIT_EXCEEDED'
        : m.list.length >= MAX ? 'WAITLIST_FULL'
        : null;
      if (code) expect(res).toBe(code);
      else {
        if (at < 0) m.list.push(user);
        expect(res).toMatchObject({ position: m.list.indexOf(user) + 1, length: m.list.length });
      }
      seen.add(`join:${code ?? 'ok'}`);
    }
    await expectSame(m);
  },
  toString: () => `${leave ? 'leave' : 'join'}(${user})`,
});

const advance = (ms: number): Cmd => ({
  check: () => true,
  async run(m) {
    clock += ms;
    const offersBefore = m.offerLog.length;
    const r = await store.sweep(ROOM, m.saleId);
    expect(r.unitsReturned).toBe(m.sweepDue());
    if (clock >= m.endsAt) m.list = [];
    if (m.offerLog.length > offersBefore) seen.add('offer:after-lapse-or-expiry');
    await expectSame(m);
  },
  toString: () => `advance(${ms}ms) + sweep`,
});

const restock = (qty: number): Cmd => ({
  check: (m) => !m.ledger,
  async run(m) {
    const res = await store.restock(ROOM, m.saleId, qty).catch((err: { code: string }) => err.code);
    if (clock >= m.endsAt) expect(res).toBe('SALE_ENDED');
    else {
      const waiting = m.list.length;
      m.added += qty;
      m.giveBack(qty);
      expect(res).toMatchObject({ available: m.available, added: m.added, held: m.held + m.offered });
      if (waiting > 0) seen.add('restock:to-waitlist');
    }
    await expectSame(m);
  },
  toString: () => `restock(${qty})`,
});

/** The room's set of ledgers of this kind: in the room's slot, like every key a script touches. */
const LEDGER_SET = roomKey(ROOM, 'buy-now:offers');
const ledgerFields = (m: Model, listed: boolean): StandingLedgerFields => ({
  kind: 'buy-now', roomId: ROOM, productId: m.saleId, title: 'Scarf', imageUrl: null, price: 1500, currency: 'USD',
  perUserLimit: m.limit, holdMs: HOLD_MS, createdBy: 'host', listed,
});

/** The host sets a standing ledger's stock (null: takes it off sale). */
const setStock = (n: number | null): Cmd => ({
  check: (m) => m.ledger,
  async run(m) {
    const res = await ledgers.upsert(ROOM, m.saleId, LEDGER_SET, ledgerFields(m, n !== null), n ?? 0).catch((err: { code: string }) => err.code);
    if (clock >= m.endsAt) expect(res).toBe('SALE_ENDED');
    else {
      m.listed = n !== null;
      if (!m.listed) {
        if (m.list.length > 0) seen.add('stock:off-sale-closes');
        m.list = [];
      }
      const delta = (n ?? 0) - m.available;
      m.added += delta;
      if (delta > 0) {
        if (m.list.length > 0) seen.add('stock:to-waitlist');
        m.giveBack(delta);
      } else {
        if (delta < 0 && m.held + m.offered > 0) seen.add('stock:decrease-beside-holds');
        m.available += delta;
      }
      expect(res).toEqual({ available: m.available, held: m.held + m.offered, sold: m.sold, created: false });
    }
    await expectSame(m);
  },
  toString: () => `setStock(${n})`,
});

const stop = (): Cmd => ({
  check: () => true,
  async run(m) {
    const res = await store.stop(ROOM, m.saleId).catch((err: { code: string }) => err.code);
    if (clock >= m.endsAt) expect(res).toBe('SALE_ENDED');
    else {
      m.endsAt = clock;
      m.list = [];
    }
    await expectSame(m);
  },
  toString: () => 'stop()',
});

const user = fc.constantFrom(...USERS);
const commands = [
  fc.tuple(user, fc.integer({ min: 1, max: 2 })).map(([u, q]) => reserve(u, q)),
  fc.tuple(user, fc.integer({ min: 1, max: 2 })).map(([u, q]) => reserve(u, q)),
  fc.tuple(fc.nat(40), fc.nat(5)).map(([h, o]) => settle('checkout', h, o > 0)),
  fc.tuple(fc.nat(40), fc.nat(5)).map(([h, o]) => settle('release', h, o > 0)),
  fc.tuple(fc.constantFrom('checkout' as const, 'release' as const), fc.nat(3)).map(([k, h]) => settle(k, h, true, true)),
  user.map((u) => join(u, false)),
  user.map((u) => join(u, false)),
  user.map((u) => join(u, false)),
  user.map((u) => join(u, true)),
  fc.integer({ min: 1, max: 12_000 }).map(advance),
  fc.integer({ min: 1, max: 3 }).map(restock),
  fc.integer({ min: 0, max: 3 }).map(setStock),
  fc.integer({ min: 0, max: 3 }).map(setStock),
  fc.nat(3).map((n) => (n === 0 ? setStock(null) : setStock(n))),
  // A stop ends the run's interest early: rarer than the rest.
  fc.nat(3).map((n) => (n === 0 ? stop() : advance(1000))),
];

/**
 * Runs the property (150 random runs) until the runs have reached every one of these outcomes, at
 * most 5 times: each outcome must be reachable, but 150 runs miss a rare one now and then (about
 * 1 in 15 before this), and a miss then is the dice, not a defect. Missing after 750 runs is one.
 */
async function runUntilSeen(labels: string[], property: () => Promise<void>): Promise<void> {
  for (let round = 0; round < 5 && (round === 0 || labels.some((l) => !seen.has(l))); round++) await property();
  for (const label of labels) expect(seen, label).toContain(label);
}

describe('waitlist scripts against a model', () => {
  it('offer returning units to the waitlist in order, and keep the extended ledger exact', async () => {
    await runUntilSeen([
      'join:ok', 'join:WAITLIST_NOT_SOLD_OUT', 'join:WAITLIST_FULL', 'join:LIMIT_EXCEEDED', 'join:SALE_ENDED',
      'offer:converted', 'offer:declined', 'offer:after-lapse-or-expiry', 'restock:to-waitlist', 'reserve:SOLD_OUT',
    ], () => fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.commands(commands, { maxCommands: 60, size: 'large' }),
        async (quantity, limit, cmds) => {
          clock = 1_800_000_000_000;
          const input: SaleStartInput = { productId: product.id, price: 1500, quantity, perUserLimit: limit, startInSec: 0, durationSec: 90, holdSec: HOLD_MS / 1000 };
          const { sale } = await store.create(ROOM, product, input, 'host');
          const model = new Model(sale.id, quantity, limit, clock, clock + 90_000);
          await fc.asyncModelRun(() => ({ model, real: {} }), cmds);
        },
      ),
      { numRuns: 150 },
    ));
  });

  it("on a buy-now standing ledger, the host's stock edits go to the list first and never take offers or holds", async () => {
    let run = 0;
    await runUntilSeen([
      'join:ok', 'join:NOT_FOUND', 'stock:to-waitlist', 'stock:decrease-beside-holds', 'stock:off-sale-closes', 'offer:converted', 'offer:declined',
    ], () => fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.commands(commands, { maxCommands: 60, size: 'large' }),
        async (quantity, limit, cmds) => {
          clock = 1_800_000_000_000;
          const ledgerId = standingLedgerId('bn', `p${++run}`);
          const model = new Model(ledgerId, quantity, limit, clock, clock + STANDING_LEDGER_SPAN_MS);
          model.ledger = true;
          expect(await ledgers.upsert(ROOM, ledgerId, LEDGER_SET, ledgerFields(model, true), quantity)).toMatchObject({ created: true, available: quantity });
          await fc.asyncModelRun(() => ({ model, real: {} }), cmds);
        },
      ),
      { numRuns: 150 },
    ));
  });
});
