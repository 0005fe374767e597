/**
 * Model-based property test: fast-check generates random interleavings of reserve, checkout,
 * release, expiry (the clock moves, the sweeper runs), restock and stop, with retried
 * requestIds, and runs them against the real scripts on a real redis-server. After every step
 * the real answers must match a plain in-memory model and the ledger invariant must hold:
 * initial + added = available + held + sold, available ≥ 0, nobody above the limit.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Product } from '../src/protocol/index.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { SaleQueries } from '../src/commerce/sales/sale-queries.js';
import { SaleStore } from '../src/commerce/sales/sale-store.js';
import type { SaleStartInput } from '../src/commerce/sales/sale-model.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';

let server: TestRedis;
let redis: RedisClient;
let clock = 0;
let store: SaleStore;
let queries: SaleQueries;

beforeAll(async () => {
  server = await startTestRedis();
  redis = server.client();
  // Virtual time: the scripts take `now` from this clock instead of Redis TIME.
  store = new SaleStore(redis, { reservesPerSecond: 1_000_000, ordersGroup: 'merchant', maxRunningPerRoom: 1000, clock: () => clock });
  queries = new SaleQueries(redis, () => clock);
});
afterAll(async () => {
  store.close();
  redis.disconnect();
  await server.stop();
});

const ROOM = 'r_prop';
const USERS = ['u1', 'u2', 'u3'];
const HOLD_MS = 10_000;
const product: Product = { id: 'p1', title: 'Scarf', imageUrl: null, price: 3000, currency: 'USD', merchant: null, brand: null };

type HoldState = 'held' | 'sold' | 'released' | 'expired';
interface ModelHold {
  user: string;
  qty: number;
  exp: number;
  state: HoldState;
  orderId?: string;
}

/** The rules, written the obvious way, to compare the scripts with. */
class Model {
  available: number;
  held = 0;
  sold = 0;
  added = 0;
  endsAt: number;
  readonly holds = new Map<string, ModelHold>();
  readonly holdIds: string[] = [];
  readonly quota = new Map<string, number>();
  /** First answers by `kind|user|requestId`, as the store returned them. */
  readonly answers = new Map<string, unknown>();

  constructor(
    readonly saleId: string,
    readonly initial: number,
    readonly limit: number,
    readonly startsAt: number,
    endsAt: number,
  ) {
    this.available = initial;
    this.endsAt = endsAt;
  }

  returnHold(h: ModelHold, state: HoldState): void {
    h.state = state;
    this.available += h.qty;
    this.held -= h.qty;
    this.quota.set(h.user, (this.quota.get(h.user) ?? 0) - h.qty);
  }

  sweepDue(now: number): number {
    let units = 0;
    for (const h of this.holds.values()) {
      if (h.state === 'held' && now >= h.exp) {
        this.returnHold(h, 'expired');
        units += h.qty;
      }
    }
    return units;
  }

  holdAt(i: number): string {
    return this.holdIds.length ? this.holdIds[i % this.holdIds.length]! : `${this.saleId}.hnothing`;
  }
}

type Cmd = fc.AsyncCommand<Model, { sale: string }>;

/** Outcomes the runs reached; the test insists every interesting one happened at least once. */
const seen = new Set<string>();
const outcome = (label: string, answer: unknown): void => {
  const a = answer as { ok: boolean; code?: string };
  seen.add(`${label}:${a.ok ? 'ok' : a.code}`);
};

async function expectConsistent(m: Model): Promise<void> {
  const ledger = (await queries.ledger(ROOM, m.saleId))!;
  expect(ledger.checks).toEqual({ balanced: true, availableNonNegative: true, countersMatchRecords: true, withinLimit: true });
  expect({ available: ledger.available, held: ledger.held, sold: ledger.sold, added: ledger.added }).toEqual({
    available: m.available,
    held: m.held,
    sold: m.sold,
    added: m.added,
  });
}

type Tap = [user: string, qty: number, req: number];

