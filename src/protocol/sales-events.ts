/**
 * Flash-sale events: the host starts, stops and restocks a sale on a product of the room's bag;
 * viewers reserve units (a hold with an expiry), check the hold out into an order, or release it.
 * index.ts merges this with the other domains' event files into the one protocol.
 */
import { z } from 'zod';
import { idSchema } from './live-events.js';

/**
 * Chosen by the client, one per tap: sending the same requestId again returns the first answer.
 * At least 8 characters so two taps of one user do not collide by accident (use a UUID).
 */
export const requestIdSchema = z
  .string()
  .min(8, 'requestId needs at least 8 characters (use a UUID)')
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'invalid requestId');

/**
 * Sale ids are made by the server (`s_` + base64url) and hold ids are `<saleId>.<random>`. Neither
 * may contain ':' (a sale's Redis sub-keys are `<sale key>:holds`, `:quota`, …) and a sale id has
 * no '.', so an id sent by a client can never name another key of the sale: it is BAD_REQUEST here,
 * never a confused script.
 */
export const saleIdSchema = z.string().regex(/^s_[A-Za-z0-9_-]{1,62}$/, 'invalid saleId');
export const holdIdSchema = z.string().max(128).regex(/^s_[A-Za-z0-9_-]{1,62}\.[A-Za-z0-9_-]{1,64}$/, 'invalid holdId');

/**
 * Standing ledgers (a buy-now offer, an auction lot: units sold outside a flash sale through the
 * same scripts) have sale ids too, `s_<tag>-<22 characters>` (tag 2–4 lowercase letters, `bn` for
 * buy-now), never the form of a random sale id (16 characters after `s_`). They are not flash
 * sales: the sale events refuse them (a host could otherwise stop or restock a product's offer as
 * if it were a sale); their own events act on them. The ledger route takes both.
 */
export const STANDING_LEDGER_ID = /^s_[a-z]{2,4}-[A-Za-z0-9_-]{22}$/;
// Said as regexes (negative lookaheads), not refinements: a plain pattern check keeps the rush
// events' schemas compilable by the socket boundary's fast parser (src/core/fast-parse.ts).
const flashSaleIdSchema = saleIdSchema.regex(/^(?!s_[a-z]{2,4}-[A-Za-z0-9_-]{22}$)/, 'not a flash sale (a buy-now offer or auction lot: use its own events)');
const flashHoldIdSchema = holdIdSchema.regex(/^(?!s_[a-z]{2,4}-[A-Za-z0-9_-]{22}\.)/, 'not a flash sale hold (a buy-now or auction hold: use its own events)');

/**
 * Voucher ids are made by the server: `v_` + base64url (never '|' or ':'). Defined here, not in
 * voucher-events.ts (which imports this module), because every checkout event takes one.
 */
export const voucherIdSchema = z.string().regex(/^v_[A-Za-z0-9_-]{1,62}$/, 'invalid voucherId');

const HOUR = 3600;
/** The longest sale, however it is given (durationSec or endsAt): the sweeper works for as long as a sale runs. */
export const SALE_MAX_DURATION_SEC = 7 * 24 * HOUR;

export const saleStartSchema = z
  .object({
    productId: idSchema,
    /** Sale price in minor units (cents), like Product.price. */
    price: z.number().int().min(0).max(1_000_000_000),
    quantity: z.number().int().min(1).max(1_000_000),
    perUserLimit: z.number().int().min(1).max(100).default(1),
    /** 0 opens the sale at once; otherwise viewers see a countdown to startsAt. */
    startInSec: z.number().int().min(0).max(24 * HOUR).default(0),
    /** Give exactly one of durationSec (counted from the start) or endsAt (epoch ms). */
    durationSec: z.number().int().min(1).max(SALE_MAX_DURATION_SEC).optional(),
    /** At most SALE_MAX_DURATION_SEC after the start (checked on Redis's clock when the sale is created). */
    endsAt: z.number().int().positive().optional(),
    /** How long a reservation holds its units before they go back to stock. */
    holdSec: z.number().int().min(1).max(HOUR).default(120),
    /** Recommended: a retry with the same requestId gets the sale the first call made, not a second one. */
    requestId: requestIdSchema.optional(),
  })
  .strict()
  .refine((b) => (b.durationSec === undefined) !== (b.endsAt === undefined), 'give either durationSec or endsAt');

