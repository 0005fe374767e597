/**
 * A room's buy-now offers: one standing ledger per bag product that has (or had) stock, kept in
 * step with the bag when the host adds, edits or removes a product, and read for the join
 * snapshot. Units move only through the sale scripts (SaleStore), never here.
 */
import type { RedisClient } from '../../core/redis-client.js';
import { roomKey } from '../../core/keys.js';
import { AppError } from '../../core/errors.js';
import { BUY_NOW_DEFAULT_LIMIT, type BuyNowHold, type BuyNowSnapshot, type BuyNowStock, type Product } from '../../protocol/index.js';
import { saleKeys } from '../sales/sale-keys.js';
import type { SaleQueries } from '../sales/sale-queries.js';
import type { SaleStore } from '../sales/sale-store.js';
import { StandingLedgers, type LedgerUnits } from '../sales/standing-ledger.js';
import { offerIdFor } from './buy-now-model.js';

/** Set of the room's offer (ledger) ids. */
export const roomOffersKey = (roomId: string): string => roomKey(roomId, 'buy-now:offers');

export class BuyNowOffers {
  private readonly ledgers: StandingLedgers;

  constructor(
    private readonly redis: RedisClient,
    private readonly store: SaleStore,
    private readonly queries: SaleQueries,
    private readonly holdMs: number,
  ) {
    this.ledgers = new StandingLedgers(redis, store);
  }

  /**
   * After the host saved a product. `stock` as sent: a number sets the units available now, null
   * takes the product off sale (0 available; holds already taken can still be checked out),
   * undefined keeps the units (a price edit still reaches the ledger). Null means nothing is
   * written when there is no ledger yet. Returns the units, or null when there is no offer.
   */
  async sync(roomId: string, product: Product, stock: number | null | undefined, by: string): Promise<LedgerUnits | null> {
    const offerId = offerIdFor(product.id);
    if (stock === null || stock === undefined) {
      if (!(await this.redis.exists(saleKeys(roomId, offerId).sale))) return null;
    }
    try {
      return await this.ledgers.upsert(roomId, offerId, roomOffersKey(roomId), {
        kind: 'buy-now',
        roomId,
        productId: product.id,
        title: product.title,
        imageUrl: product.imageUrl,
        price: product.price,
        currency: product.currency,
        perUserLimit: product.perUserLimit ?? BUY_NOW_DEFAULT_LIMIT,
        holdMs: this.holdMs,
        createdBy: by,
        listed: stock === undefined ? undefined : stock !== null,
      }, stock === undefined ? null : (stock ?? 0));
    } catch (err) {
      // The live ended: its offers were stopped for good; the bag may still be edited.
      if (err instanceof AppError && err.code === 'SALE_ENDED') return null;
      throw err;
    }
  }

  /** Offers of products that left the bag sell nothing more (their holds may still be checked out). */
  async remove(roomId: string, product: Product): Promise<boolean> {
    return (await this.sync(roomId, product, null, '')) !== null;
  }

  async offerIds(roomId: string): Promise<string[]> {
    return this.redis.smembers(roomOffersKey(roomId));
  }

  /** Stops every offer of the room (the live ended); SALE_ENDED for one already stopped. */
  async stopAll(roomId: string): Promise<string[]> {
    const stopped: string[] = [];
    for (const offerId of await this.offerIds(roomId)) {
      try {
        await this.store.stop(roomId, offerId, 'room-ended');
        stopped.push(offerId);
      } catch (err) {
        if (!(err instanceof AppError && (err.code === 'SALE_ENDED' || err.code === 'NOT_FOUND'))) throw err;
      }
    }
    return stopped;
  }

  /** Stock of every product on sale, and the user's unexpired buy-now holds (of any offer). */
  async snapshot(roomId: string, userId: string | null): Promise<BuyNowSnapshot> {
    const offerIds = await this.offerIds(roomId);
    if (offerIds.length === 0) return { stock: [], myHolds: [], myWaitlist: [] };
    const pipe = this.redis.pipeline();
    for (const id of offerIds) pipe.hmget(saleKeys(roomId, id).sale, 'productId', 'available', 'held', 'sold', 'ended', 'listed', 'offered');
    const rows = ((await pipe.exec()) ?? []).map(([err, v]) => {
      if (err) throw err;
      return v as (string | null)[];
    });
    const productOf = new Map<string, string>();
    const stock: BuyNowStock[] = [];
    rows.forEach((r, i) => {
      if (!r[0]) return; // retired and expired
      productOf.set(offerIds[i]!, r[0]);
      // Products taken off sale (stock null, removed from the bag) and stopped offers are not listed.
      // Waitlist offers count as held, as in the buy:stock frames.
      if (r[4] !== '1' && r[5] !== '0') stock.push({ productId: r[0], available: Number(r[1]), held: Number(r[2]) + Number(r[6] ?? 0), sold: Number(r[3]) });
    });
    const holds = userId ? await this.queries.holdsOf(roomId, userId, [...productOf.keys()]) : [];
    const myHolds: BuyNowHold[] = [];
    for (const offerId of new Set(holds.map((h) => h.saleId))) {
      const mine = holds.filter((h) => h.saleId === offerId);
      const prices = await this.holdPrices(roomId, offerId, mine.map((h) => h.holdId));
      mine.forEach((h, i) => myHolds.push({
        holdId: h.holdId, productId: productOf.get(offerId)!, qty: h.qty, unitPrice: prices[i]!.price, currency: prices[i]!.currency, expiresAt: h.expiresAt,
        ...(h.offer ? { offer: true as const } : {}),
      }));
    }
    myHolds.sort((a, b) => a.expiresAt - b.expiresAt);
    const places = userId ? await this.queries.waitlistPlaces(roomId, userId, [...productOf.keys()]) : [];
    return { stock, myHolds, myWaitlist: places.map(({ ledgerId, position, length }) => ({ productId: productOf.get(ledgerId)!, position, length })) };
  }

  /** What checking out each hold will charge (the price when it was taken; see standing-ledger.ts). */
  holdPrices(roomId: string, offerId: string, holdIds: string[]): Promise<{ price: number; currency: string }[]> {
    return this.ledgers.holdPrices(roomId, offerId, holdIds);
  }
}
