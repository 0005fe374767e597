/**
 * Buy-now, the third way a live room sells (after flash sales; auctions reuse the same path): a
 * Domain of its own, wired to the sales machinery it reuses (SaleStore's scripts and reserve
 * batcher, the shared sweeper) and to the bag, whose product edits keep each offer in step.
 */
import type { Domain, DomainDeps } from '../../core/domain.js';
import type { EventRouter } from '../../core/socket-kit.js';
import type { Product, Room, UserRef } from '../../protocol/index.js';
import { BagStore } from '../bag-store.js';
import type { ProductStockHook } from '../commerce-domain.js';
import type { SalesDomain } from '../sales/sales-domain.js';
import { BuyNowBroadcasts } from './buy-now-broadcasts.js';
import { buyNowMetrics } from './buy-now-metrics.js';
import { isOfferId, offerIdFor } from './buy-now-model.js';
import { BuyNowOffers } from './buy-now-offers.js';
import { registerBuyNowEvents } from './buy-now-socket.js';

export class BuyNowDomain implements Domain, ProductStockHook {
  readonly name = 'buy-now';
  readonly offers: BuyNowOffers;
  readonly broadcasts: BuyNowBroadcasts;
  private readonly bag: BagStore;

  constructor(
    private readonly deps: DomainDeps,
    private readonly sales: SalesDomain,
  ) {
    this.offers = new BuyNowOffers(deps.redis, sales.store, sales.queries, deps.config.BUY_NOW_HOLD_SEC * 1000);
    this.broadcasts = new BuyNowBroadcasts(deps.io, deps.redis, sales.store, deps.log);
    this.bag = new BagStore(deps.redis);
    // Holds of an offer expire in the shared sweeper: the room hears the stock as buy:stock.
    // Their waitlists are told in buy:* events, with each offer's price.
    sales.listenToLedgers({
      owns: isOfferId,
      stockChanged: (roomId, ledgerId) => this.broadcasts.stockChanged(roomId, ledgerId),
      tellWaitlist: async (roomId, offerId, pass) => {
        const prices = await this.offers.holdPrices(roomId, offerId, pass.offers.map((o) => o.holdId));
        await this.broadcasts.waitlist(roomId, offerId, pass, prices);
      },
    });
  }

  /** After the live nothing sells: a bag edited then makes no offer (one made before stays stopped). */
  async productSaved(room: Room, product: Product, stock: number | null | undefined, by: string): Promise<void> {
    if (room.status === 'ended') return;
    const units = await this.offers.sync(room.id, product, stock, by);
    if (units) this.broadcasts.stockChanged(room.id, offerIdFor(product.id));
  }

  async productRemoved(roomId: string, product: Product): Promise<void> {
    if (await this.offers.remove(roomId, product)) this.broadcasts.stockChanged(roomId, offerIdFor(product.id));
  }

  async snapshotPart(room: Room, user: UserRef | null): Promise<Record<string, unknown>> {
    return { buyNow: await this.offers.snapshot(room.id, user?.id ?? null) };
  }

  /** Nothing sells after the live: every offer stops (holds taken may still be checked out). */
  async onRoomEnded(room: Room): Promise<void> {
    await this.offers.stopAll(room.id);
  }

  registerEvents(router: EventRouter): void {
    registerBuyNowEvents(router, {
      bag: this.bag,
      store: this.sales.store,
      waitlist: this.sales.waitlist,
      offers: this.offers,
      broadcasts: this.broadcasts,
      metrics: buyNowMetrics(this.deps.metrics),
    });
  }

  async close(): Promise<void> {
    this.broadcasts.close();
  }
}
