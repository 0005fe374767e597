/**
 * Buy-now and orders. A bag product with `stock` can be bought at its price by any signed-in
 * viewer, through the same reserve → hold → checkout → order path as flash sales (a hold that
 * expires, a per-person limit, idempotent requestIds). Every order — flash sale, buy-now or
 * auction — is one record with a `kind`, listed for the room's staff, looked up by id and POSTed
 * to the merchant's webhook. index.ts merges this with the other domains' event files.
 */
import { z } from 'zod';
import { idSchema } from './live-events.js';
import { requestIdSchema, voucherIdSchema } from './sales-events.js';

/** Per-person limit of a buy-now product when the host gives none. */
export const BUY_NOW_DEFAULT_LIMIT = 5;

/**
 * A buy-now hold: `s_bn-<22 chars>.<random>`. The part before the dot names the product's offer
 * (a ledger kept like a flash sale's, derived from the product id), so checkout and release need
 * only the hold. Like sale hold ids, never a ':' (no other Redis key can be named).
 */
export const buyNowHoldIdSchema = z
  .string()
  .max(128)
  .regex(/^s_bn-[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{1,64}$/, 'invalid holdId');

/** Client → server events of buy-now. */
export const buyNowEventSchemas = {
  /** Hold `qty` units of a bag product that has stock, at its price. */
  'buy:reserve': z
    .object({ productId: idSchema, qty: z.number().int().min(1).max(100).default(1), requestId: requestIdSchema })
    .strict(),
  'buy:checkout': z.object({ holdId: buyNowHoldIdSchema, requestId: requestIdSchema, voucherId: voucherIdSchema.optional() }).strict(),
  'buy:release': z.object({ holdId: buyNowHoldIdSchema }).strict(),
  /** Join (or leave) a sold-out product's waitlist: the flash sales' waitlist, keyed by product (PROTOCOL.md, Buy now). */
  'buy:waitlist': z.object({ productId: idSchema, action: z.enum(['join', 'leave']) }).strict(),
} satisfies Record<string, z.ZodType>;

/** 'giveaway': a giveaway winner's prize, checked out at price 0 (amount 0) so it ships like any order. */
export type OrderKind = 'sale' | 'buy-now' | 'auction' | 'giveaway';
export const ORDER_KINDS: readonly OrderKind[] = ['sale', 'buy-now', 'auction', 'giveaway'];

/** Units of a buy-now product right now (available to buy, held in carts, sold). */
export interface BuyNowStock {
  productId: string;
  available: number;
  held: number;
  sold: number;
}

export interface BuyNowHold {
  holdId: string;
  productId: string;
  qty: number;
  /** The price the hold will be checked out at (minor units). */
  unitPrice: number;
  currency: string;
  expiresAt: number;
  /** Set (true) on a waitlist offer: a one-unit hold the server made for the user (buy:offer). */
  offer?: true;
}

/** A buy-now waitlisted user's place (1-based; 0: not, or no longer, on the list) and the list's length. */
export interface BuyNowWaitlistPosition {
  productId: string;
  position: number;
  length: number;
}

/** The room's buy-now waitlist frame: as SaleWaitlistLength (sales-events.ts), keyed by product. */
export interface BuyNowWaitlistLength {
  productId: string;
  length: number;
  headTicket: number;
}

/** What buy:checkout answers: the order, as a sale's checkout does, with its kind. */
export interface BuyNowOrder {
  orderId: string;
  kind: 'buy-now';
  productId: string;
  holdId: string;
  qty: number;
  unitPrice: number;
  /** unitPrice × qty, before any voucher. */
  amount: number;
  voucherId: string | null;
  discount: number;
  /** amount − discount: what the buyer pays. */
  paid: number;
  currency: string;
  createdAt: number;
}

/** The join snapshot's `buyNow` part. */
export interface BuyNowSnapshot {
  /** One entry per bag product that has stock. */
  stock: BuyNowStock[];
  /** The joining user's unexpired buy-now holds (empty for guests). */
  myHolds: BuyNowHold[];
  /** The joining user's places on the products' waitlists (position 1 = next offer). */
  myWaitlist: { productId: string; position: number; length: number }[];
}

/**
 * An order as the orders routes and the webhook give it: one record per checkout, whatever sold
 * it. `ledgerId` is the record the units came from (a flash sale's id, a buy-now offer's, an
 * auction lot's); `saleId` is set for flash sales only.
 */
export interface Order {
  orderId: string;
  kind: OrderKind;
  roomId: string;
  ledgerId: string;
  saleId: string | null;
  holdId: string;
  productId: string;
  userId: string;
  /** The buyer's full display name (only the room sees it shortened). */
  userName: string;
  qty: number;
  unitPrice: number;
  /** unitPrice × qty: the order's value before any voucher (GMV counts this). */
  amount: number;
  /** The voucher the order used (docs/PROTOCOL.md, "Vouchers"), or null. */
  voucherId: string | null;
  /** Minor units the voucher took off; 0 without one. */
  discount: number;
  /** amount − discount: what to charge the buyer. */
  paid: number;
  currency: string;
  /** The buyer's checkout requestId. */
  requestId: string;
  /** Epoch ms, Redis clock. */
  createdAt: number;
}

/**
 * Order ids name their room: `o_<roomId>.<unique>`, so GET /api/orders/:orderId finds the order
 * in the room's keys (one Cluster slot) without a global index.
 */
export const orderIdSchema = z
  .string()
  .max(160)
  .regex(/^o_[A-Za-z0-9_.:-]{1,64}\.[A-Za-z0-9_-]{1,64}$/, 'invalid orderId');

export const orderParams = z.object({ orderId: orderIdSchema });

/** GET /api/rooms/:roomId/orders: newest first; `cursor` is the previous page's `nextCursor`. */
export const roomOrdersQuery = z
  .object({
    cursor: z.string().regex(/^\d{1,19}-\d{1,19}$/, 'invalid cursor').optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
  })
  .strict();

export interface OrdersPage {
  orders: Order[];
  /** Pass as `cursor` for the next (older) page; null when this page is the last. */
  nextCursor: string | null;
}

// ---- Webhooks ---------------------------------------------------------------------------------
// The server POSTs every order to WEBHOOK_URL as JSON (WebhookEvent) with these headers. The
// signature is `v1=` + hex HMAC-SHA256(WEBHOOK_SECRET, `${timestamp}.${raw body}`); see
// docs/PROTOCOL.md for verifying it.

export const WEBHOOK_SIGNATURE_HEADER = 'x-webhook-signature';
/** Unix seconds when this attempt was signed: refuse old ones to stop replays. */
export const WEBHOOK_TIMESTAMP_HEADER = 'x-webhook-timestamp';
/** The order id: the same on every attempt for one order, so the receiver can deduplicate. */
export const WEBHOOK_IDEMPOTENCY_HEADER = 'idempotency-key';
/** The attempt number (1 on the first try) — informative only. */
export const WEBHOOK_ATTEMPT_HEADER = 'x-webhook-attempt';

export interface WebhookEvent {
  /** = order.orderId: the idempotency key. */
  id: string;
  type: 'order.created';
  order: Order;
}

export interface BuyNowEventResults {
  'buy:reserve': BuyNowHold & { remaining: number };
  'buy:checkout': BuyNowOrder;
  'buy:release': { holdId: string; released: boolean; remaining: number };
  /** ticket: the entry's join sequence number (0 after a leave), to compare with buy:waitlist-length's headTicket. */
  'buy:waitlist': BuyNowWaitlistPosition & { ticket: number };
}

export interface BuyNowServerEvents {
  /** Coalesced: at most 5 per second per product; not sent when it would repeat the last frame. */
  'buy:stock': (p: BuyNowStock) => void;
  /** At once when the last available unit is taken. */
  'buy:sold-out': (p: BuyNowStock) => void;
  /** "Someone just bought": the buyer's name shortened, like "A***e". */
  'buy:bought': (p: { productId: string; name: string; qty: number }) => void;
  /** To the offered user only: a unit for you from the waitlist (offer: true); buy:checkout it before expiresAt. */
  'buy:offer': (p: BuyNowHold) => void;
  /** To a waitlisted user among the first WAITLIST_POSITIONS_TOLD only: their place changed or entered that window. */
  'buy:waitlist-position': (p: BuyNowWaitlistPosition) => void;
  /** Room: how many wait and the head's ticket (batchable; at most twice a second per product). */
  'buy:waitlist-length': (p: BuyNowWaitlistLength) => void;
}
