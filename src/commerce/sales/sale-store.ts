/**
 * Every change to a sale goes through one of the Lua scripts in sale-scripts.ts and sale-lifecycle-scripts.ts; this class
 * names their keys and arguments and turns their replies into typed results. Reads for
 * snapshots, listings, figures and the ledger live in sale-queries.ts.
 */
import type { RedisClient } from '../../core/redis-client.js';
import type { Logger } from '../../core/logger.js';
import type { ErrorCode, FlashSale, Product, SaleEndReason, SaleStock } from '../../protocol/index.js';
import { SALE_MAX_DURATION_SEC } from '../../protocol/index.js';
import { randomBytes } from 'node:crypto';
import { AppError, lateWrite } from '../../core/errors.js';
import { writeDeadline } from '../../core/redis-guard.js';
import { newId } from '../../core/ids.js';
import { CHECKOUT_SCRIPT, RELEASE_SCRIPT } from './sale-scripts.js';
import { AWARD_SCRIPT, CREATE_SCRIPT, RESTOCK_SCRIPT, SOLD_OUT_FRAME_SCRIPT, STOCK_FRAME_SCRIPT, STOP_SCRIPT, SWEEP_SCRIPT } from './sale-lifecycle-scripts.js';
import { INDEX_CLAIM_SCRIPT, INDEX_RESCHEDULE_SCRIPT } from './sale-index-scripts.js';
import { ReserveBatcher } from './sale-reserve-batcher.js';
import { createGroup } from '../../core/redis-util.js';
import { createRefusal, decideReserve, decided, requestField, toStock, type Decided, type Reply } from './sale-replies.js';
export { type Decided } from './sale-replies.js';
import { roomBansKey } from '../../core/keys.js';
import { roomVoucherClaimsKey, roomVoucherKeys } from '../vouchers/voucher-keys.js';
import {
  DUE_INDEX, LEGACY_SWEEP_SET, ORDER_STREAMS, orderIndexKey, orderStreamKey, roomSalesKeys, saleKeys, saleRef, waitlistScriptKeys, type SaleKeys,
} from './sale-keys.js';
import {
  INDEX_CREATE_GRACE_MS,
  INDEX_LEASE_MS,
  INDEX_SAFETY_MS,
  SALE_RETENTION_MS,
  SWEEP_BATCH,
  holdIdFor,
  orderIdFor,
  parseCheckoutAnswer,
  parseReserveAnswer,
  refusalError,
  reserveRefusal,
  saleFields,
  saleFromHash,
  saleIdOfHold,
  saleWindow,
  type CheckoutAnswer,
  type ReleaseAnswer,
  type ReserveAnswer,
  type SaleStartInput,
} from './sale-model.js';

type Arg = string | number;
type ScriptName =
  | 'saleCreate' | 'saleAward' | 'saleCheckout' | 'saleRelease' | 'saleRestock' | 'saleStop' | 'saleSweep' | 'saleStockFrame' | 'saleSoldOutFrame'
  | 'saleIndexClaim' | 'saleIndexReschedule';
type ScriptCommands = Record<ScriptName, (...args: Arg[]) => Promise<Reply>>;

export interface SweepResult {
  gone: boolean;
  unitsReturned: number;
  justOpened: boolean;
  justEnded: boolean;
  retired: boolean;
  sold: number;
  /** When the sale next needs a sweep (Redis clock ms); null once retired or gone. */
  nextDue: number | null;
}

export interface SaleStoreOptions {
  reservesPerSecond: number;
  ordersGroup: string;
  /** More consumer groups on every orders stream (the webhook deliverer's). */
  extraOrderGroups?: string[];
  /** Told of every order made (not of replays), after the script: the webhook deliverer's note. */
  onOrder?: (roomId: string) => void;
  /** Sales counting down or open at once in one room; one more is LIMIT_EXCEEDED. */
  maxRunningPerRoom: number;
  /** Virtual time for tests; by default the scripts use Redis's clock. */
  clock?: () => number;
  log?: Logger;
}

