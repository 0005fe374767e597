/**
 * Standing ledgers: units sold outside a timed flash sale — a buy-now product's stock, an auction
 * lot's one unit — kept in the same hash layout as a sale (sale-keys.ts), so the same scripts
 * reserve, check out, release and expire their holds, the same ledger route audits them and the
 * same orders stream receives their orders with the ledger's `kind`.
 *
 * What differs from a sale: a standing ledger is created by an upsert (the same id again updates
 * its price and limit and sets its available units), it opens at once, has no end until it is
 * stopped (`SaleStore.stop`, e.g. when the live ends), and is in neither the room's sale list nor
 * its running sales (it does not count against SALE_MAX_RUNNING_PER_ROOM nor appear in
 * `sales.active`).
 *
 * How another selling path uses it (buy-now does, auctions can):
 *   ledgers.upsert(roomId, ledgerId, { kind, productId, ..., available })   // units for sale
 *   store.reserve(roomId, ledgerId, userId, qty, requestId)                // → hold (expires)
 *   store.checkout(roomId, user, holdId, requestId)                        // → order, kind as given,
 *                                                                          //   at the price of the hold's time
 *   store.release(roomId, userId, holdId) / store.stop(roomId, ledgerId, 'room-ended')
 * Ledger ids are `standingLedgerId(tag, key)`: `s_<tag>-<22 characters>` (protocol
 * STANDING_LEDGER_ID), never a random sale id's form, and refused by the flash-sale events. Buy-now's
 * tag is `bn`; take your own (e.g. `lot` for auction lots).
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../../core/redis-client.js';
import type { OrderKind } from '../../protocol/index.js';
import { AppError } from '../../core/errors.js';
import { DUE_INDEX, saleKeys, saleRef, waitlistScriptKeys } from './sale-keys.js';
import { PRELUDE } from './sale-prelude-lua.js';
import { INDEX_CREATE_GRACE_MS } from './sale-model.js';
import type { SaleStore } from './sale-store.js';

/**
 * The ledger id of `key` (a product id, a lot id) for a selling path tagged `tag` (2–4 lowercase
 * letters): derived, so the same key always lands on the same ledger.
 */
export function standingLedgerId(tag: string, key: string): string {
  if (!/^[a-z]{2,4}$/.test(tag)) throw new Error(`bad ledger tag ${tag}`);
  return `s_${tag}-${createHash('sha256').update(key).digest('base64url').slice(0, 22)}`;
}

/** "No end": a standing ledger's endsAt is this far after its creation (about 100 years). */
export const STANDING_LEDGER_SPAN_MS = 100 * 365 * 24 * 3600_000;

/** A price history entry older than this is dropped (holds live at most an hour; any entry still
 * there is the price for holds taken since it, however old). */
const PRICE_HISTORY_TTL_MS = 30 * 24 * 3600_000;
const PRICE_HISTORY_MAX = 1000;

