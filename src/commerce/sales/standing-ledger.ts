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
 *   store.checkout(roomId, user, holdId, requestId)                        // → order, kind as given
 *   store.release(roomId, userId, holdId) / store.stop(roomId, ledgerId, 'room-ended')
 * Ledger ids must match the sale id form (`s_` + [A-Za-z0-9_-]) and not collide with random sale
 * ids: use a prefix of your own (`s_bn-` is buy-now's).
 */
import type { RedisClient } from '../../core/redis-client.js';
import type { OrderKind } from '../../protocol/index.js';
import { AppError } from '../../core/errors.js';
import { DUE_INDEX, saleKeys, saleRef } from './sale-keys.js';
import { INDEX_CREATE_GRACE_MS } from './sale-model.js';
import type { SaleStore } from './sale-store.js';

/** "No end": a standing ledger's endsAt is this far after its creation (about 100 years). */
export const STANDING_LEDGER_SPAN_MS = 100 * 365 * 24 * 3600_000;

// KEYS: 1 ledger hash, 2 the room's set of ledgers of this kind. ARGV: now|'', ledgerId, available
// ('' = keep as is; a new ledger then starts with 0), spanMs, then field, value, ... (the static
// fields: kind, price, limit, holdMs, ...; written every time, so a new price applies to the next
// checkout). Setting `available` adjusts `added` by the difference, so initial + added = available
// + held + sold still holds; held units stay held.
// → {'NEW' | 'OK', available, held, sold} | {'ERR', 'SALE_ENDED'} (stopped: nothing changed)
const UPSERT_SCRIPT = `
local function clock(arg)
  if arg and arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local exists = redis.call('EXISTS', KEYS[1]) == 1
if exists and redis.call('HGET', KEYS[1], 'ended') == '1' then return {'ERR', 'SALE_ENDED'} end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
if #fields > 0 then redis.call('HSET', KEYS[1], unpack(fields)) end
local kind = 'OK'
if not exists then
  local now = clock(ARGV[1])
  local initial = ARGV[3] ~= '' and ARGV[3] or '0'
  redis.call('HSET', KEYS[1], 'id', ARGV[2], 'startsAt', string.format('%d', now),
    'endsAt', string.format('%d', now + tonumber(ARGV[4])), 'createdAt', string.format('%d', now),
    'initial', initial, 'added', 0, 'available', initial, 'held', 0, 'sold', 0,
    'orders', 0, 'gmv', 0, 'buyers', 0, 'opened', 1, 'ended', 0, 'endReason', '')
  redis.call('SADD', KEYS[2], ARGV[2])
  kind = 'NEW'
elseif ARGV[3] ~= '' then
  local delta = tonumber(ARGV[3]) - tonumber(redis.call('HGET', KEYS[1], 'available'))
  redis.call('HINCRBY', KEYS[1], 'added', delta)
  redis.call('HINCRBY', KEYS[1], 'available', delta)
end
local s = redis.call('HMGET', KEYS[1], 'available', 'held', 'sold')
return {kind, s[1], s[2], s[3]}
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
  held: number;
  sold: number;
  /** This call made the ledger. */
  created: boolean;
}

interface UpsertCommand {
  standingLedgerUpsert(ledger: string, set: string, ...args: (string | number)[]): Promise<[string, ...string[]]>;
}

export class StandingLedgers {
  constructor(
    private readonly redis: RedisClient,
    private readonly store: SaleStore,
    private readonly clock?: () => number,
  ) {
    redis.defineCommand('standingLedgerUpsert', { numberOfKeys: 2, lua: UPSERT_SCRIPT });
  }

  /**
   * Makes the ledger or updates it; `available` (when given) becomes its units for sale now.
   * `kindSet` is the room's set of ledgers of this kind (the caller's key, in the room's slot).
   * SALE_ENDED once the ledger was stopped.
   */
  async upsert(roomId: string, ledgerId: string, kindSet: string, fields: StandingLedgerFields, available: number | null): Promise<LedgerUnits> {
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
      listPrice: fields.price,
      price: fields.price,
      currency: fields.currency,
      limit: fields.perUserLimit,
      holdMs: fields.holdMs,
      createdBy: fields.createdBy,
      ...(fields.listed === undefined ? {} : { listed: fields.listed ? 1 : 0 }),
    }).flat();
    const [status, available_, held, sold] = await (this.redis as unknown as UpsertCommand).standingLedgerUpsert(
      saleKeys(roomId, ledgerId).sale, kindSet,
      this.clock ? String(this.clock()) : '', ledgerId, available ?? '', STANDING_LEDGER_SPAN_MS, ...flat,
    );
    if (status === 'ERR') throw new AppError('SALE_ENDED', 'no longer for sale: the live has ended');
    return { available: Number(available_), held: Number(held), sold: Number(sold), created: status === 'NEW' };
  }
}
