/**
 * Buy now on the viewer page: a bag product with stock of its own is bought at its price through
 * the same steps as a flash sale — Buy holds the units (buy:reserve), the hold shows in the bottom
 * sheet with its deadline, Check out makes the order. Stock comes from the join snapshot's
 * `buyNow` part and the buy:stock / buy:sold-out events; the count a product card shows is always
 * the live one.
 */
import type { BuyNowHold, BuyNowOrder, BuyNowStock, JoinSnapshot, Product } from '../../src/protocol/index.js';
import { busy, formatMoney, toast } from './dom.js';
import type { LiveClient } from './live-client.js';

/** Our own checkout's "someone bought" broadcast is recognised for this long after it. */
const OWN_PURCHASE_MS = 10_000;

export interface BuyNowHooks {
  /** Stock or holds changed: product cards and the sheet re-render. */
  changed(): void;
  onOrder(order: BuyNowOrder, title: string): void;
  /** A hold was made: the page shows it (the sheet, with Check out). */
  onHold(hold: BuyNowHold): void;
  /** A hold ended unpaid (released, ran out): its voucher is free again. */
  onHoldEnded(holdId: string): void;
  /** The voucher applied to this hold, sent with its checkout. */
  voucherFor(holdId: string): string | undefined;
}

export class BuyNowBook {
  private readonly stock = new Map<string, BuyNowStock>();
  readonly holds = new Map<string, BuyNowHold>();
  private readonly titles = new Map<string, string>();
  private readonly ownPurchases: { productId: string; qty: number; at: number }[] = [];

  constructor(
    private readonly client: LiveClient,
    private readonly hooks: BuyNowHooks,
  ) {
    const s = client.socket;
    const put = (st: BuyNowStock) => {
      this.stock.set(st.productId, st);
      hooks.changed();
    };
    s.on('buy:stock', put);
    s.on('buy:sold-out', (st) => {
      put(st);
      toast(`Sold out: ${this.titles.get(st.productId) ?? 'a product'}`, 'info', 3000);
    });
    s.on('buy:bought', ({ productId, name, qty }) => {
      if (this.takeOwnPurchase(productId, qty)) return;
      toast(`${name} just bought ${qty} × ${this.titles.get(productId) ?? 'it'}`, 'info', 2500);
    });
    // A hold past its deadline is gone: the units went back.
    setInterval(() => {
      const now = Date.now();
      let expired = false;
      for (const [id, hold] of this.holds) {
        if (hold.expiresAt <= now) {
          this.holds.delete(id);
          hooks.onHoldEnded(id);
          expired = true;
        }
      }
      if (expired) {
        hooks.changed();
        toast('Your reservation ran out, so the units went back on sale.', 'info');
      }
    }, 1000);
  }

  load(snap: JoinSnapshot): void {
    const part = snap.buyNow ?? { stock: [], myHolds: [], myWaitlist: [] };
    this.stock.clear();
    for (const st of part.stock) this.stock.set(st.productId, st);
    this.holds.clear();
    for (const hold of part.myHolds) this.holds.set(hold.holdId, hold);
    this.learn(snap.commerce.bag);
    this.hooks.changed();
  }

  learn(bag: readonly Product[]): void {
    for (const p of bag) this.titles.set(p.id, p.title);
  }

  /** Units of this product one can buy now; null when it is not for sale outside flash sales. */
  available(p: Product): number | null {
    const live = this.stock.get(p.id);
    if (live) return live.available;
    return typeof p.stock === 'number' ? p.stock : null;
  }

  titleOf(productId: string): string {
    return this.titles.get(productId) ?? 'a product';
  }

  async reserve(p: Product, button: HTMLButtonElement): Promise<void> {
    await busy(button, async () => {
      // One id per tap: a retry of the same tap can't hold twice.
      const hold = await this.client.request('buy:reserve', { productId: p.id, qty: 1, requestId: crypto.randomUUID() });
      this.holds.set(hold.holdId, hold);
      this.hooks.changed();
      this.hooks.onHold(hold);
    });
  }

  async checkout(hold: BuyNowHold, button: HTMLButtonElement | null): Promise<void> {
    await busy(button, async () => {
      const mark = { productId: hold.productId, qty: hold.qty, at: Date.now() };
      this.ownPurchases.push(mark);
      let order: BuyNowOrder;
      try {
        const voucherId = this.hooks.voucherFor(hold.holdId);
        order = await this.client.request('buy:checkout', { holdId: hold.holdId, requestId: crypto.randomUUID(), ...(voucherId ? { voucherId } : {}) });
      } catch (err) {
        this.ownPurchases.splice(this.ownPurchases.indexOf(mark), 1);
        throw err;
      }
      this.holds.delete(hold.holdId);
      this.hooks.changed();
      const title = this.titleOf(hold.productId);
      this.hooks.onOrder(order, title);
      toast(`You bought ${order.qty} × ${title} for ${formatMoney(order.paid, order.currency)}`, 'success');
    });
  }

  async release(hold: BuyNowHold, button: HTMLButtonElement | null): Promise<void> {
    await busy(button, async () => {
      await this.client.request('buy:release', { holdId: hold.holdId });
      this.holds.delete(hold.holdId);
      this.hooks.onHoldEnded(hold.holdId);
      this.hooks.changed();
      toast('Reservation released', 'info');
    });
  }

  private takeOwnPurchase(productId: string, qty: number): boolean {
    const now = Date.now();
    const i = this.ownPurchases.findIndex((p) => p.productId === productId && p.qty === qty && now - p.at < OWN_PURCHASE_MS);
    if (i < 0) return false;
    this.ownPurchases.splice(i, 1);
    return true;
  }
}