// KEYS: 1-5 the ledger's hash, holds, quota, held-by and expiries (sale-prelude-lua.ts), 6 the room's
// set of ledgers of this kind, 7 price history, 8-10 waitlist (room bans, waitlist, notices).
// ARGV: now|'', ledgerId, available ('' = keep as is), spanMs, price, currency, initial units of a
// new ledger when `available` is '' ('' = 0), then field, value, ... (the static fields: kind,
// limit, holdMs, ...; written every time).
// Setting `available` to N moves the difference into `added` (which can go negative), so
// initial + added = available + held + offered + sold still holds:
// - more units (N above what is available now) are given back like a restock's: to the
//   waitlist's head first as offers (giveBack, waitlist-lua.ts), the rest to `available` — so
//   with people waiting, `available` ends below N;
// - fewer units take only available ones (N ≥ 0): held units and offers are never taken.
// A ledger off sale (`listed` 0) has no waitlist: the list is dropped (its people told 0).
// A new price or currency applies to holds taken from now on: the history (`price|currency|ms`
// scored by ms) tells checkout the price each hold was taken at. When the history is empty (new,
// or expired after a month without changes) the price it replaces is written first at time 0, so
// older holds still find theirs.
// → {'NEW' | 'OK', available, held (offers included, as clients see them), sold, offerDue,
// listClosed 0|1} | {'ERR', 'SALE_ENDED'} (stopped: nothing changed)
const UPSERT_SCRIPT = `${PRELUDE}
local exists = redis.call('EXISTS', KEYS[1]) == 1
if exists and redis.call('HGET', KEYS[1], 'ended') == '1' then return {'ERR', 'SALE_ENDED'} end
local now = clock(ARGV[1])
local old = redis.call('HMGET', KEYS[1], 'price', 'currency')
if old[1] ~= ARGV[5] or old[2] ~= ARGV[6] then
  if old[1] and redis.call('EXISTS', KEYS[7]) == 0 then redis.call('ZADD', KEYS[7], 0, old[1] .. '|' .. old[2] .. '|0') end
  redis.call('ZADD', KEYS[7], now, ARGV[5] .. '|' .. ARGV[6] .. '|' .. int(now))
  redis.call('ZREMRANGEBYRANK', KEYS[7], 0, -${PRICE_HISTORY_MAX + 1})
  redis.call('PEXPIRE', KEYS[7], ${PRICE_HISTORY_TTL_MS})
end
local fields = {'price', ARGV[5], 'listPrice', ARGV[5], 'currency', ARGV[6]}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
local kind = 'OK'
local closed = 0
if not exists then
  local initial = ARGV[3] ~= '' and ARGV[3] or (ARGV[7] ~= '' and ARGV[7] or '0')
  redis.call('HSET', KEYS[1], 'id', ARGV[2], 'startsAt', int(now),
    'endsAt', int(now + tonumber(ARGV[4])), 'createdAt', int(now),
    'initial', initial, 'added', 0, 'available', initial, 'held', 0, 'sold', 0,
    'orders', 0, 'gmv', 0, 'buyers', 0, 'opened', 1, 'ended', 0, 'endReason', '')
  redis.call('SADD', KEYS[6], ARGV[2])
  kind = 'NEW'
else
  if redis.call('HGET', KEYS[1], 'listed') == '0' then closed = redis.call('DEL', KEYS[9]) end
  if ARGV[3] ~= '' then
    local delta = tonumber(ARGV[3]) - tonumber(redis.call('HGET', KEYS[1], 'available'))
    redis.call('HINCRBY', KEYS[1], 'added', delta)
    if delta > 0 then
      useWaitlist(now, KEYS[8], KEYS[9], KEYS[10])
      giveBack(delta)
    else
      redis.call('HINCRBY', KEYS[1], 'available', delta)
    end
  end
end
local s = redis.call('HMGET', KEYS[1], 'available', 'held', 'sold', 'offered')
return {kind, s[1], int(tonumber(s[2]) + tonumber(s[4] or '0')), s[3], offerDue(), closed}
`;

// KEYS: 1 ledger hash, 2 holds, 3 price history. ARGV: holdIds. → per hold `price|currency`: what
// a checkout of it would charge (the price in force when it was taken or offered; the current one
// for a hold no longer held or unknown).
const HOLD_PRICES_SCRIPT = `
local cur = redis.call('HMGET', KEYS[1], 'price', 'currency')
local out = {}
for i = 1, #ARGV do
  local unit, currency = cur[1] or '', cur[2] or ''
  local raw = redis.call('HGET', KEYS[2], ARGV[i])
  local st, at
  if raw then st, at = string.match(raw, '^([^|]*)|[^|]*|[^|]*|[^|]*|[^|]*|([^|]*)$') end
  if st == 'held' or st == 'offered' then
    local past = redis.call('ZREVRANGEBYSCORE', KEYS[3], at, '-inf', 'LIMIT', 0, 1)[1]
    if past then unit, currency = string.match(past, '^([^|]*)|([^|]*)|') end
  end
  out[i] = unit .. '|' .. currency
end
return out
`;

export interface StandingLedgerFields {
  kind: Exclude<OrderKind, 'sale'>;
  roomId: string;
  productId: string;
  title: string;
  imageUrl: string | null;
  price: number;
  currency: string;
  /** Units one user may hold + buy. */
  perUserLimit: number;
  holdMs: number;
  createdBy: string;
  /** Whether the selling path offers it now (its snapshot lists only these); undefined: unchanged. */
  listed?: boolean;
}

export interface LedgerUnits {
  available: number;
  /** Held units and waitlist offers (clients see an offer as a hold). */
  held: number;
  sold: number;
  /** This call made the ledger. */
  created: boolean;
}

interface LedgerCommands {
  standingLedgerUpsert(...args: (string | number)[]): Promise<[string, ...string[]]>;
  standingLedgerHoldPrices(ledger: string, holds: string, prices: string, ...holdIds: string[]): Promise<string[]>;
}

