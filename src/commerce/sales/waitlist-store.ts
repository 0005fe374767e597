/**
 * The sold-out waitlist of a sale (or of any ledger selling through the sale scripts): join and
 * leave, and the positions pass that finds the offers to announce and the positions that changed.
 * The rules and the Lua are in waitlist-lua.ts; units reach the list's head through the sale
 * scripts themselves (giveBack), so nothing here moves units.
 */
import type { RedisClient } from '../../core/redis-client.js';
import type { ErrorCode } from '../../protocol/index.js';
import { AppError } from '../../core/errors.js';
import { roomBansKey } from '../../core/keys.js';
import { saleKeys } from './sale-keys.js';
import { refusalError } from './sale-model.js';
import type { SaleStore } from './sale-store.js';
import { WAITLIST_JOIN_SCRIPT, WAITLIST_POSITIONS_SCRIPT } from './waitlist-lua.js';

type Arg = string | number;
interface WaitlistCommands {
  saleWaitlist(...args: Arg[]): Promise<Arg[]>;
  saleWaitlistPositions(...args: Arg[]): Promise<Arg[]>;
}

export interface WaitlistOptions {
  /** Entries one sale's waitlist holds at most (WAITLIST_MAX); one more join is WAITLIST_FULL. */
  max: number;
  /** How long a waitlist offer holds its unit (WAITLIST_OFFER_SEC × 1000). */
  offerMs: number;
  /** The told window (WAITLIST_POSITIONS_TOLD): only the first `told` entries hear every move. */
  told: number;
}

export interface WaitlistAnswer {
  /** 1-based; 0 after a leave (not on the list). */
  position: number;
  length: number;
  /** The list changed (a new entry, or a leave that removed one). */
  changed: boolean;
  /** The entry's join sequence number (0 after a leave): compare with a frame's headTicket. */
  ticket: number;
}

/** One positions pass of a sale's waitlist (WAITLIST_POSITIONS_SCRIPT). */
export interface WaitlistPass {
  length: number;
  /** The room's frame (length, headTicket) changed since the last pass. */
  frameChanged: boolean;
  /** The first entry's ticket; 0 when the list is empty. */
  headTicket: number;
  offers: { holdId: string; userId: string; expiresAt: number }[];
  /** Users in the told window whose position changed; 0 = no longer on the list. */
  positions: { userId: string; position: number }[];
}

export const WAITLIST_MAX_DEFAULT = 10_000;
export const WAITLIST_OFFER_MS_DEFAULT = 60_000;
export const WAITLIST_POSITIONS_TOLD_DEFAULT = 500;
/** Offers one positions pass announces at most (the rest in the next pass). */
export const NOTICES_PER_PASS = 1000;

export class WaitlistStore {
  private readonly cmd: WaitlistCommands;

  constructor(
    redis: RedisClient,
    private readonly store: SaleStore,
    private readonly opts: WaitlistOptions = { max: WAITLIST_MAX_DEFAULT, offerMs: WAITLIST_OFFER_MS_DEFAULT, told: WAITLIST_POSITIONS_TOLD_DEFAULT },
  ) {
    redis.defineCommand('saleWaitlist', { numberOfKeys: 5, lua: WAITLIST_JOIN_SCRIPT });
    redis.defineCommand('saleWaitlistPositions', { numberOfKeys: 4, lua: WAITLIST_POSITIONS_SCRIPT });
    this.cmd = redis as unknown as WaitlistCommands;
  }

  /**
   * Join or leave the sale's sold-out waitlist (WAITLIST_JOIN_SCRIPT). Refusals: BANNED,
   * NOT_FOUND (also a ledger off sale), SALE_NOT_STARTED, SALE_ENDED, WAITLIST_NOT_SOLD_OUT,
   * LIMIT_EXCEEDED, WAITLIST_FULL, worded for a sale (another selling path may reword them).
   */
  async waitlist(roomId: string, saleId: string, userId: string, action: 'join' | 'leave'): Promise<WaitlistAnswer> {
    const k = saleKeys(roomId, saleId);
    const { max, offerMs, told } = this.opts;
    const [status, position, length, changed, ticket] = await this.cmd.saleWaitlist(
      k.sale, k.waitlist, k.waitlistTold, roomBansKey(roomId), k.quota,
      userId, action, this.store.scriptNow(), max, offerMs, told,
    );
    if (status === 'ERR') throw waitlistRefusal(String(position), max);
    const answer = { position: Number(position), length: Number(length), changed: Number(changed) === 1, ticket: Number(ticket) };
    if (answer.changed) this.store.onWaitlist?.(roomId, saleId);
    return answer;
  }

  /** Offers to announce and positions that changed since the last pass (one node at a time). */
  async waitlistPass(roomId: string, saleId: string): Promise<WaitlistPass> {
    const k = saleKeys(roomId, saleId);
    const reply = await this.cmd.saleWaitlistPositions(k.sale, k.waitlist, k.waitlistTold, k.waitlistNotices, NOTICES_PER_PASS, this.opts.told);
    const n = Number(reply[3]);
    const offers = reply.slice(4, 4 + n).map((text) => {
      const [holdId, userId, expiresAt] = String(text).split('|');
      return { holdId: holdId!, userId: userId!, expiresAt: Number(expiresAt) };
    });
    const positions: WaitlistPass['positions'] = [];
    for (let i = 4 + n; i + 1 < reply.length; i += 2) positions.push({ userId: String(reply[i]), position: Number(reply[i + 1]) });
    return { length: Number(reply[0]), frameChanged: Number(reply[1]) === 1, headTicket: Number(reply[2]), offers, positions };
  }

}

function waitlistRefusal(code: string, max: number): AppError {
  switch (code) {
    case 'WAITLIST_NOT_SOLD_OUT':
      return new AppError('WAITLIST_NOT_SOLD_OUT', 'units are available: reserve one instead');
    case 'WAITLIST_FULL':
      return new AppError('WAITLIST_FULL', `the waitlist is full (${max} people)`);
    case 'LIMIT_EXCEEDED':
      return new AppError('LIMIT_EXCEEDED', 'you already have as many units as this sale allows per person');
    default:
      return refusalError({ ok: false, code: code as ErrorCode, available: 0 }, 'sale');
  }
}

