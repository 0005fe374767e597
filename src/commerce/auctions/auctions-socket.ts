/**
 * Socket events of auctions. The host starts a lot; host and moderators cancel it and read its
 * bids; any signed-in viewer but the host bids; the winner checks out. A bid is one script and
 * reads nothing else first, so the hot path is a single Redis round trip.
 */
import type { RoomDirectory } from '../../core/domain.js';
import { AppError, notFound } from '../../core/errors.js';
import { countOutcomes } from '../../core/metrics.js';
import { requireRole } from '../../core/roles.js';
import { joinedRoom, requireUser, type EventRouter } from '../../core/socket-kit.js';
import type { BagStore } from '../bag-store.js';
import { refusalError } from '../sales/sale-model.js';
import type { AuctionBroadcasts } from './auction-broadcasts.js';
import type { AuctionCloser, SalesDesk } from './auction-closer.js';
import { bidEntryOf, bidRefusal } from './auction-model.js';
import type { AuctionStore } from './auction-store.js';
import type { AuctionsMetrics } from './auctions-metrics.js';

export interface AuctionsContext {
  rooms: RoomDirectory;
  bag: BagStore;
  store: AuctionStore;
  sales: SalesDesk;
  closer: AuctionCloser;
  broadcasts: AuctionBroadcasts;
  metrics: AuctionsMetrics;
}

export function registerAuctionEvents(router: EventRouter, ctx: AuctionsContext): void {
  const { rooms, bag, store, sales, closer, broadcasts, metrics } = ctx;

  router.on('auction:start', async (socket, input) => {
    const roomId = joinedRoom(socket);
    const room = await rooms.require(roomId);
    const user = requireUser(socket, 'start auctions');
    requireRole(room, user, 'host', 'start auctions');
    if (room.status !== 'live') throw new AppError('ROOM_NOT_LIVE', 'go live before starting an auction');
    const product = await bag.get(roomId, input.productId);
    if (!product) throw notFound('product');
    const { lot, fresh } = await store.start(roomId, product, input, user.id);
    // A retry announces again while the lot runs: the first call's answer may have been lost.
    if (fresh || lot.status === 'open') broadcasts.started(lot, store.now());
    if (fresh) metrics.started.inc();
    return lot;
  });

  router.on('auction:cancel', async (socket, { lotId, reason }) => {
    const roomId = joinedRoom(socket);
    const user = requireUser(socket, 'cancel auctions');
    requireRole(await rooms.require(roomId), user, 'moderator', 'cancel auctions');
    await store.cancel(roomId, lotId, 'cancelled', user, reason ?? '');
    metrics.ended.inc({ status: 'cancelled' });
    await broadcasts.now(roomId, lotId);
    return (await store.require(roomId, lotId)).lot;
  });

  router.on('auction:bid', countOutcomes(metrics.bids, async (socket, { lotId, amount, requestId, max }) => {
    const roomId = joinedRoom(socket);
    const user = requireUser(socket, 'bid');
    const { answer, fresh } = await store.bid(roomId, lotId, user, amount, max, requestId);
    if (!answer.ok) throw bidRefusal(answer.code, answer.min);
    const { ok: _ok, now: _now, previousLeader, ...result } = answer;
    if (fresh) {
      if (result.extended) {
        metrics.extensions.inc();
        broadcasts.extended(roomId);
      } else broadcasts.changed(roomId);
      if (result.leading && previousLeader && previousLeader !== user.id) {
        broadcasts.outbid(previousLeader, { lotId, price: result.price, nextMin: result.nextMin });
      }
    }
    return result;
  }));

  router.on('auction:checkout', countOutcomes(metrics.checkouts, async (socket, { lotId, requestId, voucherId }) => {
    const roomId = joinedRoom(socket);
    const user = requireUser(socket, 'check out');
    let rec = await store.require(roomId, lotId);
    const won = rec.leaderId === user.id && (rec.lot.status === 'awaiting-payment' || rec.lot.status === 'sold');
    if (!won) throw new AppError('NOT_FOUND', 'you have no win on this lot to pay for');
    // Closed by the clock, but no closer has handed out the hold yet: do it now (idempotent).
    if (!rec.holdId) {
      await closer.advance(roomId, lotId);
      rec = await store.require(roomId, lotId);
      if (!rec.holdId) throw new AppError('UNAVAILABLE', 'the lot is still closing: try again in a moment');
    }
    // The flash sales' own checkout: same script, same orders stream, same ledger.
    const { answer, fresh } = await sales.store.checkout(roomId, user, rec.holdId, requestId, voucherId);
    if (!answer.ok) {
      if (answer.code === 'HOLD_EXPIRED') await closer.settleFromHold(roomId, lotId);
      throw refusalError(answer, 'hold');
    }
    if (fresh || rec.lot.status === 'awaiting-payment') await closer.settleFromHold(roomId, lotId);
    return { lotId, orderId: answer.orderId, saleId: answer.saleId, holdId: answer.holdId, amount: answer.amount,
      voucherId: answer.voucherId, discount: answer.discount, paid: answer.paid, currency: answer.currency, createdAt: answer.createdAt };
  }));

  router.on('auction:bids', async (socket, { lotId, limit }) => {
    const roomId = joinedRoom(socket);
    requireRole(await rooms.require(roomId), socket.data.user, 'moderator', 'see the bids');
    await store.require(roomId, lotId);
    return (await store.history(roomId, lotId, limit)).reverse().map(bidEntryOf);
  });
}
