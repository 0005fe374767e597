/**
 * Giveaway events: the host starts a giveaway on a prize (a bag product or a short text) with a
 * duration, a number of winners and an entry rule; signed-in viewers enter once; at the deadline
 * the server draws the winners from a seed it committed to at the start (sha256 published in
 * `giveaway:started`, the seed revealed in `giveaway:drawn`). docs/PROTOCOL.md, "Giveaways",
 * documents the draw function; scripts/verify-giveaway.mjs recomputes it.
 * index.ts merges this with the other domains' event files into the one protocol.
 */
import { z } from 'zod';
import { idSchema } from './live-events.js';
import { requestIdSchema } from './sales-events.js';

/** Giveaway ids are made by the server: `g_` + base64url. */
export const giveawayIdSchema = z.string().regex(/^g_[A-Za-z0-9_-]{1,62}$/, 'invalid giveawayId');

export const GIVEAWAY_RULES = ['everyone', 'followers', 'commenters', 'buyers'] as const;
export type GiveawayRule = (typeof GIVEAWAY_RULES)[number];

/** Most winners one giveaway may have. */
export const GIVEAWAY_WINNERS_MAX = 100;
export const GIVEAWAY_PRIZE_TEXT_MAX = 80;
export const GIVEAWAY_DURATION_MIN_SEC = 5;
export const GIVEAWAY_DURATION_MAX_SEC = 24 * 3600;

export const giveawayStartSchema = z
  .object({
    /** Exactly one of productId (in the room's bag) or text. */
    productId: idSchema.optional(),
    text: z.string().trim().min(1).max(GIVEAWAY_PRIZE_TEXT_MAX, `prize text longer than ${GIVEAWAY_PRIZE_TEXT_MAX} characters`).optional(),
    durationSec: z.number().int().min(GIVEAWAY_DURATION_MIN_SEC).max(GIVEAWAY_DURATION_MAX_SEC),
    winners: z.number().int().min(1).max(GIVEAWAY_WINNERS_MAX).default(1),
    rule: z.enum(GIVEAWAY_RULES).default('everyone'),
    /** A retry with the same requestId (per host and room) answers the first giveaway, starts none. */
    requestId: requestIdSchema.optional(),
  })
  .strict()
  .refine((b) => (b.productId === undefined) !== (b.text === undefined), 'give either productId or text');

/** Client → server events of giveaways. */
export const giveawayEventSchemas = {
  'giveaway:start': giveawayStartSchema,
  /** `free: true` is the no-purchase route: it enters whatever the rule, once per user. */
  'giveaway:enter': z.object({ giveawayId: giveawayIdSchema, free: z.boolean().default(false) }).strict(),
  /** Staff figures of the room's giveaways (newest first). */
  'giveaway:stats': z.object({}).strict().optional().default({}),
} satisfies Record<string, z.ZodType>;

/** HTTP path parameters of GET /api/giveaways/:giveawayId/entries. */
export const giveawayParams = z.object({ giveawayId: giveawayIdSchema });

export type GiveawayPrize = { kind: 'product'; productId: string; title: string } | { kind: 'text'; text: string };
export type GiveawayStatus = 'open' | 'drawn';

export interface GiveawayWinner {
  userId: string;
  /** Shortened like "A***e" (the room sees it). */
  name: string;
  /** The entry's salted hash in the published list. */
  entry: string;
}

export interface Giveaway {
  id: string;
  roomId: string;
  prize: GiveawayPrize;
  rule: GiveawayRule;
  /** Winners asked for; fewer are drawn when fewer entered. */
  winnersWanted: number;
  startedAt: number;
  /** Entries are refused from this time on (Redis's clock). */
  endsAt: number;
  /** sha256(seed) as hex: published before anyone enters. */
  commitment: string;
  status: GiveawayStatus;
  entries: number;
  /** Revealed at the draw (hex); null while open. */
  seed: string | null;
  /** The salt of the entry hashes (hex); null while open. */
  salt: string | null;
  winners: GiveawayWinner[];
  drawnAt: number | null;
}

/**
 * A winner's prize: a one-unit sale at price 0 already held by them (the auctions' award path),
 * checked out with `sale:checkout { holdId }` into an order of kind 'giveaway'. Unclaimed, the
 * hold expires at `expiresAt` (GIVEAWAY_PRIZE_HOLD_SEC after the draw) and nobody else gets it.
 */
export interface GiveawayWin {
  giveawayId: string;
  prize: GiveawayPrize;
  saleId: string;
  holdId: string;
  expiresAt: number;
}

/** The joining user's prize in the snapshot, with what became of it. */
export interface GiveawayPrizeHold extends GiveawayWin {
  state: 'held' | 'claimed' | 'expired';
  /** The prize order once claimed. */
  orderId: string | null;
}

/** The join snapshot's `giveaways` part. */
export interface GiveawaysSnapshot {
  /** The room's latest giveaways, newest first. */
  recent: Giveaway[];
  /** The joining user's prizes among them (empty for guests). */
  myPrizes: GiveawayPrizeHold[];
}

/** One giveaway's figures for the host. */
export interface GiveawayFigures {
  giveawayId: string;
  prize: GiveawayPrize;
  rule: GiveawayRule;
  status: GiveawayStatus;
  endsAt: number;
  /** Every entry (after the draw: without users banned since they entered). */
  entries: number;
  /** Entries by the rule (all of them for `everyone`). */
  entriesByRule: number;
  /** Entries by the no-purchase route. */
  entriesFree: number;
  winners: number;
  /** Prize holds made (one per winner once the draw is complete). */
  prizesAwarded: number;
  /** Prizes checked out into an order of kind 'giveaway'. */
  prizesClaimed: number;
  /** Prize holds that ran out unclaimed. */
  prizesExpired: number;
}

/** GET /api/giveaways/:giveawayId/entries. */
export interface GiveawayEntries {
  giveaway: Giveaway;
  /** The draw function's name (docs/PROTOCOL.md). */
  algorithm: 'giveaway-draw-v1';
  /** hex HMAC-SHA256(salt, userId) of every entry, sorted ascending: the list the draw indexes. */
  entries: string[];
}

export interface GiveawayEventResults {
  'giveaway:start': Giveaway;
  'giveaway:enter': { giveawayId: string; entered: true; via: 'rule' | 'free'; alreadyEntered: boolean };
  'giveaway:stats': { giveaways: GiveawayFigures[] };
}

export interface GiveawayServerEvents {
  'giveaway:started': (p: { giveaway: Giveaway; serverTime: number }) => void;
  /** Once per giveaway: the seed, the salt and the winners. */
  'giveaway:drawn': (p: { giveaway: Giveaway }) => void;
  /** To each winner's own connections, with the drawn announcement: where their prize hold is. */
  'giveaway:won': (p: GiveawayWin) => void;
}
