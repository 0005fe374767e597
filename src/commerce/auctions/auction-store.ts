/**
 * Every change to a lot goes through one of the scripts in auction-scripts.ts; this class names
 * their keys and arguments and turns their replies into typed results, and reads lots back.
 */
import type { RedisClient } from '../../core/redis-client.js';
import type { AuctionLot, Product, UserRef } from '../../protocol/index.js';
import { AppError, lateWrite } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { AUDIT_MAX, roomAuditKey } from '../../core/keys.js';
import type { Logger } from '../../core/logger.js';
import { writeDeadline } from '../../core/redis-guard.js';
import { shortenName } from '../sales/sale-model.js';
import { AUCTION_DUE, lotKeys, lotRef, roomAuctionKeys } from './auction-keys.js';
import { BidBatcher } from './auction-bid-batcher.js';
import {
  lotFields,
  lotFromHash,
  LOT_RETENTION_MS,
  parseBidAnswer,
  parseHistoryEntry,
  type AuctionStartInput,
  type BidAnswer,
  type LotRecord,
} from './auction-model.js';
import type { HistoryEntry } from './auction-rules.js';
import {
  ADVANCE_SCRIPT,
  CANCEL_SCRIPT,
  CLAIM_DUE_SCRIPT,
  RECORD_AWARD_SCRIPT,
  SETTLE_SCRIPT,
  START_SCRIPT,
} from './auction-scripts.js';

type Arg = string | number;
type Reply = [string, ...string[]];
type ScriptName = 'auctionStart' | 'auctionAdvance' | 'auctionRecordAward' | 'auctionSettle' | 'auctionCancel' | 'auctionClaimDue';
type ScriptCommands = Record<ScriptName, (...args: Arg[]) => Promise<Reply>>;

const SCRIPTS: Record<ScriptName, [number, string]> = {
  auctionStart: [4, START_SCRIPT],
  auctionAdvance: [2, ADVANCE_SCRIPT],
  auctionRecordAward: [1, RECORD_AWARD_SCRIPT],
  auctionSettle: [1, SETTLE_SCRIPT],
  auctionCancel: [3, CANCEL_SCRIPT],
  auctionClaimDue: [1, CLAIM_DUE_SCRIPT],
};

/** A new lot's due entry is written first, due this long later unless its real end replaces it:
 * no closer drops it as GONE before the start script has run. */
const DUE_GRACE_MS = 10_000;
/** A closer that claims a lot and dies leaves it due again this much later (another node closes it). */
export const DUE_LEASE_MS = 2000;

export interface AuctionStoreOptions {
  /** Bids per user per lot per second. */
  bidsPerSecond: number;
  mutedMayBid: boolean;
  maxBidsPerLot: number;
  /** Virtual time for tests; by default the scripts use Redis's clock. */
  clock?: () => number;
  log?: Logger;
}

export type AdvancePhase = 'open' | 'award' | 'holding' | 'done' | 'gone';

export interface AdvanceResult {
  phase: AdvancePhase;
  justClosed: boolean;
  /** When the lot next needs a closer (Redis clock ms); null when nothing is pending. */
  due: number | null;
}

export class AuctionStore {
  private readonly cmd: ScriptCommands;
  private readonly batcher: BidBatcher;

