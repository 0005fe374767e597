/**
 * Socket events of flash sales. The host starts, stops and restocks; any signed-in viewer of the
 * room reserves, checks out and releases. Reserve, checkout and release are one script each and
 * read nothing else first, so the hot path is a single Redis round trip.
 */
import type { RoomDirectory } from '../../core/domain.js';
import { AppError, notFound } from '../../core/errors.js';
import { requireRole } from '../../core/roles.js';
import { joinedRoom, requireUser, type EventRouter, type LiveSocket } from '../../core/socket-kit.js';
import type { BagStore } from '../bag-store.js';
import type { SaleBroadcasts } from './sale-broadcasts.js';
import { refusalError, shortenName } from './sale-model.js';
import type { SaleQueries } from './sale-queries.js';
import type { SaleStore } from './sale-store.js';
import type { WaitlistStore } from './waitlist-store.js';
import { countOrder, type SalesMetrics } from './sales-metrics.js';
import { countOutcomes } from '../../core/metrics.js';

export interface SalesContext {
  rooms: RoomDirectory;
  bag: BagStore;
  store: SaleStore;
  queries: SaleQueries;
  broadcasts: SaleBroadcasts;
  waitlist: WaitlistStore;
  metrics: SalesMetrics;
}

export function registerSaleEvents(router: EventRouter, ctx: SalesContext): void {
  const { rooms, bag, store, queries, broadcasts, waitlist, metrics } = ctx;

  /** The socket's room, after checking the caller may manage its sales. */
  async function hostRoom(socket: LiveSocket, action: string) {
    const roomId = joinedRoom(socket);
    const room = await rooms.require(roomId);
    const user = requireUser(socket, action);
    requireRole(room, user, 'host', action);
    return { room, user };
  }

  router.on('sale:start', async (socket, input) => {
    const { room, user } = await hostRoom(socket, 'start flash sales');
    if (room.status !== 'live') throw new AppError('ROOM_NOT_LIVE', 'go live before starting a flash sale');
    const product = await bag.get(room.id, input.productId);
    if (!product) throw notFound('product');
    const { sale, fresh } = await store.create(room.id, product, input, user.id);
    // A retry announces again: the first call may have made the sale in a Redis that froze
    // before answering, so nobody was told (clients keep one entry per sale id).
    if (fresh || sale.status !== 'ended') broadcasts.started(sale, store.now());
    if (fresh) metrics.started.inc();
    return sale;
  });

  router.on('sale:stop', async (socket, { saleId }) => {
    const { room } = await hostRoom(socket, 'stop flash sales');
    const sale = await store.stop(room.id, saleId);
    broadcasts.ended(room.id, saleId, 'stopped', sale.sold);
    broadcasts.stockChanged(room.id, saleId);
    return sale;
  });

  router.on('sale:restock', async (socket, { saleId, quantity, requestId }) => {
    const { room, user } = await hostRoom(socket, 'restock flash sales');
    const stock = await store.restock(room.id, saleId, quantity, { by: user.id, requestId });
    // Also after a replay: stock frames repeat nothing the room was already told (STOCK_FRAME_SCRIPT).
    broadcasts.stockChanged(room.id, saleId);
    return stock;
  });

  // The rush path, thousands of taps a second: one promise step after the batch's answer, and a
  // refusal thrown as the shared error of a shared answer (sale-model.ts, reserveRefusal).
  router.on('sale:reserve', countOutcomes(metrics.reserves, (socket, { saleId, qty, requestId }) => {
    const roomId = joinedRoom(socket);
    const user = requireUser(socket, 'reserve');
    return store.reserve(roomId, saleId, user.id, qty, requestId).then(({ answer, fresh, swept }) => {
      if (swept > 0 || (fresh && answer.ok)) broadcasts.stockChanged(roomId, saleId);
      if (!answer.ok) throw refusalError(answer, 'sale');
      if (fresh && answer.remaining === 0) broadcasts.soldOut(roomId, saleId);
      const { ok: _ok, ...hold } = answer;
      return hold;
    });
  }));

  router.on('sale:checkout', countOutcomes(metrics.checkouts, async (socket, { holdId, requestId, voucherId }) => {
    const roomId = joinedRoom(socket);
    const user = requireUser(socket, 'check out');
    const { saleId, answer, fresh, swept } = await store.checkout(roomId, user, holdId, requestId, voucherId);
    if (swept > 0) broadcasts.stockChanged(roomId, saleId);
    if (!answer.ok) throw refusalError(answer, 'hold');
    // A giveaway prize claimed (amount 0, kind 'giveaway') is not a purchase to show off to the room.
    const prize = answer.amount === 0 && (await queries.kindOf(roomId, saleId)) === 'giveaway';
    if (fresh && !prize) broadcasts.bought(roomId, saleId, shortenName(user.name), answer.qty);
    if (fresh) countOrder(metrics, answer.qty);
    const { ok: _ok, ...order } = answer;
    return order;
  }));

  router.on('sale:release', countOutcomes(metrics.releases, async (socket, { holdId }) => {
    const roomId = joinedRoom(socket);
    const user = requireUser(socket, 'release holds');
    const { saleId, answer, swept } = await store.release(roomId, user.id, holdId);
    if (swept > 0) broadcasts.stockChanged(roomId, saleId);
    if (!answer.ok) throw refusalError(answer, 'hold');
    return { holdId, released: answer.released, remaining: answer.remaining };
  }));

  // A sold-out sale's waitlist (waitlist-lua.ts): the ack says where the user stands; the
  // positions pass tells them (and the room the length) as the line moves.
  router.on('sale:waitlist', async (socket, { saleId, action }) => {
    const roomId = joinedRoom(socket);
    const user = requireUser(socket, 'join waitlists');
    const { position, length, ticket } = await waitlist.waitlist(roomId, saleId, user.id, action);
    return { saleId, position, length, ticket };
  });

  router.on('sale:stats', async (socket) => {
    const roomId = joinedRoom(socket);
    requireRole(await rooms.require(roomId), socket.data.user, 'moderator', 'see sales figures');
    return queries.figures(roomId);
  });
}
