/**
 * Redis keys of flash sales. Everything a script touches carries the room's hash tag
 * `{room:<id>}`, so one sale's scripts stay inside one Redis Cluster slot.
 *
 * Two keys are global on purpose and are never touched from inside a script:
 * - SWEEP_INDEX: the sales that may still have holds to expire. The sweeper on every node reads it
 *   and then runs the per-sale sweep script with that sale's own (room-tagged) keys. A single
 *   global expiry sorted set would be simpler but would put every room's holds in one slot and
 *   could not be updated atomically with the room-tagged sale counters.
 * - ORDER_STREAMS: the per-room order streams, for the merchant's service to discover (the
 *   stream itself must sit in the room's slot so checkout appends to it atomically).
 */
import { roomKey } from '../../core/keys.js';

export const SWEEP_INDEX = 'sales:sweep';
export const ORDER_STREAMS = 'sales:order-streams';

/** `<roomId>/<saleId>` names a sale outside its room (ids never contain '/'). */
export const saleRef = (roomId: string, saleId: string): string => `${roomId}/${saleId}`;
export function parseSaleRef(ref: string): { roomId: string; saleId: string } | null {
  const slash = ref.indexOf('/');
  if (slash <= 0 || slash === ref.length - 1) return null;
  return { roomId: ref.slice(0, slash), saleId: ref.slice(slash + 1) };
}

export const orderStreamKey = (roomId: string): string => roomKey(roomId, 'orders');

export const roomSalesKeys = (roomId: string) => ({
  /** Every sale of the room, scored by creation time. */
  all: roomKey(roomId, 'sales'),
  /** Sales counting down or open (the join snapshot lists these). */
  active: roomKey(roomId, 'sales:active'),
  /** Distinct non-staff viewers who joined (the conversion denominator). */
  viewers: roomKey(roomId, 'sales:viewers'),
  /** Distinct users who bought in any sale of the room. */
  buyers: roomKey(roomId, 'sales:buyers'),
});

export const saleKeys = (roomId: string, saleId: string) => {
  const base = roomKey(roomId, `sale:${saleId}`);
  return {
    /** Hash: the sale's definition and its counters (available, held, sold, orders, gmv...). */
    sale: base,
    /** Hash holdId → `state|userId|qty|expiresAt|orderId|at`; kept after the hold ends. */
    holds: `${base}:holds`,
    /** Hash userId → units held + bought, checked against the per-user limit. */
    quota: `${base}:quota`,
    /** Sorted set of `userId|holdId` (all score 0) for a user's holds by lexical range. */
    heldBy: `${base}:held-by`,
    /** Sorted set holdId → expiresAt of the holds still held. */
    expiries: `${base}:expiries`,
    /** Hash `r|userId|requestId` / `c|userId|requestId` → first answer. */
    requests: `${base}:requests`,
    /** Hash userId → units bought. */
    bought: `${base}:bought`,
    rateLimit: (userId: string) => `${base}:rl:${userId}`,
  };
};
export type SaleKeys = ReturnType<typeof saleKeys>;
