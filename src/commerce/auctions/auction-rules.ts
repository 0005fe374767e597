/**
 * The rules of a lot, as plain TypeScript: which bid is valid, who leads, what the visible price
 * is, when a late bid moves the end. No I/O. The bid script (auction-scripts.ts, BID_SCRIPT)
 * mirrors this function for function; the property test (test/auctions-model.test.ts) runs random
 * interleavings through both and compares every answer, and the benchmark and the two-process
 * test replay a lot's recorded history through `replayHistory` to check the final price.
 *
 * Why only the leader's maximum is state: every bidder who is not leading was beaten, and a
 * beaten maximum is at most the price (a maximum tied with the leader's loses and sets the price
 * to it; a lower one sets the price above it). So it can never matter again, and the lot is
 * (price, leader, leader's maximum, bid count) whatever the number of bidders.
 */
import { DEFAULT_INCREMENTS, type AuctionMode, type IncrementBand } from '../../protocol/index.js';

export interface LotRules {
  startPrice: number;
  increments: readonly IncrementBand[];
  mode: AuctionMode;
  extendMs: number;
}

export interface LotState {
  price: number;
  /** null before the first bid. */
  leader: string | null;
  /** The leader's maximum (equal to the price after a plain bid). Never shown to anyone. */
  leaderMax: number;
  bidCount: number;
  endsAt: number;
}

export interface Bid {
  user: string;
  amount: number;
  /** true: a maximum the server bids up to for this user. */
  max: boolean;
}

export type BidRefusal = 'BID_TOO_LOW' | 'ALREADY_LEADING' | 'AUCTION_ENDED';

export type BidDecision =
  | { ok: true; state: LotState; leading: boolean; extended: boolean; previousLeader: string | null }
  | { ok: false; code: BidRefusal; min: number };

/** The step of the band `price` falls in (bands sorted by `from`, the first from 0). */
export function incrementAt(bands: readonly IncrementBand[], price: number): number {
  let step = bands[0]!.step;
  for (const band of bands) {
    if (price >= band.from) step = band.step;
    else break;
  }
  return step;
}

/** The lowest bid a non-leader may place now: the start price, then price + one increment. */
export function minNextBid(rules: LotRules, s: LotState): number {
  return s.leader === null ? rules.startPrice : s.price + incrementAt(rules.increments, s.price);
}

/**
 * Decides one bid at `now` (Redis's clock in the script). A bid is refused when the lot is over
 * (now ≥ endsAt), below the minimum, or a plain bid by the leader (nobody outbids themself; the
 * leader may raise their maximum). Ties between maximums go to the earlier one, which is the
 * leader's, because the leader's maximum was placed first.
 */
export function decideBid(rules: LotRules, s: LotState, bid: Bid, now: number): BidDecision {
  const min = minNextBid(rules, s);
  if (now >= s.endsAt) return { ok: false, code: 'AUCTION_ENDED', min };
  const inc = (p: number) => incrementAt(rules.increments, p);
  let next: LotState;
  if (s.leader === null) {
    if (bid.amount < min) return { ok: false, code: 'BID_TOO_LOW', min };
    // Alone, a maximum bids the start price; a plain bid is exactly its amount.
    next = { ...s, leader: bid.user, leaderMax: bid.amount, price: bid.max ? rules.startPrice : bid.amount };
  } else if (bid.user === s.leader) {
    if (!bid.max) return { ok: false, code: 'ALREADY_LEADING', min };
    // Raising one's own maximum moves nothing visible.
    const raiseMin = Math.max(min, s.leaderMax + 1);
    if (bid.amount < raiseMin) return { ok: false, code: 'BID_TOO_LOW', min: raiseMin };
    next = { ...s, leaderMax: bid.amount };
  } else {
    if (bid.amount < min) return { ok: false, code: 'BID_TOO_LOW', min };
    if (bid.amount > s.leaderMax) {
      // The new bidder leads. A plain bid sets the price to itself; a maximum only to one increment
      // above the beaten maximum (at least the minimum, in case a band's step shrinks), capped at itself.
      const price = bid.max ? Math.min(bid.amount, Math.max(min, s.leaderMax + inc(s.leaderMax))) : bid.amount;
      next = { ...s, leader: bid.user, leaderMax: bid.amount, price };
    } else {
      // The leader's maximum answers: one increment above the bid, capped at that maximum (a tie
      // leaves the price at the maximum and the earlier bidder leading).
      next = { ...s, price: Math.min(s.leaderMax, bid.amount + inc(bid.amount)) };
    }
  }
  next.bidCount = s.bidCount + 1;
  let extended = false;
  if (rules.mode === 'extend' && s.endsAt - now < rules.extendMs) {
    next.endsAt = now + rules.extendMs;
    extended = true;
  }
  return { ok: true, state: next, leading: next.leader === bid.user, extended, previousLeader: s.leader };
}

export function openingState(rules: LotRules, endsAt: number): LotState {
  return { price: rules.startPrice, leader: null, leaderMax: 0, bidCount: 0, endsAt };
}

export interface HistoryEntry extends Bid {
  seq: number;
  at: number;
  /** The visible price and leader the script recorded after this bid. */
  price: number;
  leader: string;
}

/**
 * The lot's state recomputed from its accepted bids alone, each re-decided by the rules at the
 * time it was accepted. Throws if the history holds a bid the rules would have refused.
 */
export function replayHistory(rules: LotRules, entries: readonly HistoryEntry[], firstEndsAt: number): LotState {
  let s = openingState(rules, firstEndsAt);
  for (const e of entries) {
    const d = decideBid(rules, s, e, e.at);
    if (!d.ok) throw new Error(`bid #${e.seq} by ${e.user} (${e.amount}) would be refused: ${d.code}`);
    s = d.state;
  }
  return s;
}

export const defaultIncrements = (): IncrementBand[] => DEFAULT_INCREMENTS.map((b) => ({ ...b }));

/** `from:step,from:step`: how the lot hash stores its table, for the script to parse. */
export const encodeIncrements = (bands: readonly IncrementBand[]): string => bands.map((b) => `${b.from}:${b.step}`).join(',');

export function decodeIncrements(text: string): IncrementBand[] {
  return text.split(',').map((pair) => {
    const [from, step] = pair.split(':').map(Number);
    return { from: from!, step: step! };
  });
}