/** Client → server events of flash sales. */
export const saleEventSchemas = {
  'sale:start': saleStartSchema,
  'sale:stop': z.object({ saleId: flashSaleIdSchema }).strict(),
  /** Recommended: a retry with the same requestId gets the first answer and adds nothing. */
  'sale:restock': z
    .object({ saleId: flashSaleIdSchema, quantity: z.number().int().min(1).max(1_000_000), requestId: requestIdSchema.optional() })
    .strict(),
  'sale:reserve': z
    .object({ saleId: flashSaleIdSchema, qty: z.number().int().min(1).max(100).default(1), requestId: requestIdSchema })
    .strict(),
  /** `voucherId`: a claimed voucher this order uses (see docs/PROTOCOL.md, "Vouchers"). */
  'sale:checkout': z.object({ holdId: flashHoldIdSchema, requestId: requestIdSchema, voucherId: voucherIdSchema.optional() }).strict(),
  'sale:release': z.object({ holdId: flashHoldIdSchema }).strict(),
  'sale:stats': z.object({}).strict().optional().default({}),
  /** Join (or leave) a sold-out sale's waitlist: one entry per user, one unit per entry (PROTOCOL.md, Waitlist). */
  'sale:waitlist': z.object({ saleId: flashSaleIdSchema, action: z.enum(['join', 'leave']) }).strict(),
} satisfies Record<string, z.ZodType>;

/** HTTP path parameters of the per-sale routes. */
export const roomSaleParams = z.object({ roomId: idSchema, saleId: saleIdSchema });

export type SaleStatus = 'scheduled' | 'live' | 'ended';
/** 'auction': the one-unit sale holding an auction winner's unit (ended from the start). */
export type SaleEndReason = 'stopped' | 'time' | 'room-ended' | 'auction' | 'giveaway';

/** Units of a sale right now. initial + added = available + held + sold, always. */
export interface SaleStock {
  saleId: string;
  available: number;
  held: number;
  sold: number;
}

export interface FlashSale extends SaleStock {
  id: string;
  roomId: string;
  productId: string;
  title: string;
  imageUrl: string | null;
  /** The product's regular price, for the strike-through. */
  listPrice: number;
  price: number;
  currency: string;
  initial: number;
  added: number;
  perUserLimit: number;
  startsAt: number;
  endsAt: number;
  holdSeconds: number;
  status: SaleStatus;
  endReason: SaleEndReason | null;
  createdAt: number;
}

export interface SaleHold {
  holdId: string;
  saleId: string;
  qty: number;
  expiresAt: number;
  /** Set (true) on a waitlist offer: a one-unit hold the server made for the user (sale:offer). */
  offer?: true;
}

export interface SaleOrder {
  orderId: string;
  saleId: string;
  holdId: string;
  productId: string;
  qty: number;
  unitPrice: number;
  /** unitPrice × qty: the order's value before any voucher (what GMV counts). */
  amount: number;
  /** The voucher this order used, or null. */
  voucherId: string | null;
  /** Minor units the voucher took off (0 without one). */
  discount: number;
  /** amount − discount: what the buyer pays. */
  paid: number;
  currency: string;
  createdAt: number;
}

export interface SaleFigures {
  saleId: string;
  orders: number;
  unitsSold: number;
  /** Gross merchandise value in minor units. */
  gmv: number;
  buyers: number;
  /** buyers ÷ unique viewers of the room (0 when nobody watched). */
  conversion: number;
  /** The sold-out waitlist: people waiting now, offers made, offers checked out, offers lapsed. */
  waitlist: { length: number; offers: number; conversions: number; lapsed: number };
}

export interface RoomSaleFigures {
  roomId: string;
  uniqueViewers: number;
  orders: number;
  unitsSold: number;
  gmv: number;
  /** Distinct users who bought in any sale of the room. */
  buyers: number;
  conversion: number;
  sales: SaleFigures[];
  /** Vouchers of the room: claims, orders that used one, and the minor units they took off. */
  vouchers: { claims: number; redemptions: number; discount: number };
}