/** What the model expects of one tap, given the store's answer to it; updates the model. */
function expectReserve(m: Model, [user, qty, req]: Tap, answer: unknown, fresh: boolean): void {
  const key = `r|${user}|${req}`;
  if (m.answers.has(key)) {
    expect(fresh).toBe(false);
    expect(answer).toEqual(m.answers.get(key));
    seen.add('reserve:replay');
    return;
  }
  expect(fresh).toBe(true);
  outcome('reserve', answer);
  const code =
    clock < m.startsAt ? 'SALE_NOT_STARTED'
    : clock >= m.endsAt ? 'SALE_ENDED'
    : (m.quota.get(user) ?? 0) + qty > m.limit ? 'LIMIT_EXCEEDED'
    : m.available < qty ? 'SOLD_OUT'
    : null;
  if (code) {
    expect(answer).toEqual({ ok: false, code, available: m.available });
  } else {
    expect(answer).toMatchObject({ ok: true, qty, expiresAt: clock + HOLD_MS, remaining: m.available - qty });
    const holdId = (answer as { holdId: string }).holdId;
    expect(m.holds.has(holdId)).toBe(false);
    m.holds.set(holdId, { user, qty, exp: clock + HOLD_MS, state: 'held' });
    m.holdIds.push(holdId);
    m.available -= qty;
    m.held += qty;
    m.quota.set(user, (m.quota.get(user) ?? 0) + qty);
  }
  m.answers.set(key, answer);
}

const reserve = (tap: Tap): Cmd => ({
  check: () => true,
  async run(m) {
    const [user, qty, req] = tap;
    const { answer, fresh } = await store.reserve(ROOM, m.saleId, user, qty, `request-${req}`);
    m.sweepDue(clock);
    expectReserve(m, tap, answer, fresh);
    await expectConsistent(m);
  },
  toString: () => `reserve(${tap.join(', ')})`,
});

/** Taps sent together: the store decides them in one batch, in the order they were sent. */
const burst = (taps: Tap[]): Cmd => ({
  check: () => true,
  async run(m) {
    const results = await Promise.all(taps.map(([user, qty, req]) => store.reserve(ROOM, m.saleId, user, qty, `request-${req}`)));
    m.sweepDue(clock);
    results.forEach(({ answer, fresh }, i) => expectReserve(m, taps[i]!, answer, fresh));
    if (taps.length > 1) seen.add('reserve:burst');
    await expectConsistent(m);
  },
  toString: () => `burst(${taps.map((t) => t.join(' ')).join('; ')})`,
});

const checkout = (holdIndex: number, userIndex: number, req: number): Cmd => ({
  check: () => true,
  async run(m) {
    const holdId = m.holdAt(holdIndex);
    const h = m.holds.get(holdId);
    // mostly the owner, sometimes someone else
    const user = h && userIndex > 0 ? h.user : USERS[userIndex % USERS.length]!;
    const key = `c|${user}|${req}`;
    const { answer, fresh } = await store.checkout(ROOM, { id: user, name: user }, holdId, `request-${req}`);
    if (m.answers.has(key)) {
      expect(fresh).toBe(false);
      expect(answer).toEqual(m.answers.get(key));
      seen.add('checkout:replay');
    } else {
      outcome('checkout', answer);
      let code: string | null = null;
      if (!h || h.user !== user || h.state === 'released') code = 'NOT_FOUND';
      else if (h.state === 'expired') code = 'HOLD_EXPIRED';
      else if (h.state === 'held' && clock >= h.exp) {
        m.returnHold(h, 'expired');
        code = 'HOLD_EXPIRED';
      }
      if (code) {
        expect(answer).toEqual({ ok: false, code, available: m.available });
      } else if (h!.state === 'sold') {
        // a hold is at most one order, whatever the requestId
        expect(fresh).toBe(false);
        expect(answer).toMatchObject({ ok: true, orderId: h!.orderId, holdId, qty: h!.qty });
        seen.add('checkout:same-order');
      } else {
        expect(fresh).toBe(true);
        expect(answer).toMatchObject({ ok: true, holdId, qty: h!.qty, unitPrice: 1500, amount: 1500 * h!.qty });
        h!.state = 'sold';
        h!.orderId = (answer as { orderId: string }).orderId;
        m.held -= h!.qty;
        m.sold += h!.qty;
      }
      m.answers.set(key, answer);
    }
    await expectConsistent(m);
  },
  toString: () => `checkout(hold#${holdIndex}, user#${userIndex}, req${req})`,
});