  constructor(
    readonly redis: RedisClient,
    private readonly opts: AuctionStoreOptions,
  ) {
    for (const [name, [numberOfKeys, lua]] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys, lua });
    this.cmd = redis as unknown as ScriptCommands;
    this.batcher = new BidBatcher(redis, { ...opts, scriptNow: () => this.scriptNow() });
  }

  close(): void {
    this.batcher.close();
  }

  now(): number {
    return this.opts.clock?.() ?? Date.now();
  }

  private scriptNow(): string {
    return this.opts.clock ? String(this.opts.clock()) : '';
  }

  /** Opens a lot, or — for a requestId this host already used in the room — returns the lot that
   * first call made (`fresh: false`). CONFLICT while another lot of the room takes bids. */
  async start(roomId: string, product: Product, input: AuctionStartInput, hostId: string): Promise<{ lot: AuctionLot; fresh: boolean }> {
    const lotId = newId('a_');
    const ref = lotRef(roomId, lotId);
    const k = lotKeys(roomId, lotId);
    const room = roomAuctionKeys(roomId);
    await this.redis.zadd(AUCTION_DUE, this.now() + DUE_GRACE_MS, ref);
    let started = false;
    let firstLotId: string | null = null;
    try {
      const fields = Object.entries(lotFields(lotId, roomId, product, input, hostId)).flat();
      const request = input.requestId ? `${hostId}|${input.requestId}` : '';
      const [status, value = ''] = await this.cmd.auctionStart(
        k.lot, room.room, room.all, room.requests,
        this.scriptNow(), input.durationSec * 1000, lotId, request, writeDeadline(this.redis), ...fields,
      );
      if (status === 'REPLAY') firstLotId = value;
      else if (status !== 'OK') {
        if (value === 'LATE') throw lateWrite();
        if (value === 'BUSY') throw new AppError('CONFLICT', 'another lot is taking bids in this room: wait for it to close or cancel it');
        throw new AppError('CONFLICT', 'lot id already in use');
      } else {
        started = true;
        await this.redis.zadd(AUCTION_DUE, 'XX', value, ref);
      }
    } finally {
      if (!started) await this.redis.zrem(AUCTION_DUE, ref).catch(() => undefined);
    }
    if (firstLotId !== null) return { lot: (await this.require(roomId, firstLotId)).lot, fresh: false };
    return { lot: (await this.require(roomId, lotId)).lot, fresh: true };
  }

  async record(roomId: string, lotId: string): Promise<LotRecord | null> {
    return lotFromHash(await this.redis.hgetall(lotKeys(roomId, lotId).lot), this.now());
  }

  async require(roomId: string, lotId: string): Promise<LotRecord> {
    const r = await this.record(roomId, lotId);
    if (!r) throw new AppError('NOT_FOUND', 'lot not found');
    return r;
  }

  /** The room's latest lot, whatever its status. */
  async current(roomId: string): Promise<LotRecord | null> {
    const lotId = await this.redis.hget(roomAuctionKeys(roomId).room, 'current');
    return lotId ? this.record(roomId, lotId) : null;
  }

  /** One bid, decided atomically (see BID_SCRIPT) in a batch with the other bids of this
   * event-loop turn (see BidBatcher); `fresh` false for a replayed first answer. */
  async bid(roomId: string, lotId: string, user: UserRef, amount: number, max: boolean, requestId: string): Promise<{ answer: BidAnswer; fresh: boolean }> {
    const { kind, text, min } = await this.batcher.bid(roomId, lotId, {
      userId: user.id, requestId, amount, max, maskedName: shortenName(user.name), name: user.name,
    });
    if (kind === 'ERR') return { answer: { ok: false, code: text as never, min, now: 0 }, fresh: false };
    return { answer: parseBidAnswer(lotId, text), fresh: kind === 'NEW' };
  }

  /** Host or moderator (or the live ending): only an open lot before its end; audited atomically. */
  async cancel(roomId: string, lotId: string, reason: 'cancelled' | 'room-ended', actor: UserRef, note = ''): Promise<void> {
    const k = lotKeys(roomId, lotId);
    const [status, code] = await this.cmd.auctionCancel(
      k.lot, roomAuctionKeys(roomId).room, roomAuditKey(roomId), this.scriptNow(), reason, actor.id, actor.name, note, AUDIT_MAX,
    );
    if (status !== 'OK') {
      throw code === 'NOT_FOUND' ? new AppError('NOT_FOUND', 'lot not found') : new AppError('AUCTION_ENDED', 'bidding on this lot has already closed');
    }
    // Due now: the closer retires it.
    await this.redis.zadd(AUCTION_DUE, 'XX', 'LT', this.now(), lotRef(roomId, lotId)).catch(() => undefined);
  }

  /** Closes the lot if its time is up (exactly one caller sees justClosed); see ADVANCE_SCRIPT. */
  async advance(roomId: string, lotId: string): Promise<AdvanceResult> {
    const reply = await this.cmd.auctionAdvance(lotKeys(roomId, lotId).lot, roomAuctionKeys(roomId).room, this.scriptNow());
    if (reply[0] === 'GONE') return { phase: 'gone', justClosed: false, due: null };
    const [phase, justClosed, , , due] = reply;
    return { phase: phase as AdvancePhase, justClosed: Number(justClosed) === 1, due: due ? Number(due) : null };
  }

  async recordAward(roomId: string, lotId: string, award: { saleId: string; holdId: string; expiresAt: number }): Promise<{ saleId: string; holdId: string; expiresAt: number }> {
    const [saleId, holdId, expiresAt] = await this.cmd.auctionRecordAward(lotKeys(roomId, lotId).lot, award.saleId, award.holdId, award.expiresAt);
    return { saleId: saleId!, holdId: holdId!, expiresAt: Number(expiresAt) };
  }

  /** Records what became of the winner's hold; 'settled' exactly once per lot. */
  async settle(roomId: string, lotId: string, hold: { state: string; orderId: string; expiresAt: number }): Promise<{ settled: boolean; status: string; waitUntil: number | null }> {
    const [kind, value = ''] = await this.cmd.auctionSettle(lotKeys(roomId, lotId).lot, this.scriptNow(), hold.state, hold.orderId, hold.expiresAt);
    if (kind === 'WAIT') return { settled: false, status: 'awaiting-payment', waitUntil: Number(value) };
    return { settled: kind === 'SETTLED', status: value, waitUntil: null };
  }

  /** The lot's accepted bids, oldest first (`limit`: only the newest that many). */
  async history(roomId: string, lotId: string, limit?: number): Promise<(HistoryEntry & { name: string })[]> {
    const raw = await this.redis.lrange(lotKeys(roomId, lotId).bids, limit === undefined ? 0 : -limit, -1);
    return raw.map(parseHistoryEntry);
  }

  /** Up to `max` due lots, leased to this caller (see CLAIM_DUE_SCRIPT). */
  async claimDue(max: number): Promise<string[]> {
    return (await this.cmd.auctionClaimDue(AUCTION_DUE, this.scriptNow(), max, DUE_LEASE_MS)).map(String);
  }

  /** The lot's next due time, or null: nothing pending, so it leaves the index and its keys expire. */
  async reschedule(roomId: string, lotId: string, due: number | null): Promise<void> {
    const ref = lotRef(roomId, lotId);
    if (due !== null) {
      await this.redis.zadd(AUCTION_DUE, 'XX', due, ref);
      return;
    }
    await this.redis.zrem(AUCTION_DUE, ref);
    const k = lotKeys(roomId, lotId);
    for (const key of [k.lot, k.bids, k.requests]) await this.redis.pexpire(key, LOT_RETENTION_MS);
  }
}