/** The join snapshot's `sales` part. */
export interface SalesSnapshot {
  /** Sales counting down or open, with their stock. */
  active: FlashSale[];
  /** The joining user's unexpired holds (empty for guests). */
  myHolds: SaleHold[];
  /** The joining user's places on the active sales' waitlists (position 1 = next offer). */
  myWaitlist: { saleId: string; position: number; length: number }[];
}

/** GET /api/rooms/:roomId/sales/:saleId/ledger: the counters, recounted from the records. */
export interface SaleLedger {
  saleId: string;
  initial: number;
  added: number;
  available: number;
  held: number;
  /** Units in waitlist offers (holds the server made for the waitlist's head). */
  offered: number;
  sold: number;
  perUserLimit: number;
  /** Recounted from the individual holds and purchases, independently of the counters. */
  recount: { held: number; offered: number; sold: number; bought: number; activeHolds: number };
  maxUnitsPerUser: number;
  checks: {
    balanced: boolean;
    availableNonNegative: boolean;
    countersMatchRecords: boolean;
    withinLimit: boolean;
  };
  ok: boolean;
}

export interface SaleEventResults {
  'sale:start': FlashSale;
  'sale:stop': FlashSale;
  'sale:restock': SaleStock & { added: number };
  'sale:reserve': SaleHold & { remaining: number };
  'sale:checkout': SaleOrder;
  'sale:release': { holdId: string; released: boolean; remaining: number };
  'sale:stats': RoomSaleFigures;
  /** position: 1-based place in the line (0 after a leave); length: people waiting; ticket: see SaleWaitlistLength. */
  'sale:waitlist': SaleWaitlistPosition & { ticket: number };
}

export interface SaleWaitlistPosition {
  saleId: string;
  /** 1-based; 0: not (or no longer) on the list — left, offered a unit, dropped, or the sale ended. */
  position: number;
  length: number;
}

/**
 * The room's waitlist frame. `headTicket` is the ticket (join sequence number, from the join's ack)
 * of the first person in line, 0 when nobody waits. Someone behind the told window
 * (WAITLIST_POSITIONS_TOLD) is at most at place min(ticket - headTicket + 1, length): exact unless
 * someone between the head and them left the line; they are told their exact place on entering
 * the window. length 0: the list is empty (or closed with the sale), nobody is on it.
 */
export interface SaleWaitlistLength {
  saleId: string;
  length: number;
  headTicket: number;
}

/** A unit offered to the waitlist's head: a hold of one unit, checked out with sale:checkout. */
export interface SaleOffer {
  saleId: string;
  holdId: string;
  qty: number;
  expiresAt: number;
}

export interface SaleServerEvents {
  /** A sale was created; it opens at sale.startsAt (countdown against serverTime). */
  'sale:started': (p: { sale: FlashSale; serverTime: number }) => void;
  /** A counted-down sale opened (sent by the sweeper, within SALE_SWEEP_MS of startsAt). */
  'sale:opened': (p: { saleId: string }) => void;
  /** Coalesced: at most 5 per second per sale. */
  'sale:stock': (p: SaleStock) => void;
  /** Sent at once when the last available unit is taken, with the stock at that moment. */
  'sale:sold-out': (p: SaleStock) => void;
  'sale:ended': (p: { saleId: string; reason: SaleEndReason; sold: number }) => void;
  /** "Someone just bought": the buyer's name shortened, like "A***e". */
  'sale:bought': (p: { saleId: string; name: string; qty: number }) => void;
  /** Host and moderators only: live figures, at most once a second. */
  'sale:stats': (p: RoomSaleFigures) => void;
  /** To the offered user only: a unit for you from the waitlist; check it out before expiresAt. */
  'sale:offer': (p: SaleOffer) => void;
  /**
   * To a waitlisted user among the first WAITLIST_POSITIONS_TOLD (default 500) only, when their
   * place changed or they entered that window (at most twice a second per sale).
   */
  'sale:waitlist-position': (p: SaleWaitlistPosition) => void;
  /** Room: how many wait and the head's ticket (batchable; at most twice a second per sale). */
  'sale:waitlist-length': (p: SaleWaitlistLength) => void;
}