const SCRIPTS = {
  saleCreate: [8, CREATE_SCRIPT],
  saleAward: [7, AWARD_SCRIPT],
  saleCheckout: [17, CHECKOUT_SCRIPT],
  saleRelease: [10, RELEASE_SCRIPT],
  saleRestock: [9, RESTOCK_SCRIPT],
  saleStop: [3, STOP_SCRIPT],
  saleSweep: [13, SWEEP_SCRIPT],
  saleStockFrame: [2, STOCK_FRAME_SCRIPT],
  saleSoldOutFrame: [2, SOLD_OUT_FRAME_SCRIPT],
  saleIndexClaim: [1, INDEX_CLAIM_SCRIPT],
  saleIndexReschedule: [1, INDEX_RESCHEDULE_SCRIPT],
} as const;

const core = (k: SaleKeys) => [k.sale, k.holds, k.quota, k.heldBy, k.expiries];

// Hold and order ids: a random per-process tag keeps them unique across nodes and restarts, a
// counter makes them cheap. A rush makes thousands per second, and a randomBytes call per id
// cost more than the rest of the reserve handler. They need not be secret: every script checks
// that the hold belongs to the caller. Hold ids (`<saleId>.h<tag><n>`) are made by the reserve
// script itself, from numbers of this sequence taken a batch at a time: only a tap that gets a
// hold needs one, and most taps of a rush are refusals.
const PROCESS_TAG = randomBytes(9).toString('base64url');
let sequence = 0;
const localId = (prefix: string): string => `${prefix}${PROCESS_TAG}${(++sequence).toString(36)}`;

export class SaleStore {
  private readonly cmd: ScriptCommands;
  private readonly batcher: ReserveBatcher<Decided<ReserveAnswer>>;
  /**
   * Told whenever a sale's waitlist may have changed: units came back (they may have become offers
   * or dropped entries), a restock, a stop. Set by whoever announces the waitlist (the sales domain).
   */
  onWaitlist: ((roomId: string, saleId: string) => void) | null = null;

