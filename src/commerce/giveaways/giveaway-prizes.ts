/**
 * Giveaway prizes through the order path: each winner gets a one-unit sale at price 0 already held
 * by them (SaleStore.award, as an auction's winner does), so the prize is claimed with the normal
 * `sale:checkout` into an order of kind 'giveaway' — in the orders stream and the webhook like any
 * order, for the merchant to ship. Also what became of the prizes: the joining winner's holds and
 * the host's figures.
 *
 * The prize's one-unit sale: productId = the bag product (its title, image and currency as they
 * are at the draw), or for a text prize productId '' with the text as its title and currency 'XXX'
 * (ISO 4217 "no currency": the amount is 0 either way).
 */
import type { Giveaway, GiveawayFigures, GiveawayPrizeHold, Product } from '../../protocol/index.js';
import type { BagStore } from '../bag-store.js';
import type { HoldRecord } from '../sales/sale-model.js';
import type { SaleQueries } from '../sales/sale-queries.js';
import type { SaleStore } from '../sales/sale-store.js';
import type { GiveawayAward, GiveawayStore } from './giveaway-store.js';

export interface SalesDesk {
  store: SaleStore;
  queries: SaleQueries;
}

/** The currency of a prize that is not a bag product (amount 0): ISO 4217's "no currency". */
export const NO_CURRENCY = 'XXX';

/** The award's requestId: one prize hold per giveaway and winner, whichever node gives it. */
export const prizeRequestId = (giveawayId: string, userId: string): string => `g|${giveawayId}|${userId}`;

export class GiveawayPrizes {
  constructor(
    private readonly sales: SalesDesk,
    private readonly bag: BagStore,
    private readonly store: GiveawayStore,
    private readonly holdSec: number,
  ) {}

  /** One zero-price hold per winner; a repeat (another node, a retry) replays the same holds. */
  async award(giveaway: Giveaway, hostId: string): Promise<GiveawayAward[]> {
    const product = await this.productOf(giveaway);
    const awards: GiveawayAward[] = [];
    // One winner after the other: at most GIVEAWAY_WINNERS_MAX, a few round trips each.
    for (const w of giveaway.winners) {
      const made = await this.sales.store.award(giveaway.roomId, product, {
        price: 0,
        holdSec: this.holdSec,
        userId: w.userId,
        by: hostId,
        requestId: prizeRequestId(giveaway.id, w.userId),
        kind: 'giveaway',
      });
      awards.push({ userId: w.userId, ...made });
    }
    return awards;
  }

  private async productOf(giveaway: Giveaway): Promise<Product> {
    const prize = giveaway.prize;
    if (prize.kind === 'product') {
      const inBag = await this.bag.get(giveaway.roomId, prize.productId);
      if (inBag) return inBag;
      // Removed from the bag since the start: the prize is still owed, under its title.
      return { id: prize.productId, title: prize.title, imageUrl: null, price: 0, currency: NO_CURRENCY, merchant: null, brand: null };
    }
    return { id: '', title: prize.text, imageUrl: null, price: 0, currency: NO_CURRENCY, merchant: null, brand: null };
  }

  /** The user's prizes among these giveaways, with their state now. */
  async prizesOf(roomId: string, userId: string, giveaways: Giveaway[]): Promise<GiveawayPrizeHold[]> {
    const drawn = giveaways.filter((g) => g.status === 'drawn' && g.winners.some((w) => w.userId === userId));
    const awards = await this.store.awards(roomId, drawn.map((g) => g.id));
    const mine = drawn.flatMap((g) => (awards.get(g.id) ?? []).filter((a) => a.userId === userId).map((a) => ({ g, a })));
    const records = await this.sales.queries.holds(roomId, mine.map(({ a }) => a.holdId));
    const now = this.sales.store.now();
    return mine.map(({ g, a }, i) => ({
      giveawayId: g.id,
      prize: g.prize,
      saleId: a.saleId,
      holdId: a.holdId,
      expiresAt: a.expiresAt,
      state: stateOf(records[i] ?? null, now),
      orderId: records[i]?.state === 'sold' ? records[i]!.orderId : null,
    }));
  }

  /** Each giveaway's entries by route, winners and what became of their prizes. */
  async figures(roomId: string, giveaways: Giveaway[]): Promise<GiveawayFigures[]> {
    const awards = await this.store.awards(roomId, giveaways.map((g) => g.id));
    const counts = await Promise.all(giveaways.map((g) => this.store.entryCounts(roomId, g.id)));
    const all = giveaways.flatMap((g) => awards.get(g.id) ?? []);
    const records = await this.sales.queries.holds(roomId, all.map((a) => a.holdId));
    const stateByHold = new Map(all.map((a, i) => [a.holdId, stateOf(records[i] ?? null, this.sales.store.now())]));
    return giveaways.map((g, i) => {
      const prizes = awards.get(g.id) ?? [];
      const count = (state: GiveawayPrizeHold['state']) => prizes.filter((a) => stateByHold.get(a.holdId) === state).length;
      const { entries, free } = counts[i]!;
      return {
        giveawayId: g.id,
        prize: g.prize,
        rule: g.rule,
        status: g.status,
        endsAt: g.endsAt,
        entries,
        entriesByRule: entries - free,
        entriesFree: free,
        winners: g.winners.length,
        prizesAwarded: prizes.length,
        prizesClaimed: count('claimed'),
        prizesExpired: count('expired'),
      };
    });
  }
}

/** A prize hold's state for people: held until it expires (the sweeper may not have run yet). */
function stateOf(record: HoldRecord | null, now: number): GiveawayPrizeHold['state'] {
  if (record?.state === 'sold') return 'claimed';
  if (record?.state === 'held' && record.expiresAt > now) return 'held';
  return 'expired';
}