const release = (holdIndex: number, userIndex: number): Cmd => ({
  check: () => true,
  async run(m) {
    const holdId = m.holdAt(holdIndex);
    const h = m.holds.get(holdId);
    const user = h && userIndex > 0 ? h.user : USERS[userIndex % USERS.length]!;
    const { answer } = await store.release(ROOM, user, holdId);
    outcome('release', answer);
    if (!h || h.user !== user) expect(answer).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    else if (h.state === 'sold') expect(answer).toMatchObject({ ok: false, code: 'CONFLICT' });
    else if (h.state === 'expired') expect(answer).toMatchObject({ ok: false, code: 'HOLD_EXPIRED' });
    else if (h.state === 'released') expect(answer).toEqual({ ok: true, released: false, remaining: m.available });
    else if (clock >= h.exp) {
      m.returnHold(h, 'expired');
      expect(answer).toMatchObject({ ok: false, code: 'HOLD_EXPIRED' });
    } else {
      m.returnHold(h, 'released');
      expect(answer).toEqual({ ok: true, released: true, remaining: m.available });
    }
    await expectConsistent(m);
  },
  toString: () => `release(hold#${holdIndex}, user#${userIndex})`,
});

const advance = (ms: number): Cmd => ({
  check: () => true,
  async run(m) {
    clock += ms;
    const r = await store.sweep(ROOM, m.saleId);
    expect(r.unitsReturned).toBe(m.sweepDue(clock));
    if (r.unitsReturned > 0) seen.add('sweep:returned');
    await expectConsistent(m);
  },
  toString: () => `advance(${ms}ms) + sweep`,
});

const restock = (qty: number): Cmd => ({
  check: () => true,
  async run(m) {
    const res = await store.restock(ROOM, m.saleId, qty).catch((err: { code: string }) => err.code);
    if (clock >= m.endsAt) expect(res).toBe('SALE_ENDED');
    else {
      m.added += qty;
      m.available += qty;
      expect(res).toMatchObject({ available: m.available, added: m.added });
    }
    await expectConsistent(m);
  },
  toString: () => `restock(${qty})`,
});

const stop = (): Cmd => ({
  check: () => true,
  async run(m) {
    const res = await store.stop(ROOM, m.saleId).catch((err: { code: string }) => err.code);
    if (clock >= m.endsAt) expect(res).toBe('SALE_ENDED');
    else {
      m.endsAt = clock;
      expect(res).toMatchObject({ status: 'ended', endsAt: clock });
    }
    await expectConsistent(m);
  },
  toString: () => 'stop()',
});

const user = fc.constantFrom(...USERS);
const tap = fc.tuple(user, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 12 }));
const commands = [
  tap.map(reserve),
  tap.map(reserve),
  fc.array(tap, { minLength: 2, maxLength: 8 }).map(burst),
  fc.tuple(fc.nat(50), fc.nat(6), fc.integer({ min: 100, max: 112 })).map(([h, u, r]) => checkout(h, u, r)),
  fc.tuple(fc.nat(50), fc.nat(6)).map(([h, u]) => release(h, u)),
  fc.integer({ min: 1, max: 12_000 }).map(advance),
  fc.integer({ min: 1, max: 4 }).map(restock),
  fc.constant(null).map(stop),
];

describe('flash sale scripts against a model', () => {
  it('keep the ledger balanced and answer like the model under random interleavings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.commands(commands, { maxCommands: 60, size: 'large' }),
        async (quantity, limit, startIn, cmds) => {
          clock = 1_800_000_000_000;
          const input: SaleStartInput = { productId: product.id, price: 1500, quantity, perUserLimit: limit, startInSec: startIn, durationSec: 60, holdSec: HOLD_MS / 1000 };
          const { sale } = await store.create(ROOM, product, input, 'host');
          const model = new Model(sale.id, quantity, limit, clock + startIn * 1000, clock + startIn * 1000 + 60_000);
          await fc.asyncModelRun(() => ({ model, real: { sale: sale.id } }), cmds);
        },
      ),
      { numRuns: 150 },
    );
    for (const label of [
      'reserve:ok', 'reserve:replay', 'reserve:burst', 'reserve:SOLD_OUT', 'reserve:LIMIT_EXCEEDED', 'reserve:SALE_NOT_STARTED', 'reserve:SALE_ENDED',
      'checkout:ok', 'checkout:replay', 'checkout:same-order', 'checkout:HOLD_EXPIRED', 'checkout:NOT_FOUND',
      'release:ok', 'release:CONFLICT', 'release:HOLD_EXPIRED', 'sweep:returned',
    ]) {
      expect(seen, label).toContain(label);
    }
  });
});
