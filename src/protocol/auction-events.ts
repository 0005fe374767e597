/**
 * Live auctions: the host puts one bag product up as a lot at a time; signed-in viewers bid (a
 * plain bid, or a maximum the server bids up to for them); the lot closes by Redis's clock and its
 * winner gets a hold at the winning price, checked out through the flash-sale order path.
 * index.ts merges this with the other domains' event files into the one protocol.
 *
 * Money is in minor units (cents), like Product.price. The rules themselves (increments, proxy
 * bidding, extensions) are a pure module on the server: src/commerce/auctions/auction-rules.ts.
 */
import { z } from 'zod';
import { idSchema } from './live-events.js';
import { requestIdSchema, voucherIdSchema } from './sales-events.js';

/** Lot ids are made by the server (`a_` + base64url); no ':' so an id never names another key. */
export const lotIdSchema = z.string().regex(/^a_[A-Za-z0-9_-]{1,62}$/, 'invalid lotId');

export const AUCTION_MIN_DURATION_SEC = 5;
export const AUCTION_MAX_DURATION_SEC = 300;
/** Highest start price, bid or maximum: 10 million in major units. */
export const AUCTION_MAX_AMOUNT = 1_000_000_000;

/**
 * One band of the increment table: from this price (inclusive) up to the next band's `from`, a bid
 * must be at least `step` above the current price.
 */
export interface IncrementBand {
  from: number;
  step: number;
}

/** The default table, in cents: $1 below $20, $2 from $20 below $100, $5 from $100. */
export const DEFAULT_INCREMENTS: readonly IncrementBand[] = [
  { from: 0, step: 100 },
  { from: 2000, step: 200 },
  { from: 10_000, step: 500 },
];

const amountSchema = z.number().int().min(1).max(AUCTION_MAX_AMOUNT);

export const incrementsSchema = z
  .array(z.object({ from: z.number().int().min(0).max(AUCTION_MAX_AMOUNT), step: amountSchema }).strict())
  .min(1)
  .max(10)
  // (zod runs refinements even after a failed length check: they must hold up on an empty list.)
  .refine((bands) => bands.length === 0 || bands[0]?.from === 0, 'the first increment band must start at 0')
  .refine((bands) => bands.every((b, i) => i === 0 || b.from > bands[i - 1]!.from), 'increment bands must be in increasing order of `from`');

export type AuctionMode = 'extend' | 'sudden-death';

export const auctionStartSchema = z
  .object({
    productId: idSchema,
    /** The first bid must be at least this. */
    startPrice: amountSchema,
    increments: incrementsSchema.optional(),
    durationSec: z.number().int().min(AUCTION_MIN_DURATION_SEC).max(AUCTION_MAX_DURATION_SEC),
    /** extend: a bid in the last extendSec seconds sets the time left back to extendSec. */
    mode: z.enum(['extend', 'sudden-death']).default('extend'),
    extendSec: z.number().int().min(1).max(60).default(10),
    /** How long the winner's hold lasts before the lot counts as unsold. */
    holdSec: z.number().int().min(10).max(3600).default(600),
    /** Recommended: a retry with the same requestId gets the lot the first call made. */
    requestId: requestIdSchema.optional(),
  })
  .strict();

/** Client → server events of auctions. */
export const auctionEventSchemas = {
  'auction:start': auctionStartSchema,
  /** Host or moderator; only an open lot. Written to the room's audit log. */
  'auction:cancel': z.object({ lotId: lotIdSchema, reason: z.string().trim().max(200).optional() }).strict(),
  /**
   * `max: false` (default): a bid of exactly `amount`. `max: true`: a maximum; the server bids for
   * you one increment above any competitor up to it. Required: a new requestId per tap (a retry
   * with the same one gets the first answer).
   */
  'auction:bid': z
    .object({ lotId: lotIdSchema, amount: amountSchema, requestId: requestIdSchema, max: z.boolean().default(false) })
    .strict(),
  /** The winner pays: the lot's hold becomes an order through the flash-sale checkout. */
  'auction:checkout': z.object({ lotId: lotIdSchema, requestId: requestIdSchema, voucherId: voucherIdSchema.optional() }).strict(),
  /** Host and moderators: a lot's accepted bids, newest first (maximums not shown). */
  'auction:bids': z.object({ lotId: lotIdSchema, limit: z.number().int().min(1).max(500).default(100) }).strict(),
} satisfies Record<string, z.ZodType>;

