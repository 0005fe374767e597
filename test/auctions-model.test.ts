/**
 * Model-based property test: fast-check generates lots (start price, increment table, mode,
 * extension) and random interleavings of plain bids, maximum bids, bursts of bids sent at once
 * (decided in one batched script call), retries of earlier requestIds
 * (with different amounts: a retry must get the first answer whatever it carries), time moving
 * on and closers running, and runs them against the real Lua scripts on a real Redis with a
 * virtual clock. Every answer must equal the plain TypeScript rules (auction-rules.ts) plus
 * a memo of first answers; afterwards the lot's record, its close and its history replayed
 * through the rules must all agree with the model.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../src/core/redis-client.js';
import type { IncrementBand, Product } from '../src/protocol/index.js';
import { AuctionStore } from '../src/commerce/auctions/auction-store.js';
import { decideBid, minNextBid, openingState, replayHistory, type LotRules, type LotState } from '../src/commerce/auctions/auction-rules.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';

let server: TestRedis;
let redis: RedisClient;
let clock = 1_000_000;
let store: AuctionStore;

beforeAll(async () => {
  server = await startTestRedis();
  redis = server.client();
  store = new AuctionStore(redis, { bidsPerSecond: 1_000_000, mutedMayBid: false, maxBidsPerLot: 1_000_000, clock: () => clock });
});
afterAll(async () => {
  store.close();
  redis.disconnect();
  await server.stop();
});

const USERS = ['u1', 'u2', 'u3', 'u4'];
const product: Product = { id: 'p1', title: 'Watch', imageUrl: null, price: 5000, currency: 'USD', merchant: null, brand: null };

type Op =
  | { kind: 'bid'; user: number; offset: number; max: boolean }
  /** A bid right at the leader's (secret) maximum, or a step beside it: ties and near-ties. */
  | { kind: 'near-max'; user: number; delta: number; max: boolean }
  | { kind: 'retry'; pick: number; offset: number }
  /** Bids sent at once: decided in one script call (the server's batch), in this order. */
  | { kind: 'burst'; bids: { user: number; offset: number; max: boolean }[] }
  | { kind: 'wait'; ms: number }
  | { kind: 'close' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('bid' as const), user: fc.nat(USERS.length - 1), offset: fc.integer({ min: -300, max: 4000 }), max: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('near-max' as const), user: fc.nat(USERS.length - 1), delta: fc.integer({ min: -2, max: 2 }), max: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('retry' as const), pick: fc.nat(), offset: fc.integer({ min: -300, max: 4000 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('burst' as const),
      bids: fc.array(fc.record({ user: fc.nat(USERS.length - 1), offset: fc.integer({ min: -300, max: 4000 }), max: fc.boolean() }), { minLength: 2, maxLength: 8 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 4000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'close' as const }) },
);

const bandsArb: fc.Arbitrary<IncrementBand[] | undefined> = fc.option(
  fc
    .uniqueArray(fc.integer({ min: 1, max: 20_000 }), { maxLength: 4 })
    .chain((froms) =>
      fc.array(fc.integer({ min: 1, max: 800 }), { minLength: froms.length + 1, maxLength: froms.length + 1 }).map((steps) =>
        [0, ...froms.sort((a, b) => a - b)].map((from, i) => ({ from, step: steps[i]! })),
      ),
    ),
  { nil: undefined },
);

const lotArb = fc.record({
  startPrice: fc.integer({ min: 1, max: 5000 }),
  increments: bandsArb,
  mode: fc.constantFrom('extend' as const, 'sudden-death' as const),
  extendSec: fc.integer({ min: 1, max: 10 }),
  durationSec: fc.integer({ min: 5, max: 30 }),
});

let roomSeq = 0;

describe('auction scripts against the rules', () => {
  it('random bids, maximums, retries, time and closes: every answer and the final lot match the model', async () => {
    await fc.assert(
      fc.asyncProperty(lotArb, fc.array(opArb, { minLength: 1, maxLength: 60 }), async (def, ops) => {
        const roomId = `r_model_${++roomSeq}`;
        const { lot } = await store.start(roomId, product, { productId: 'p1', holdSec: 60, ...def }, 'host');
        const rules: LotRules = {
          startPrice: def.startPrice,
          increments: lot.increments,
          mode: def.mode,
          extendMs: def.extendSec * 1000,
        };
        let model: LotState = openingState(rules, lot.endsAt);
        let closed: string | null = null;
        const memo = new Map<string, unknown>();
        const sent: { user: string; requestId: string }[] = [];
        let n = 0;

        const expect_ = (user: string, requestId: string, amount: number, max: boolean, answer: unknown) => {
          const key = `${user}|${requestId}`;
          let expected = memo.get(key);
          if (expected === undefined) {
            const d = decideBid(rules, model, { user, amount, max }, clock);
            if (d.ok) {
              model = d.state;
              expected = {
                ok: true, seq: model.bidCount, amount, max, price: model.price, leading: d.leading, endsAt: model.endsAt,
                extended: d.extended, bidCount: model.bidCount, nextMin: minNextBid(rules, model),
              };
            } else expected = { ok: false, code: d.code, min: d.min };
            memo.set(key, expected);
          }
          expect(answer).toMatchObject(expected as object);
        };
        const send = async (user: string, requestId: string, amount: number, max: boolean) => {
          const { answer } = await store.bid(roomId, lot.lotId, { id: user, name: user }, amount, max, requestId);
          expect_(user, requestId, amount, max, answer);
        };

        for (const op of ops) {
          if (op.kind === 'bid') {
            const requestId = `req-${++n}-xyz`;
            sent.push({ user: USERS[op.user]!, requestId });
            await send(USERS[op.user]!, requestId, Math.max(1, minNextBid(rules, model) + op.offset), op.max);
          } else if (op.kind === 'near-max') {
            const requestId = `req-${++n}-xyz`;
            sent.push({ user: USERS[op.user]!, requestId });
            await send(USERS[op.user]!, requestId, Math.max(1, model.leaderMax + op.delta), op.max);
          } else if (op.kind === 'retry' && sent.length) {
            const { user, requestId } = sent[op.pick % sent.length]!;
            await send(user, requestId, Math.max(1, minNextBid(rules, model) + op.offset), op.offset % 2 === 0);
          } else if (op.kind === 'burst') {
            // Amounts from what the bidders knew before the burst; the model decides them in order.
            const min = minNextBid(rules, model);
            const bids = op.bids.map((b) => ({ user: USERS[b.user]!, requestId: `req-${++n}-xyz`, amount: Math.max(1, min + b.offset), max: b.max }));
            const answers = await Promise.all(bids.map((b) => store.bid(roomId, lot.lotId, { id: b.user, name: b.user }, b.amount, b.max, b.requestId)));
            bids.forEach((b, i) => {
              sent.push(b);
              expect_(b.user, b.requestId, b.amount, b.max, answers[i]!.answer);
            });
          } else if (op.kind === 'wait') {
            clock += op.ms;
          } else if (op.kind === 'close') {
            const r = await store.advance(roomId, lot.lotId);
            const over = clock >= model.endsAt;
            expect(r.phase).toBe(!over ? 'open' : model.leader ? 'award' : 'done');
            expect(r.justClosed).toBe(over && closed === null);
            if (over) closed ??= model.leader ? 'awaiting-payment' : 'unsold';
          }
        }

        const rec = (await store.record(roomId, lot.lotId))!;
        expect({ price: rec.lot.price, leader: rec.leaderId, bids: rec.lot.bidCount, endsAt: rec.lot.endsAt }).toEqual({
          price: model.price, leader: model.leader, bids: model.bidCount, endsAt: model.endsAt,
        });
        if (closed) expect(rec.lot.status).toBe(closed);
        // The history alone, re-decided by the rules, gives the same lot.
        const history = await store.history(roomId, lot.lotId);
        expect(history.map((h) => h.seq)).toEqual(history.map((_, i) => i + 1));
        const replayed = replayHistory(rules, history, lot.endsAt);
        expect(replayed).toEqual(model);
        for (const h of history) expect(h.price).toBeGreaterThanOrEqual(def.startPrice);
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
