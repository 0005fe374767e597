/**
 * Socket events of buy-now. Any signed-in viewer of the room reserves units of a bag product that
 * has stock, checks the hold out into an order (kind 'buy-now') or releases it. Each is the flash
 * sales' own script on the product's offer ledger, so a reserve is still batched per event-loop
 * turn, one Redis round trip, idempotent per requestId, rate-limited, ban-checked and limited per
 * person in the same atomic step.
 */
import { joinedRoom, requireUser, type EventRouter } from '../../core/socket-kit.js';
import { countOutcomes } from '../../core/metrics.js';
import type { BagStore } from '../bag-store.js';
import { shortenName } from '../sales/sale-model.js';
import type { SaleStore } from '../sales/sale-store.js';
import type { WaitlistStore } from '../sales/waitlist-store.js';
import type { BuyNowBroadcasts } from './buy-now-broadcasts.js';
import type { BuyNowMetrics } from './buy-now-metrics.js';
import { buyNowRefusal, buyNowWaitlistError, offerIdFor } from './buy-now-model.js';
import type { BuyNowOffers } from './buy-now-offers.js';

export interface BuyNowContext {
  bag: BagStore;
  store: SaleStore;
  waitlist: WaitlistStore;
  offers: BuyNowOffers;
  broadcasts: BuyNowBroadcasts;
  metrics: BuyNowMetrics;
}

export function registerBuyNowEvents(router: EventRouter, ctx: BuyNowContext): void {
  const { bag, store, waitlist, offers, broadcasts, metrics } = ctx;

  router.on('buy:reserve', countOutcomes(metrics.reserves, async (socket, { productId, qty, requestId }) => {
    const roomId = joinedRoom(socket);
    const user = requireUser(socket, 'buy');
    const offerId = offerIdFor(productId);
    broadcasts.know(roomId, offerId, productId);
    // The ledger decides (a retry gets its first answer even if the product changed since); the
    // product is read alongside, to explain a refusal.
    const [{ answer, fresh, swept }, product] = await Promise.all([
      store.reserve(roomId, offerId, user.id, qty, requestId),
      bag.get(roomId, productId),
    ]);
    if (swept > 0 || (fresh && answer.ok)) broadcasts.stockChanged(roomId, offerId);
    if (!answer.ok) {
      const offSale = !product || product.stock === null || product.stock === undefined;
      throw buyNowRefusal(offSale && answer.code === 'SOLD_OUT' ? { ...answer, code: 'NOT_FOUND' } : answer, 'product');
    }
    if (fresh && answer.remaining === 0) broadcasts.soldOut(roomId, offerId);
    const [price] = await offers.holdPrices(roomId, offerId, [answer.holdId]);
    return {
      holdId: answer.holdId,
      productId,
      qty: answer.qty,
      unitPrice: price!.price,
      currency: price!.currency,
      expiresAt: answer.expiresAt,
      remaining: answer.remaining,
    };
  }));

  router.on('buy:checkout', countOutcomes(metrics.checkouts, async (socket, { holdId, requestId, voucherId }) => {
    const roomId = joinedRoom(socket);
    const user = requireUser(socket, 'buy');
    const { saleId: offerId, answer, fresh, swept } = await store.checkout(roomId, user, holdId, requestId, voucherId);
    if (swept > 0) broadcasts.stockChanged(roomId, offerId);
    if (!answer.ok) throw buyNowRefusal(answer, 'hold');
    if (fresh) {
      broadcasts.bought(roomId, offerId, answer.productId, shortenName(user.name), answer.qty);
      metrics.orders.inc();
      metrics.unitsSold.inc(answer.qty);
    }
    return {
      orderId: answer.orderId,
      kind: 'buy-now' as const,
      productId: answer.productId,
      holdId: answer.holdId,
      qty: answer.qty,
      unitPrice: answer.unitPrice,
      amount: answer.amount,
      voucherId: answer.voucherId,
      discount: answer.discount,
      paid: answer.paid,
      currency: answer.currency,
      createdAt: answer.createdAt,
    };
  }));

  router.on('buy:release', countOutcomes(metrics.releases, async (socket, { holdId }) => {
    const roomId = joinedRoom(socket);
    const user = requireUser(socket, 'release holds');
    const { saleId: offerId, answer, swept } = await store.release(roomId, user.id, holdId);
    if (swept > 0 || (answer.ok && answer.released)) broadcasts.stockChanged(roomId, offerId);
    if (!answer.ok) throw buyNowRefusal(answer, 'hold');
    return { holdId, released: answer.released, remaining: answer.remaining };
  }));

  // A sold-out product's waitlist: the flash sales' own (sales/waitlist-lua.ts) on the product's
  // offer ledger, keyed by product for the client. A product off sale (no stock) has none.
  router.on('buy:waitlist', async (socket, { productId, action }) => {
    const roomId = joinedRoom(socket);
    const user = requireUser(socket, 'join waitlists');
    const offerId = offerIdFor(productId);
    broadcasts.know(roomId, offerId, productId);
    const { position, length, ticket } = await waitlist.waitlist(roomId, offerId, user.id, action).catch((err: unknown) => {
      throw buyNowWaitlistError(err);
    });
    return { productId, position, length, ticket };
  });
}
