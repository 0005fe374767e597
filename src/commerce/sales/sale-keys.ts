/**
 * Redis keys of flash sales. Everything a script touches carries the room's hash tag
 * `{room:<id>}`, so one sale's scripts stay inside one Redis Cluster slot.
 *
 * Two keys are global on purpose and are never touched from inside a script:
 * - DUE_INDEX: sorted set of the sales not yet retired, scored by when the sweeper must next look
 *   at each (first hold expiry, opening, end). The sweeper on every node claims only the due
 *   entries, a bounded number per tick, and runs the per-sale sweep script with that sale's own
 *   (room-tagged) keys; how the index stays correct without cross-slot writes is told in
 *   sale-index-scripts.ts. A global expiry set of every hold would put every room's holds in
 *   one slot and could not be updated atomically with the room-tagged sale counters.
 * - ORDER_STREAMS: the per-room order streams, for the merchant's service to discover (the
 *   stream itself must sit in the room's slot so checkout appends to it atomically).
 */
import { roomBansKey, roomKey } from '../../core/keys.js';

export const DUE_INDEX = 'sales:due';
/** Before the due index: a set of every sale, swept each tick. Moved into DUE_INDEX at start. */
export const LEGACY_SWEEP_SET = 'sales:sweep';
export const ORDER_STREAMS = 'sales:order-streams';

/** `<roomId>/<saleId>` names a sale outside its room (ids never contain '/'). */
export const saleRef = (roomId: string, saleId: string): string => `${roomId}/${saleId}`;
export function parseSaleRef(ref: string): { roomId: string; saleId: string } | null {
  const slash = ref.indexOf('/');
  if (slash <= 0 || slash === ref.length - 1) return null;
  return { roomId: ref.slice(0, slash), saleId: ref.slice(slash + 1) };
}

export const orderStreamKey = (roomId: string): string => roomKey(roomId, 'orders');
/** Hash orderId → the order's entry id in the room's orders stream (GET /api/orders/:orderId). */
export const orderIndexKey = (roomId: string): string => roomKey(roomId, 'orders:ids');

export const roomSalesKeys = (roomId: string) => ({
  /** Every sale of the room, scored by creation time. */
  all: roomKey(roomId, 'sales'),
  /** Sales counting down or open (the join snapshot lists these). */
  active: roomKey(roomId, 'sales:active'),
  /** Distinct non-staff viewers who joined (the conversion denominator). */
  viewers: roomKey(roomId, 'sales:viewers'),
  /** Guest joins counted per address (hash address → count, capped at GUESTS_PER_IP_COUNTED). */
  guestIps: roomKey(roomId, 'sales:guest-ips'),
  /** Distinct users who bought in any sale of the room. */
  buyers: roomKey(roomId, 'sales:buyers'),
  /** Hash `s|hostId|requestId` → the saleId that sale:start made (one field per sale, like `all`). */
  requests: roomKey(roomId, 'sales:requests'),
});

export interface SaleKeys {
  /** Hash: the sale's definition and its counters (available, held, sold, orders, gmv...). */
  sale: string;
  /** Hash holdId → `state|userId|qty|expiresAt|orderId|at`; kept after the hold ends. */
  holds: string;
  /** Hash userId → units held + bought, checked against the per-user limit. */
  quota: string;
  /** Sorted set of `userId|holdId` (all score 0) for a user's holds by lexical range. */
  heldBy: string;
  /** Sorted set holdId → expiresAt of the holds still held. */
  expiries: string;
  /** Hash `r|userId|requestId` (reserve) / `c|…` (checkout) / `k|…` (restock) → first answer. */
  requests: string;
  /** Hash userId → units bought. */
  bought: string;
  /** Hash: the available/sold the room was last told (sale:stock or sale:sold-out). */
  frame: string;
  /** Sorted set `price|currency|ms` by ms: a standing ledger's price history (none for a sale). */
  prices: string;
  /** Hash userId → `windowStart|count`: reserve attempts per user in the current window
   * (RESERVE_SCRIPT); it expires a window after its last write. */
  rateLimits: string;
  /** Sorted set userId → join sequence: the sold-out waitlist, FIFO (waitlist-lua.ts). */
  waitlist: string;
  /** Hash userId → the waitlist position the user was last told (the positions pass). */
  waitlistTold: string;
  /** List `holdId|userId|expiresAt` of waitlist offers not yet announced to their user. */
  waitlistNotices: string;
}

const cache = new Map<string, SaleKeys>();
const CACHE_MAX = 10_000;

/** A sale's keys. Cached: the reserve path asks for them thousands of times a second. */
export function saleKeys(roomId: string, saleId: string): SaleKeys {
  const ref = saleRef(roomId, saleId);
  let keys = cache.get(ref);
  if (!keys) {
    const base = roomKey(roomId, `sale:${saleId}`);
    keys = {
      sale: base,
      holds: `${base}:holds`,
      quota: `${base}:quota`,
      heldBy: `${base}:held-by`,
      expiries: `${base}:expiries`,
      requests: `${base}:requests`,
      bought: `${base}:bought`,
      frame: `${base}:frame`,
      prices: `${base}:prices`,
      rateLimits: `${base}:rl`,
      waitlist: `${base}:waitlist`,
      waitlistTold: `${base}:waitlist:told`,
      waitlistNotices: `${base}:waitlist:notices`,
    };
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(ref, keys);
  }
  return keys;
}

/** The last three keys of every script that can give units back (sale-scripts.ts, useWaitlist):
 * the room's bans, the sale's waitlist and its offer notices. */
export const waitlistScriptKeys = (roomId: string, k: SaleKeys): [string, string, string] => [roomBansKey(roomId), k.waitlist, k.waitlistNotices];