  constructor(
    readonly redis: RedisClient,
    private readonly opts: SaleStoreOptions,
  ) {
    for (const [name, [numberOfKeys, lua]] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys, lua });
    this.cmd = redis as unknown as ScriptCommands;
    this.batcher = new ReserveBatcher(redis, decideReserve, {
      reservesPerSecond: opts.reservesPerSecond,
      sweepBatch: SWEEP_BATCH,
      scriptNow: () => this.scriptNow(),
      now: () => this.now(),
      holdTag: `h${PROCESS_TAG}`,
      takeSequence: (count) => {
        const before = sequence;
        sequence += count;
        return before;
      },
      onSwept: (roomId, saleId) => this.onWaitlist?.(roomId, saleId),
      log: opts.log,
    });
  }

  /**
   * Waitlist offers were made (`offerDue`: the first one's expiry, '' when none): the sale's
   * due-index entry comes down to it, so the sweeper passes a lapsed offer on in time (the scripts
   * cannot touch the global index). Best effort: if this is lost the offer still lapses, at the
   * sale's next due sweep or the next reserve. Then the waitlist is announced. Also for another
   * script that gives units back (a standing ledger's stock edit).
   */
  afterUnitsBack(roomId: string, saleId: string, offerDue: unknown, unitsBack: boolean): Promise<void> | undefined {
    if (unitsBack || (offerDue !== '' && offerDue !== undefined)) this.onWaitlist?.(roomId, saleId);
    if (offerDue === '' || offerDue === undefined || offerDue === null) return undefined;
    return this.redis.zadd(DUE_INDEX, 'XX', 'LT', String(offerDue), saleRef(roomId, saleId)).then(() => undefined, () => undefined);
  }

  /** Milliseconds for the views; the scripts themselves read Redis's clock. */
  now(): number {
    return this.opts.clock?.() ?? Date.now();
  }

  /** `now` for the scripts: the virtual clock's, or '' for Redis TIME. */
  scriptNow(): string {
    return this.opts.clock ? String(this.opts.clock()) : '';
  }

  /**
   * Makes the sale, or — for a requestId this host already used in the room — finds the sale that
   * first call made (`fresh: false`), so a retried start never makes a second sale.
   */
  async create(roomId: string, product: Product, input: SaleStartInput, by: string): Promise<{ sale: FlashSale; fresh: boolean }> {
    const saleId = newId('s_');
    const k = saleKeys(roomId, saleId);
    const room = roomSalesKeys(roomId);
    const ref = saleRef(roomId, saleId);
    // Index first, due only after a grace: the sweeper never sees the entry before the sale
    // exists, and a process killed in between leaves an entry that is missing its sale and old,
    // which the sweeper drops. (Separate commands: the index is global, the sale in the room's slot.)
    await this.redis.zadd(DUE_INDEX, this.now() + INDEX_CREATE_GRACE_MS, ref);
    let created = false;
    let firstSaleId: string | null = null;
    try {
      await this.ensureOrderStream(roomId);
      const w = saleWindow(input);
      const fields = Object.entries(saleFields(saleId, roomId, product, input, by)).flat();
      const [status, code, , nextDue] = await this.cmd.saleCreate(
        ...core(k), room.active, room.all, room.requests,
        this.scriptNow(), w.startInMs, w.durationMs ?? '', w.endsAt ?? '', saleId, this.opts.maxRunningPerRoom,
        writeDeadline(this.redis), requestField('s', by, input.requestId), ...fields,
      );
      if (status === 'REPLAY') firstSaleId = String(code);
      else if (status !== 'OK') throw createRefusal(String(code), this.opts.maxRunningPerRoom);
      else {
        created = true;
        // Now the sale's real first due time (its opening or end), exactly: nobody else can have
        // touched the entry yet (no client knows the id before this returns, no sweeper claims it
        // before the grace), so a week-long sale costs no sweep until its end.
        await this.redis.zadd(DUE_INDEX, 'XX', String(nextDue), ref);
      }
    } finally {
      if (!created) await this.redis.zrem(DUE_INDEX, ref).catch(() => undefined);
    }
    // A replay whose sale is past its retention (a week after it ended) is NOT_FOUND.
    if (firstSaleId !== null) return { sale: await this.require(roomId, firstSaleId), fresh: false };
    return { sale: (await this.get(roomId, saleId))!, fresh: true };
  }

  /**
   * A one-unit sale at `price` whose unit is already held by `userId` (an auction's winner, or a
   * giveaway's at price 0): see AWARD_SCRIPT. `kind` (default 'auction') becomes its order's kind.
   * Idempotent by `requestId` (per room): a repeat returns the first hold.
   */
  async award(
    roomId: string,
    product: Product,
    award: { price: number; holdSec: number; userId: string; by: string; requestId: string; kind?: 'auction' | 'giveaway' },
  ): Promise<{ saleId: string; holdId: string; expiresAt: number }> {
    const saleId = newId('s_');
    const k = saleKeys(roomId, saleId);
    const room = roomSalesKeys(roomId);
    const ref = saleRef(roomId, saleId);
    // As in create: indexed first (due after a grace), then at the hold's expiry once it exists.
    await this.redis.zadd(DUE_INDEX, this.now() + INDEX_CREATE_GRACE_MS, ref);
    let made = false;
    try {
      await this.ensureOrderStream(roomId);
      const input: SaleStartInput = { productId: product.id, price: award.price, quantity: 1, perUserLimit: 1, startInSec: 0, holdSec: award.holdSec };
      const fields = Object.entries(saleFields(saleId, roomId, product, input, award.by)).flat();
      const [kind, text, nextDue] = await this.cmd.saleAward(
        ...core(k), room.all, room.requests,
        this.scriptNow(), `a|${award.requestId}`, saleId, holdIdFor(saleId, localId('w')), award.userId, award.kind ?? 'auction', ...fields,
      );
      if (kind === 'ERR') throw new AppError('CONFLICT', 'sale id already in use');
      if (kind === 'NEW') {
        made = true;
        await this.redis.zadd(DUE_INDEX, 'XX', String(nextDue), ref);
      }
      const [firstSaleId, holdId, expiresAt] = String(text).split('|');
      return { saleId: firstSaleId!, holdId: holdId!, expiresAt: Number(expiresAt) };
    } finally {
      if (!made) await this.redis.zrem(DUE_INDEX, ref).catch(() => undefined);
    }
  }

  /** The orders stream and its consumer groups (the merchant's, and the webhook deliverer's when
   * webhooks are on) exist before the first order, so each group sees every order even if its
   * consumer connects later. Every ledger that sells calls this before its first hold. */
  async ensureOrderStream(roomId: string): Promise<void> {
    const stream = orderStreamKey(roomId);
    await this.redis.sadd(ORDER_STREAMS, stream);
    for (const group of [this.opts.ordersGroup, ...(this.opts.extraOrderGroups ?? [])]) await createGroup(this.redis, stream, group);
  }

  async get(roomId: string, saleId: string): Promise<FlashSale | null> {
    return saleFromHash(await this.redis.hgetall(saleKeys(roomId, saleId).sale), this.now());
  }

  async require(roomId: string, saleId: string): Promise<FlashSale> {
    const sale = await this.get(roomId, saleId);
    if (!sale) throw new AppError('NOT_FOUND', 'sale not found');
    return sale;
  }

  /** The stock to tell the room, or null when it would repeat the last frame (see STOCK_FRAME_SCRIPT). */
  async stockFrame(roomId: string, saleId: string): Promise<SaleStock | null> {
    const k = saleKeys(roomId, saleId);
    return toStock(saleId, await this.cmd.saleStockFrame(k.sale, k.frame, SALE_RETENTION_MS));
  }

  /** The stock for a sold-out announcement, or null when units came back meanwhile. */
  async soldOutFrame(roomId: string, saleId: string): Promise<SaleStock | null> {
    const k = saleKeys(roomId, saleId);
    return toStock(saleId, await this.cmd.saleSoldOutFrame(k.sale, k.frame, SALE_RETENTION_MS));
  }

  /** Decided in a batch with the other taps of this event-loop turn (see ReserveBatcher). */
  reserve(roomId: string, saleId: string, userId: string, qty: number, requestId: string): Promise<Decided<ReserveAnswer>> {
    return this.batcher.reserve(roomId, saleId, userId, requestId, qty);
  }

  close(): void {
    this.batcher.close();
  }

  /** `voucherId`: a voucher the buyer claimed, to be consumed by this order (else the one applied to the hold, if any). */
  async checkout(
    roomId: string,
    user: { id: string; name: string },
    holdId: string,
    requestId: string,
    voucherId?: string,
  ): Promise<Decided<CheckoutAnswer> & { saleId: string }> {
    const saleId = saleIdOfHold(holdId);
    const k = saleKeys(roomId, saleId);
    const vouchers = roomVoucherKeys(roomId);
    const reply = await this.cmd.saleCheckout(
      ...core(k), k.requests, k.bought, orderStreamKey(roomId), roomSalesKeys(roomId).buyers, roomBansKey(roomId), orderIndexKey(roomId), k.prices,
      ...waitlistScriptKeys(roomId, k), vouchers.vouchers, vouchers.claims,
      user.id, requestId, holdId, orderIdFor(roomId, localId('')), this.scriptNow(), user.name, roomId, saleId, voucherId ?? '',
    );
    const result = decided(reply, 'hold', (text) => parseCheckoutAnswer(saleId, text));
    await this.afterUnitsBack(roomId, saleId, reply[3], result.swept > 0);
    if (result.fresh && result.answer.ok) this.opts.onOrder?.(roomId);
    return { saleId, ...result };
  }

  /** Gives the hold's units back. Releasing twice is harmless (released: false the second time). */
  async release(roomId: string, userId: string, holdId: string): Promise<Decided<ReleaseAnswer> & { saleId: string }> {
    const saleId = saleIdOfHold(holdId);
    const k = saleKeys(roomId, saleId);
    const [status, codeOrReleased, available, units, offerDue] = await this.cmd.saleRelease(
      ...core(k), roomBansKey(roomId), ...waitlistScriptKeys(roomId, k), roomVoucherClaimsKey(roomId), userId, holdId, this.scriptNow(),
    );
    await this.afterUnitsBack(roomId, saleId, offerDue, Number(units) > 0);
    const answer: ReleaseAnswer =
      status === 'OK'
        ? { ok: true, released: Number(codeOrReleased) === 1, remaining: Number(available) }
        : { ok: false, code: codeOrReleased as ErrorCode, available: Number(available) };
    return { saleId, answer, fresh: true, swept: Number(units) };
  }

  /** With a requestId, a repeat by the same host returns the first answer and adds nothing. */
  async restock(roomId: string, saleId: string, quantity: number, request?: { by: string; requestId?: string }): Promise<SaleStock & { added: number }> {
    const k = saleKeys(roomId, saleId);
    const [status, text, offerDue] = await this.cmd.saleRestock(
      ...core(k), k.requests, ...waitlistScriptKeys(roomId, k),
      quantity, this.scriptNow(), writeDeadline(this.redis), requestField('k', request?.by, request?.requestId),
    );
    if (status === 'ERR') throw text === 'LATE' ? lateWrite() : refusalError({ ok: false, code: text as never, available: 0 }, 'sale');
    await this.afterUnitsBack(roomId, saleId, offerDue, true);
    const [, available, added, held, sold] = String(text).split('|').map(Number);
    return { saleId, available: available!, added: added!, held: held!, sold: sold! };
  }

  async stop(roomId: string, saleId: string, reason: Exclude<SaleEndReason, 'time'> = 'stopped'): Promise<FlashSale> {
    const k = saleKeys(roomId, saleId);
    const [status, codeOrNow] = await this.cmd.saleStop(k.sale, roomSalesKeys(roomId).active, k.waitlist, this.scriptNow(), saleId, reason);
    if (status !== 'OK') throw refusalError({ ok: false, code: codeOrNow as never, available: 0 }, 'sale');
    this.onWaitlist?.(roomId, saleId); // its waitlist closed
    // Due now, so the sweeper retires it (or expires its holds) without waiting for the old end.
    // Best effort: if this is lost the sale is retired at its old end time instead.
    await this.redis.zadd(DUE_INDEX, 'XX', 'LT', String(codeOrNow), saleRef(roomId, saleId)).catch(() => undefined);
    return this.require(roomId, saleId);
  }

  /** Expire due holds of one sale and notice its end; see SWEEP_SCRIPT. */
  async sweep(roomId: string, saleId: string): Promise<SweepResult> {
    const k = saleKeys(roomId, saleId);
    const [status, units, justOpened, justEnded, retired, sold, nextDue] = await this.cmd.saleSweep(
      ...core(k), k.requests, k.bought, roomSalesKeys(roomId).active, ...waitlistScriptKeys(roomId, k), k.waitlistTold, roomVoucherClaimsKey(roomId),
      this.scriptNow(), SWEEP_BATCH, saleId, SALE_RETENTION_MS,
    );
    // Offers made here are in nextDue already; units back or the end may have changed the list.
    if (status !== 'GONE' && (Number(units) > 0 || justEnded === 1)) this.onWaitlist?.(roomId, saleId);
    if (status === 'GONE') return { gone: true, unitsReturned: 0, justOpened: false, justEnded: false, retired: true, sold: 0, nextDue: null };
    return {
      gone: false,
      unitsReturned: Number(units),
      justOpened: justOpened === 1,
      justEnded: justEnded === 1,
      retired: retired === 1,
      sold: Number(sold),
      nextDue: retired === 1 || nextDue === '' || nextDue === undefined ? null : Number(nextDue),
    };
  }

  /** Up to `max` sales due for a sweep, leased to this caller (see INDEX_CLAIM_SCRIPT). */
  async claimDue(max: number): Promise<{ lease: number; refs: string[] }> {
    const [lease, ...refs] = await this.cmd.saleIndexClaim(DUE_INDEX, this.scriptNow(), max, INDEX_LEASE_MS);
    return { lease: Number(lease), refs: refs.map(String) };
  }

  /** After a claimed sweep: the sale's next due time, or null to drop it from the index. */
  async reschedule(ref: string, lease: number, nextDue: number | null): Promise<void> {
    await this.cmd.saleIndexReschedule(DUE_INDEX, ref, lease, nextDue ?? '', this.scriptNow(), INDEX_SAFETY_MS);
  }

  /** Sales indexed by an older version (a set swept whole every tick) join the due index, due now. */
  async migrateLegacyIndex(): Promise<number> {
    if ((await this.redis.type(LEGACY_SWEEP_SET)) !== 'set') return 0;
    const refs = await this.redis.smembers(LEGACY_SWEEP_SET);
    for (const ref of refs) await this.redis.zadd(DUE_INDEX, 'NX', 0, ref);
    await this.redis.del(LEGACY_SWEEP_SET);
    return refs.length;
  }
}
