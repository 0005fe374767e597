/**
 * What the room hears about its sales. Stock levels are coalesced cluster-wide to one frame per
 * 200 ms per sale (ClusterThrottle), because thousands of reserves a second must not become
 * thousands of broadcasts to thousands of viewers; sold-out, start and end go out at once.
 * Staff get the live figures at most once a second.
 *
 * Every frame is a write to every viewer's socket, the largest cost of a rush, so frames are
 * also trailing-edge (the first change waits one interval, and the frame then carries the
 * rush's stock rather than a number stale a millisecond later) and skipped when they would
 * only repeat what the room was last told (STOCK_FRAME_SCRIPT).
 */
import type { RedisClient } from '../../core/redis-client.js';
import type { FlashSale, SaleEndReason } from '../../protocol/index.js';
import { roomChannel, roomKey, staffChannel } from '../../core/keys.js';
import type { Logger } from '../../core/logger.js';
import type { LiveServer } from '../../core/socket-kit.js';
import { ClusterThrottle } from '../../core/throttle.js';
import { parseSaleRef, saleRef } from './sale-keys.js';
import type { SaleQueries } from './sale-queries.js';
import type { SaleStore } from './sale-store.js';

export const STOCK_BROADCAST_MS = 200;
export const STATS_BROADCAST_MS = 1000;

export class SaleBroadcasts {
  private readonly stock: ClusterThrottle;
  private readonly stats: ClusterThrottle;
  /** Sales with a change waiting out its first interval on this node. */
  private readonly delayed = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly io: LiveServer,
    redis: RedisClient,
    private readonly store: SaleStore,
    queries: SaleQueries,
    private readonly log: Logger,
  ) {
    this.stock = new ClusterThrottle(
      redis,
      (ref) => {
        const { roomId, saleId } = parseSaleRef(ref)!;
        return roomKey(roomId, `throttle:sale:${saleId}`);
      },
      STOCK_BROADCAST_MS,
      async (ref) => {
        const { roomId, saleId } = parseSaleRef(ref)!;
        const stock = await store.stockFrame(roomId, saleId);
        if (stock) io.to(roomChannel(roomId)).emit('sale:stock', stock);
      },
      log,
    );
    this.stats = new ClusterThrottle(
      redis,
      (roomId) => roomKey(roomId, 'throttle:sale-stats'),
      STATS_BROADCAST_MS,
      async (roomId) => {
        io.to(staffChannel(roomId)).emit('sale:stats', await queries.figures(roomId));
      },
      log,
    );
  }

  stockChanged(roomId: string, saleId: string): void {
    const ref = saleRef(roomId, saleId);
    if (this.delayed.has(ref)) return;
    const timer = setTimeout(() => {
      this.delayed.delete(ref);
      this.stock.mark(ref);
    }, STOCK_BROADCAST_MS);
    timer.unref();
    this.delayed.set(ref, timer);
  }

  statsChanged(roomId: string): void {
    this.stats.mark(roomId);
  }

  /** The last available unit was just taken: tell the room now, with the stock, not at the next
   * stock frame (one Redis read first, which also records it as the room's last frame). */
  soldOut(roomId: string, saleId: string): void {
    this.store.soldOutFrame(roomId, saleId).then(
      (stock) => stock && this.io.to(roomChannel(roomId)).emit('sale:sold-out', stock),
      (err: unknown) => this.log.warn({ err }, 'sold-out announcement failed'),
    );
  }

  started(sale: FlashSale, serverTime: number): void {
    this.io.to(roomChannel(sale.roomId)).emit('sale:started', { sale, serverTime });
    this.statsChanged(sale.roomId);
  }

  /** The countdown finished: the sale takes reservations now. */
  opened(roomId: string, saleId: string): void {
    this.io.to(roomChannel(roomId)).emit('sale:opened', { saleId });
  }

  ended(roomId: string, saleId: string, reason: SaleEndReason, sold: number): void {
    this.io.to(roomChannel(roomId)).emit('sale:ended', { saleId, reason, sold });
    this.statsChanged(roomId);
  }

  /** "Someone just bought", with the name already shortened. */
  bought(roomId: string, saleId: string, name: string, qty: number): void {
    this.io.to(roomChannel(roomId)).emit('sale:bought', { saleId, name, qty });
    this.stockChanged(roomId, saleId);
    this.statsChanged(roomId);
  }

  close(): void {
    for (const timer of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.stock.close();
    this.stats.close();
  }
}
