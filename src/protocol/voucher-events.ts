/**
 * Voucher events: the host drops a voucher (an amount or a percent off, a minimum spend, a number
 * available, valid for a while after each claim, optionally for followers only); signed-in viewers
 * claim one each (atomically: never more claims than available, never two per user); a claimed
 * voucher is applied to one of the buyer's holds (`voucher:apply`, to see the price before paying)
 * or named at checkout (`voucherId` on sale:checkout, buy:checkout, auction:checkout) and is
 * consumed by exactly one order. A hold released or expired unpaid gives its voucher back.
 * docs/PROTOCOL.md, "Vouchers", has the rules; index.ts merges this with the other domains' events.
 */
import { z } from 'zod';
import { holdIdSchema, requestIdSchema, voucherIdSchema } from './sales-events.js';

export const VOUCHER_KINDS = ['amount', 'percent'] as const;
export type VoucherKind = (typeof VOUCHER_KINDS)[number];

/** Largest amount off / minimum spend (minor units), as for prices. */
export const VOUCHER_AMOUNT_MAX = 1_000_000_000;
export const VOUCHER_PERCENT_MIN = 1;
export const VOUCHER_PERCENT_MAX = 90;
/** Most vouchers one drop offers (the server's VOUCHER_MAX_QUANTITY may set a lower cap). */
export const VOUCHER_QUANTITY_MAX = 100_000;
export const VOUCHER_VALID_MIN_SEC = 10;
export const VOUCHER_VALID_MAX_SEC = 24 * 3600;
export const VOUCHER_WINDOW_MIN_SEC = 5;
export const VOUCHER_WINDOW_MAX_SEC = 24 * 3600;
export const VOUCHER_WINDOW_DEFAULT_SEC = 600;

export const voucherDropSchema = z
  .object({
    kind: z.enum(VOUCHER_KINDS),
    /** kind 'amount': minor units off (like prices); kind 'percent': 1–90. */
    value: z.number().int().min(1).max(VOUCHER_AMOUNT_MAX),
    /** The order amount (price × qty, minor units) must be at least this. */
    minSpend: z.number().int().min(0).max(VOUCHER_AMOUNT_MAX).default(0),
    quantity: z.number().int().min(1).max(VOUCHER_QUANTITY_MAX),
    /** How long a claimed voucher stays usable, counted from its claim. */
    validSec: z.number().int().min(VOUCHER_VALID_MIN_SEC).max(VOUCHER_VALID_MAX_SEC),
    followersOnly: z.boolean().default(false),
    /** How long claiming stays open, from the drop. */
    durationSec: z.number().int().min(VOUCHER_WINDOW_MIN_SEC).max(VOUCHER_WINDOW_MAX_SEC).default(VOUCHER_WINDOW_DEFAULT_SEC),
    /** Recommended: a retry with the same requestId gets the voucher the first call dropped. */
    requestId: requestIdSchema.optional(),
  })
  .strict()
  .refine((b) => b.kind !== 'percent' || (b.value >= VOUCHER_PERCENT_MIN && b.value <= VOUCHER_PERCENT_MAX), {
    message: `a percent voucher takes ${VOUCHER_PERCENT_MIN}–${VOUCHER_PERCENT_MAX} % off`,
    path: ['value'],
  });

/** Client → server events of vouchers. */
export const voucherEventSchemas = {
  'voucher:drop': voucherDropSchema,
  'voucher:stop': z.object({ voucherId: voucherIdSchema }).strict(),
  'voucher:claim': z.object({ voucherId: voucherIdSchema, requestId: requestIdSchema }).strict(),
  /** Attach a claimed voucher to one of the caller's holds (any kind: flash sale, buy-now, auction). */
  'voucher:apply': z.object({ voucherId: voucherIdSchema, holdId: holdIdSchema }).strict(),
} satisfies Record<string, z.ZodType>;

export type VoucherStatus = 'open' | 'ended';

export interface Voucher {
  id: string;
  roomId: string;
  kind: VoucherKind;
  value: number;
  minSpend: number;
  quantity: number;
  claimed: number;
  remaining: number;
  validSec: number;
  followersOnly: boolean;
  /** Claiming opened (the drop) and closes (Redis clock, epoch ms); a stop moves endsAt to then. */
  startsAt: number;
  endsAt: number;
  /** 'ended': claiming is over (time or stop); claimed vouchers stay usable until they expire. */
  status: VoucherStatus;
}

/**
 * A user's claim. `applied`: attached to `holdId` (usable until that hold ends, even past
 * `expiresAt`); `used`: consumed by `orderId`; `expired`: not used within its validity.
 */
export type VoucherClaimState = 'claimed' | 'applied' | 'used' | 'expired';

export interface VoucherClaim {
  voucherId: string;
  state: VoucherClaimState;
  claimedAt: number;
  expiresAt: number;
  holdId: string | null;
  orderId: string | null;
}

/** Host figures of one voucher (GET /api/rooms/:roomId/vouchers, staff). */
export interface VoucherFigures {
  voucherId: string;
  claims: number;
  /** Orders that used it. */
  redemptions: number;
  /** Minor units taken off by those orders. */
  discount: number;
}

/** The room's totals, also in sale:stats (RoomSaleFigures.vouchers). */
export interface RoomVoucherTotals {
  claims: number;
  redemptions: number;
  discount: number;
}

/** The join snapshot's `vouchers` part. */
export interface VouchersSnapshot {
  /** Vouchers open for claiming, with what is left. */
  active: Voucher[];
  /** The joining user's claims (any state) with their vouchers; empty for guests. */
  mine: (VoucherClaim & { voucher: Voucher })[];
}

export interface VoucherApplied {
  voucherId: string;
  holdId: string;
  /** price × qty of the hold, minor units. */
  amount: number;
  discount: number;
  /** amount − discount: what checkout will charge. */
  paid: number;
  currency: string;
  /** The voucher is held on this hold until the hold ends (its expiresAt). */
  holdExpiresAt: number;
}

export interface VoucherEventResults {
  'voucher:drop': { voucher: Voucher };
  'voucher:stop': { voucher: Voucher };
  'voucher:claim': { claim: VoucherClaim; remaining: number };
  'voucher:apply': VoucherApplied;
}

export interface VoucherServerEvents {
  'voucher:dropped': (p: { voucher: Voucher; serverTime: number }) => void;
  /** Coalesced: at most 5 per second per voucher; not sent when it would repeat the last frame. */
  'voucher:stock': (p: { voucherId: string; remaining: number }) => void;
  /** At once when the last voucher is claimed. */
  'voucher:claimed-out': (p: { voucherId: string }) => void;
  /** Claiming ended (host/staff stop); claims made stay usable until they expire. */
  'voucher:stopped': (p: { voucher: Voucher }) => void;
}
