/**
 * Live auctions, part of the commerce domain: a Domain of its own so it can be wired, tested and
 * closed on its own. It sells through the flash sales' hold and checkout machinery (the winner's
 * hold is a one-unit sale, SaleStore.award), so it is given the sales store and queries.
 */
import type { Room, UserRef } from '../../protocol/index.js';
import type { Domain, DomainDeps } from '../../core/domain.js';
import type { EventRouter } from '../../core/socket-kit.js';
import { BagStore } from '../bag-store.js';
import { AuctionBroadcasts } from './auction-broadcasts.js';
import { AuctionCloser, type SalesDesk } from './auction-closer.js';
import { AuctionStore } from './auction-store.js';
import { auctionsMetrics, type AuctionsMetrics } from './auctions-metrics.js';
import { registerAuctionEvents } from './auctions-socket.js';

export class AuctionsDomain implements Domain {
  readonly name = 'auctions';
  readonly store: AuctionStore;
  readonly broadcasts: AuctionBroadcasts;
  readonly closer: AuctionCloser;
  private readonly metrics: AuctionsMetrics;
  private readonly bag: BagStore;

  constructor(
    private readonly deps: DomainDeps,
    private readonly sales: SalesDesk,
  ) {
    const { redis, config, io, log } = deps;
    this.store = new AuctionStore(redis, {
      bidsPerSecond: config.AUCTION_BID_RATE_PER_SEC,
      mutedMayBid: config.AUCTION_MUTED_MAY_BID,
      maxBidsPerLot: config.AUCTION_MAX_BIDS_PER_LOT,
      log,
    });
    this.metrics = auctionsMetrics(deps.metrics);
    this.broadcasts = new AuctionBroadcasts(io, redis, this.store, log);
    this.closer = new AuctionCloser(this.store, sales, this.broadcasts, this.metrics, config.AUCTION_CLOSE_TICK_MS, log);
    this.bag = new BagStore(redis);
  }

  async snapshotPart(room: Room, user: UserRef | null): Promise<Record<string, unknown>> {
    const rec = await this.store.current(room.id);
    const mine = rec && user && rec.leaderId === user.id && rec.lot.status === 'awaiting-payment' && rec.holdId && rec.saleId;
    return {
      auctions: {
        current: rec?.lot ?? null,
        myWin: mine
          ? { lotId: rec.lot.lotId, saleId: rec.saleId!, holdId: rec.holdId!, price: rec.lot.price, currency: rec.lot.currency, expiresAt: rec.holdExpiresAt! }
          : null,
      },
    };
  }

  /** Ending the live ends its running lot: cancelled (reason room-ended), audited as the host's. */
  async onRoomEnded(room: Room): Promise<void> {
    const rec = await this.store.current(room.id);
    if (!rec || rec.lot.status !== 'open') return;
    try {
      await this.store.cancel(room.id, rec.lot.lotId, 'room-ended', { id: room.hostId, name: room.hostName });
    } catch (err) {
      // Closed by the clock a moment ago: the closer awards it as usual.
      if ((err as { code?: string }).code !== 'AUCTION_ENDED') throw err;
      return;
    }
    this.metrics.ended.inc({ status: 'cancelled' });
    await this.broadcasts.now(room.id, rec.lot.lotId);
  }

  registerEvents(router: EventRouter): void {
    registerAuctionEvents(router, {
      rooms: this.deps.rooms,
      bag: this.bag,
      store: this.store,
      sales: this.sales,
      closer: this.closer,
      broadcasts: this.broadcasts,
      metrics: this.metrics,
    });
  }

  async close(): Promise<void> {
    this.closer.close();
    this.broadcasts.close();
    this.store.close();
  }
}