/**
 * open → awaiting-payment (a winner holds it) → sold (paid) or unsold (the hold expired);
 * open → unsold (no bid); open → cancelled (host or moderator, or the live ended).
 */
export type AuctionStatus = 'open' | 'awaiting-payment' | 'sold' | 'unsold' | 'cancelled';
export type AuctionEndReason = 'time' | 'cancelled' | 'room-ended' | 'unpaid';

/** What changes while a lot runs: the `auction:state` frame. */
export interface AuctionState {
  lotId: string;
  status: AuctionStatus;
  /** The visible price: the last plain bid, or the second-highest maximum + one increment. */
  price: number;
  /** The leader's name shortened like "A***e"; null before the first bid. */
  leader: string | null;
  bidCount: number;
  /** Epoch ms on the server's (Redis's) clock; compare with serverTime for the countdown. */
  endsAt: number;
  /** The lowest bid that can be accepted now. */
  nextMin: number;
  /** Set on the frame sent at once when a late bid moved endsAt. */
  extended: boolean;
  endReason: AuctionEndReason | null;
  serverTime: number;
}

export interface AuctionLot extends AuctionState {
  roomId: string;
  productId: string;
  title: string;
  imageUrl: string | null;
  currency: string;
  /** The product's regular price. */
  listPrice: number;
  startPrice: number;
  increments: IncrementBand[];
  mode: AuctionMode;
  extendSec: number;
  durationSec: number;
  holdSec: number;
  startedAt: number;
  closedAt: number | null;
}

/** The ack of an accepted bid; its `seq` and `price` are the bid's entry in the lot's history. */
export interface AuctionBidResult {
  lotId: string;
  /** 1-based position in the lot's bid history. */
  seq: number;
  amount: number;
  max: boolean;
  /** The visible price right after this bid. */
  price: number;
  /** Whether this bidder leads after it (a plain bid may be outbid at once by a maximum). */
  leading: boolean;
  endsAt: number;
  extended: boolean;
  bidCount: number;
  nextMin: number;
}

/** The winner's hold: check it out with auction:checkout (or sale:checkout with holdId). */
export interface AuctionWin {
  lotId: string;
  saleId: string;
  holdId: string;
  price: number;
  currency: string;
  expiresAt: number;
}

export interface AuctionBidEntry {
  seq: number;
  bidder: { id: string; name: string };
  max: boolean;
  /** The amount of a plain bid; null for a maximum (kept secret). */
  amount: number | null;
  /** The visible price after the bid. */
  price: number;
  leaderId: string;
  at: number;
}

export interface AuctionOrder {
  lotId: string;
  orderId: string;
  saleId: string;
  holdId: string;
  /** The winning price, before any voucher. */
  amount: number;
  voucherId: string | null;
  discount: number;
  /** amount − discount: what the winner pays. */
  paid: number;
  currency: string;
  createdAt: number;
}

/** The join snapshot's `auctions` part. */
export interface AuctionsSnapshot {
  /** The room's latest lot (open, or how the last one ended); null if none yet. */
  current: AuctionLot | null;
  /** The joining user's unpaid win of that lot, if any. */
  myWin: AuctionWin | null;
}

export interface AuctionEventResults {
  'auction:start': AuctionLot;
  'auction:cancel': AuctionLot;
  'auction:bid': AuctionBidResult;
  'auction:checkout': AuctionOrder;
  'auction:bids': AuctionBidEntry[];
}

export interface AuctionServerEvents {
  'auction:started': (p: { lot: AuctionLot; serverTime: number }) => void;
  /** At most 10 per second per room, plus at once on a timer extension and on close. */
  'auction:state': (p: AuctionState) => void;
  /** To the winner's connections only. */
  'auction:won': (p: AuctionWin) => void;
  /** To a bidder's connections when someone else takes the lead from them. */
  'auction:outbid': (p: { lotId: string; price: number; nextMin: number }) => void;
}
