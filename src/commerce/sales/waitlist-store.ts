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
}

export interface WaitlistAnswer {
  /** 1-based; 0 after a leave (not on the list). */
  position: number;
  length: number;
  /** The list changed (a new entry, or a leave that removed one). */
  changed: boolean;
}

/** One positions pass of a sale's waitlist (WAITLIST_POSITIONS_SCRIPT). */
export interface WaitlistPass {
  length: number;
  lengthChanged: boolean;
  offers: { holdId: string; userId: string; expiresAt: number }[];
  /** Users whose position changed; 0 = no longer on the list. */
  positions: { userId: string; position: number }[];
}

export const WAITLIST_MAX_DEFAULT = 10_000;
export const WAITLIST_OFFER_MS_DEFAULT = 60_000;
/** Offers one positions pass announces at most (the rest in the next pass). */
export const NOTICES_PER_PASS = 1000;

export class WaitlistStore {
  private readonly cmd: WaitlistCommands;

  constructor(
    redis: RedisClient,
    private readonly store: SaleStore,
    private readonly opts: WaitlistOptions = { max: WAITLIST_MAX_DEFAULT, offerMs: WAITLIST_OFFER_MS_DEFAULT },
  ) {
    redis.defineCommand('saleWaitlist', { numberOfKeys: 5, lua: WAITLIST_JOIN_SCRIPT });
    redis.defineCommand('saleWaitlistPositions', { numberOfKeys: 4, lua: WAITLIST_POSITIONS_SCRIPT });
    this.cmd = redis as unknown as WaitlistCommands;
  }

  /**
   * Join or leave the sale's sold-out waitlist (WAITLIST_JOIN_SCRIPT). Refusals: BANNED,
   * NOT_FOUND, SALE_NOT_STARTED, SALE_ENDED, WAITLIST_NOT_SOLD_OUT, LIMIT_EXCEEDED, WAITLIST_FULL.
   */
  async waitlist(roomId: string, saleId: string, userId: string, action: 'join' | 'leave'): Promise<WaitlistAnswer> {
    const k = saleKeys(roomId, saleId);
    const { max, offerMs } = this.opts;
    const [status, position, length, changed] = await this.cmd.saleWaitlist(
      k.sale, k.waitlist, k.waitlistTold, roomBansKey(roomId), k.quota,
      userId, action, this.store.scriptNow(), max, offerMs,
    );
    if (status === 'ERR') throw waitlistRefusal(String(position), max);
    const answer = { position: Number(position), length: Number(length), changed: Number(changed) === 1 };
    if (answer.changed) this.store.onWaitlist?.(roomId, saleId);
    return answer;
  }

  /** Offers to announce and positions that changed since the last pass (one node at a time). */
  async waitlistPass(roomId: string, saleId: string): Promise<WaitlistPass> {
    const k = saleKeys(roomId, saleId);
    const reply = (await this.cmd.saleWaitlistPositions(k.sale, k.waitlist, k.waitlistTold, k.waitlistNotices, NOTICES_PER_PASS));
    const n = Number(reply[2]);
    const offers = reply.slice(3, 3 + n).map((text) => {
      const [holdId, userId, expiresAt] = String(text).split('|');
      return { holdId: holdId!, userId: userId!, expiresAt: Number(expiresAt) };
    });
    const positions: WaitlistPass['positions'] = [];
    for (let i = 3 + n; i + 1 < reply.length; i += 2) positions.push({ userId: String(reply[i]), position: Number(reply[i + 1]) });
    return { length: Number(reply[0]), lengthChanged: Number(reply[1]) === 1, offers, positions };
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