export class StandingLedgers {
  constructor(
    private readonly redis: RedisClient,
    private readonly store: SaleStore,
    private readonly clock?: () => number,
  ) {
    redis.defineCommand('standingLedgerUpsert', { numberOfKeys: 10, lua: UPSERT_SCRIPT });
    redis.defineCommand('standingLedgerHoldPrices', { numberOfKeys: 3, lua: HOLD_PRICES_SCRIPT });
  }

  /**
   * Makes the ledger or updates it; `available` (when given) becomes its units for sale now.
   * `kindSet` is the room's set of ledgers of this kind (the caller's key, in the room's slot).
   * SALE_ENDED once the ledger was stopped.
   */
  async upsert(
    roomId: string,
    ledgerId: string,
    kindSet: string,
    fields: StandingLedgerFields,
    available: number | null,
    /** With `available` null: the units of a ledger this call makes (kept as they are otherwise). */
    initialIfNew: number | null = null,
  ): Promise<LedgerUnits> {
    await this.store.ensureOrderStream(roomId);
    // The sweeper must know the ledger before a hold can exist (the reserve only lowers an
    // existing entry). NX: an entry already there is at least as early as needed. Due after the
    // create grace, like a new sale's, so no sweeper sees it before the hash exists.
    await this.redis.zadd(DUE_INDEX, 'NX', Date.now() + INDEX_CREATE_GRACE_MS, saleRef(roomId, ledgerId));
    const flat = Object.entries({
      kind: fields.kind,
      roomId: fields.roomId,
      productId: fields.productId,
      title: fields.title,
      imageUrl: fields.imageUrl ?? '',
      limit: fields.perUserLimit,
      holdMs: fields.holdMs,
      createdBy: fields.createdBy,
      ...(fields.listed === undefined ? {} : { listed: fields.listed ? 1 : 0 }),
    }).flat();
    const k = saleKeys(roomId, ledgerId);
    const [status, available_, held, sold, offerDue, closed] = await (this.redis as unknown as LedgerCommands).standingLedgerUpsert(
      k.sale, k.holds, k.quota, k.heldBy, k.expiries, kindSet, k.prices, ...waitlistScriptKeys(roomId, k),
      this.clock ? String(this.clock()) : '', ledgerId, available ?? '', STANDING_LEDGER_SPAN_MS, fields.price, fields.currency,
      initialIfNew ?? '', ...flat,
    );
    if (status === 'ERR') throw new AppError('SALE_ENDED', 'no longer for sale: the live has ended');
    // Offers made to the waitlist (their lapse must be swept in time) or a list closed: told.
    await this.store.afterUnitsBack(roomId, ledgerId, offerDue, Number(closed) > 0);
    return { available: Number(available_), held: Number(held), sold: Number(sold), created: status === 'NEW' };
  }

  /**
   * One unit held for one buyer at a fixed price — an auction lot's winner: the ledger is made
   * with one unit (perUserLimit 1 is sensible) by the first call only, and the hold is the reserve
   * of that unit under `requestId` (use the lot id), so a retry of the whole call gives the same
   * hold. The buyer then checks it out like any hold (`SaleStore.checkout`: an order of `kind`);
   * an unpaid hold expires after `holdMs` and the unit is available again (the lot unsold: stop
   * the ledger). Refusals are the reserve's (BANNED, SALE_ENDED once stopped, SOLD_OUT if the
   * unit is already someone else's).
   */
  async grantHold(roomId: string, ledgerId: string, kindSet: string, fields: StandingLedgerFields, userId: string, requestId: string) {
    await this.upsert(roomId, ledgerId, kindSet, fields, null, 1);
    return this.store.reserve(roomId, ledgerId, userId, 1, requestId);
  }

  /** What checking out each hold would charge: the price in force when it was taken. */
  async holdPrices(roomId: string, ledgerId: string, holdIds: string[]): Promise<{ price: number; currency: string }[]> {
    if (holdIds.length === 0) return [];
    const k = saleKeys(roomId, ledgerId);
    const out = await (this.redis as unknown as LedgerCommands).standingLedgerHoldPrices(k.sale, k.holds, k.prices, ...holdIds);
    return out.map((pc) => {
      const [price, currency] = pc.split('|');
      return { price: Number(price || 0), currency: currency ?? '' };
    });
  }
}
