/**
 * What the room hears about buy-now stock, keyed by product. The same rules as flash-sale stock
 * (sales/sale-broadcasts.ts): frames coalesced cluster-wide to one per 200 ms per product,
 * trailing-edge, skipped when they would repeat the room's last frame (the sale frame scripts,
 * on the offer's ledger); sold-out at once. The product's waitlist is told like a sale's, in
 * buy:* events keyed by product.
 */
import type { RedisClient } from '../../core/redis-client.js';
import type { Logger } from '../../core/logger.js';
import { roomChannel, roomKey, userChannel } from '../../core/keys.js';
import type { LiveServer } from '../../core/socket-kit.js';
import { ClusterThrottle } from '../../core/throttle.js';
import type { SaleStock } from '../../protocol/index.js';
import { STOCK_BROADCAST_MS } from '../sales/sale-broadcasts.js';
import { saleKeys } from '../sales/sale-keys.js';
import type { SaleStore } from '../sales/sale-store.js';
import type { WaitlistPass } from '../sales/waitlist-store.js';

const PRODUCT_CACHE_MAX = 10_000;

export class BuyNowBroadcasts {
  private readonly stock: ClusterThrottle;
  private readonly delayed = new Map<string, NodeJS.Timeout>();
  /** Offer ref → its product id (offer ids are one-way hashes of the product id). */
  private readonly products = new Map<string, string>();

  constructor(
    private readonly io: LiveServer,
    private readonly redis: RedisClient,
    private readonly store: SaleStore,
    private readonly log: Logger,
  ) {
    this.stock = new ClusterThrottle(
      redis,
      (ref) => {
        const [roomId, offerId] = splitRef(ref);
        return roomKey(roomId, `throttle:offer:${offerId}`);
      },
      STOCK_BROADCAST_MS,
      async (ref) => {
        const [roomId, offerId] = splitRef(ref);
        const stock = await store.stockFrame(roomId, offerId);
        if (stock) this.emit(roomId, 'buy:stock', stock, await this.productOf(roomId, offerId));
      },
      log,
    );
  }

  /** Remember which product an offer sells (saves a read when its frame goes out). */
  know(roomId: string, offerId: string, productId: string): void {
    if (this.products.size >= PRODUCT_CACHE_MAX) this.products.clear();
    this.products.set(`${roomId}/${offerId}`, productId);
  }

  stockChanged(roomId: string, offerId: string): void {
    const ref = `${roomId}/${offerId}`;
    if (this.delayed.has(ref)) return;
    const timer = setTimeout(() => {
      this.delayed.delete(ref);
      this.stock.mark(ref);
    }, STOCK_BROADCAST_MS);
    timer.unref();
    this.delayed.set(ref, timer);
  }

  soldOut(roomId: string, offerId: string): void {
    this.store.soldOutFrame(roomId, offerId).then(
      async (stock) => stock && this.emit(roomId, 'buy:sold-out', stock, await this.productOf(roomId, offerId)),
      (err: unknown) => this.log.warn({ err }, 'buy-now sold-out announcement failed'),
    );
  }

  bought(roomId: string, offerId: string, productId: string, name: string, qty: number): void {
    this.io.to(roomChannel(roomId)).emit('buy:bought', { productId, name, qty });
    this.stockChanged(roomId, offerId);
  }

  /**
   * One positions pass of a product's waitlist (sales/waitlist-broadcasts.ts), in buy-now's words:
   * `buy:offer` (the offer as a buy-now hold, at `prices[i]`), `buy:waitlist-position` to the told
   * window, `buy:waitlist-length` to the room.
   */
  async waitlist(roomId: string, offerId: string, pass: WaitlistPass, prices: { price: number; currency: string }[]): Promise<void> {
    const productId = await this.productOf(roomId, offerId);
    if (!productId) return;
    pass.offers.forEach((o, i) => {
      const { price, currency } = prices[i]!;
      this.io.to(userChannel(o.userId)).emit('buy:offer', { holdId: o.holdId, productId, qty: 1, unitPrice: price, currency, expiresAt: o.expiresAt, offer: true });
    });
    for (const p of pass.positions) this.io.to(userChannel(p.userId)).emit('buy:waitlist-position', { productId, position: p.position, length: pass.length });
    if (pass.frameChanged) this.io.to(roomChannel(roomId)).emit('buy:waitlist-length', { productId, length: pass.length, headTicket: pass.headTicket });
  }

  private emit(roomId: string, event: 'buy:stock' | 'buy:sold-out', s: SaleStock, productId: string | null): void {
    if (productId) this.io.to(roomChannel(roomId)).emit(event, { productId, available: s.available, held: s.held, sold: s.sold });
  }

  private async productOf(roomId: string, offerId: string): Promise<string | null> {
    const ref = `${roomId}/${offerId}`;
    const known = this.products.get(ref);
    if (known) return known;
    const productId = await this.redis.hget(saleKeys(roomId, offerId).sale, 'productId');
    if (productId) this.know(roomId, offerId, productId);
    return productId;
  }

  close(): void {
    for (const timer of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.stock.close();
  }
}

/** `<roomId>/<offerId>` (ids never contain '/'). */
function splitRef(ref: string): [string, string] {
  const slash = ref.indexOf('/');
  return [ref.slice(0, slash), ref.slice(slash + 1)];
}
