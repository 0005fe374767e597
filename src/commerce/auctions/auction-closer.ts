/**
 * Closes lots on time and follows each winner's hold to the end. Every node runs it: each tick
 * claims the lots due (AUCTION_DUE, scored by the lot's end and then its hold's expiry), leasing
 * each for DUE_LEASE_MS so nodes do not repeat each other, and runs the lot's ADVANCE_SCRIPT,
 * which records the close exactly once whichever node's timer gets there first. Bids are refused
 * by Redis's clock from endsAt on whether or not a closer has run yet; the close records it and
 * hands the winner their hold.
 *
 * The winner's hold is a one-unit sale of the flash-sale machinery (SaleStore.award): checkout,
 * expiry, the orders stream and the ledger are the sales' own. A closer that dies between the
 * close and the award leaves the lot in phase `award` and due again after its lease: the next
 * closer awards it, and the award is idempotent per lot (a racing second award replays the first).
 */
import type { Logger } from '../../core/logger.js';
import { PeriodicPass } from '../../core/periodic-pass.js';
import type { Product } from '../../protocol/index.js';
import type { SaleQueries } from '../sales/sale-queries.js';
import type { SaleStore } from '../sales/sale-store.js';
import type { AuctionBroadcasts } from './auction-broadcasts.js';
import { parseLotRef } from './auction-keys.js';
import type { AuctionStore } from './auction-store.js';
import type { AuctionsMetrics } from './auctions-metrics.js';

/** Lots one node handles per tick at most. */
export const CLOSE_CLAIM_MAX = 100;

export interface SalesDesk {
  store: SaleStore;
  queries: SaleQueries;
}

export class AuctionCloser {
  private readonly periodic: PeriodicPass;

  constructor(
    private readonly store: AuctionStore,
    private readonly sales: SalesDesk,
    private readonly broadcasts: AuctionBroadcasts,
    private readonly metrics: AuctionsMetrics,
    intervalMs: number,
    private readonly log: Logger,
  ) {
    this.periodic = new PeriodicPass(() => this.pass(), intervalMs, log, 'auction close pass');
  }

  /** One pass over what is due now (tests call it directly); a slow pass is never overlapped. */
  tick(): Promise<void> {
    return this.periodic.run();
  }

  private async pass(): Promise<void> {
    const refs = await this.store.claimDue(CLOSE_CLAIM_MAX);
    await Promise.all(refs.map((ref) => this.advanceRef(ref)));
  }

  private async advanceRef(ref: string): Promise<void> {
    const lot = parseLotRef(ref);
    if (!lot) return;
    try {
      await this.advance(lot.roomId, lot.lotId);
    } catch (err) {
      // Left at its lease: another pass (here or on another node) tries again.
      this.log.warn({ err, ref }, 'auction close failed; retrying after the lease');
    }
  }

  /** One step of a lot's life after bidding: close, award, settle, retire. */
  async advance(roomId: string, lotId: string): Promise<void> {
    const r = await this.store.advance(roomId, lotId);
    if (r.justClosed) {
      await this.broadcasts.now(roomId, lotId);
      if (r.phase !== 'award') this.metrics.ended.inc({ status: 'unsold' });
    }
    switch (r.phase) {
      case 'gone':
      case 'done':
        return this.store.reschedule(roomId, lotId, null);
      case 'open':
        return this.store.reschedule(roomId, lotId, r.due);
      case 'award':
        return this.store.reschedule(roomId, lotId, (await this.award(roomId, lotId)).expiresAt);
      case 'holding': {
        const due = await this.settleFromHold(roomId, lotId);
        return this.store.reschedule(roomId, lotId, due);
      }
    }
  }

  /** The winner's hold at the winning price (idempotent per lot), recorded on the lot, announced to the winner. */
  async award(roomId: string, lotId: string): Promise<{ holdId: string; expiresAt: number }> {
    const rec = await this.store.require(roomId, lotId);
    const winner = rec.leaderId!;
    const { lot } = rec;
    const product: Product = { id: lot.productId, title: lot.title, imageUrl: lot.imageUrl, price: lot.listPrice, currency: lot.currency, merchant: null, brand: null };
    const made = await this.sales.store.award(roomId, product, { price: lot.price, holdSec: lot.holdSec, userId: winner, by: rec.hostId, requestId: lotId });
    const recorded = await this.store.recordAward(roomId, lotId, made);
    this.broadcasts.won(winner, { lotId, saleId: recorded.saleId, holdId: recorded.holdId, price: lot.price, currency: lot.currency, expiresAt: recorded.expiresAt });
    return recorded;
  }

  /** What became of the winner's hold, recorded on the lot; the next due time while it is still held. */
  async settleFromHold(roomId: string, lotId: string): Promise<number | null> {
    const rec = await this.store.require(roomId, lotId);
    if (!rec.holdId || rec.holdExpiresAt === null) return null;
    const hold = await this.sales.queries.hold(roomId, rec.holdId);
    const r = await this.store.settle(roomId, lotId, { state: hold?.state ?? 'missing', orderId: hold?.orderId ?? '', expiresAt: rec.holdExpiresAt });
    if (r.settled) {
      this.metrics.ended.inc({ status: r.status });
      await this.broadcasts.now(roomId, lotId);
    }
    return r.waitUntil;
  }

  close(): void {
    this.periodic.stop();
  }
}
