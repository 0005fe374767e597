/**
 * Redis keys of vouchers. Every one carries the room's hash tag, so a voucher script stays in one
 * Redis Cluster slot with the room's bans and followers, and the sale scripts (checkout, release,
 * the expiry sweep) can reach a room's voucher claims from any hold of the room (sale-scripts.ts).
 *
 * A room has few vouchers (VOUCHER_MAX_PER_ROOM over its life), so they share room-level keys
 * instead of a key set each: the checkout and the sweep never need to build a key from an id.
 */
import { roomKey } from '../../core/keys.js';

export interface RoomVoucherKeys {
  /**
   * Hash: `<voucherId>` → the definition as JSON; counters `<voucherId>|claimed`,
   * `<voucherId>|redeemed`, `<voucherId>|discount`; room totals `t|claims`, `t|redemptions`,
   * `t|discount`; drop requests `r|<hostId>|<requestId>` → voucherId.
   */
  vouchers: string;
  /** Sorted set voucherId → drop time: every voucher of the room (caps them, lists them). */
  list: string;
  /**
   * Hash: `<voucherId>|<userId>` → the claim `state|claimedAt|expiresAt|holdId|holdExpiresAt|orderId|requestId`
   * (state claimed, applied or used; "expired" is read from expiresAt), and `h|<holdId>` →
   * voucherId for every hold a voucher is applied to.
   */
  claims: string;
  /** Hash voucherId → the remaining count the room was last told (voucher:stock / claimed-out). */
  frame: string;
}

export function roomVoucherKeys(roomId: string): RoomVoucherKeys {
  return {
    vouchers: roomKey(roomId, 'vouchers'),
    list: roomKey(roomId, 'vouchers:list'),
    claims: roomKey(roomId, 'voucher-claims'),
    frame: roomKey(roomId, 'vouchers:frame'),
  };
}

/** The claims hash alone: what the sale scripts take to give a voucher back with its hold. */
export const roomVoucherClaimsKey = (roomId: string): string => roomKey(roomId, 'voucher-claims');

/** A user's voucher actions (claim, apply) in the current one-second window. */
export const voucherRateKey = (roomId: string, userId: string): string => roomKey(roomId, `voucher-rl:${userId}`);

/** The ClusterThrottle lock of one voucher's stock frames. */
export const voucherThrottleKey = (roomId: string, voucherId: string): string => roomKey(roomId, `throttle:voucher:${voucherId}`);
