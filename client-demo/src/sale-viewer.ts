/**
 * Flash sales on the viewer page: a compact strip over the video that appears the moment a sale
 * is announced (sale-strip.ts draws it) — product, price, countdown, stock, quantity and Reserve —
 * then the reservation's own countdown with Check out and Release. A sold-out sale that is still
 * open keeps its strip with the waitlist (Join, "You're #N in line", Leave); a unit offered from
 * the waitlist (sale:offer, or an offer hold in the snapshot) shows as "A unit is yours for 0:59"
 * with Buy now. Reservations and orders are also listed in the page's bottom sheet
 * (onHoldsChanged / onOrder), where a voucher can be applied before checking out.
 */
import type { FlashSale, JoinSnapshot, SaleHold, SaleOrder } from '../../src/protocol/index.js';
import { busy, formatMoney, show, toast } from './dom.js';
import type { LiveClient } from './live-client.js';
import { SaleBook } from './sale-book.js';
import { SaleStrip } from './sale-strip.js';

const TICK_MS = 250;
/** An ended sale stays on screen this long, so people see how it ended, then goes. */
const ENDED_SHOWN_MS = 10_000;
/** Our own purchase's "someone bought" broadcast is recognised for this long after the checkout. */
const OWN_PURCHASE_MS = 10_000;

export interface HoldView {
  sale: FlashSale;
  hold: SaleHold;
}

export interface ViewerSaleHooks {
  onHoldsChanged(holds: HoldView[]): void;
  onOrder(order: SaleOrder, title: string): void;
  /** Sales came or went or changed phase (the pinned card hides while its product is on sale). */
  onSalesChanged(): void;
  /** A hold ended unpaid (released, declined, ran out, sale ended): its voucher is free again. */
  onHoldEnded(holdId: string): void;
  /** The voucher applied to this hold, sent with its checkout. */
  voucherFor(holdId: string): string | undefined;
  /** What the strip says about vouchers for this hold, and whether one could be applied. */
  voucherNote(holdId: string): { note: string; canUse: boolean };
  /** Open the bottom sheet at this hold's checkout. */
  openCheckout(holdId: string): void;
}

export class ViewerSalePanel {
  readonly book: SaleBook;
  private readonly cards = new Map<string, SaleStrip>();
  /** Our holds by hold id (a waitlist offer is one, with offer: true). */
  private readonly holds = new Map<string, SaleHold>();
  /** Units bought per sale in this page's life, so Reserve stops at the per-person limit. */
  private readonly bought = new Map<string, number>();
  /** Our place on each sale's waitlist (absent: not on it), and how many wait per sale. */
  private readonly positions = new Map<string, number>();
  private readonly waiting = new Map<string, number>();
  /** When each shown sale ended (local clock), to take its strip away a little later. */
  private readonly endedAt = new Map<string, number>();
  /** Our checkouts, to say "You bought …" instead of the anonymised "A***e just bought". */
  private readonly ownPurchases: { saleId: string; qty: number; at: number }[] = [];
  /** Strips taken away after their sale ended; a restock or an offer brings a sale back. */
  private readonly dismissed = new Set<string>();
  private signedIn = false;
  private lastPhases = '';

  constructor(
    private readonly client: LiveClient,
    private readonly section: HTMLElement,
    private readonly body: HTMLElement,
    private readonly hooks: ViewerSaleHooks,
  ) {
    this.book = new SaleBook(client);
    this.book.onChange(() => this.render());
    const s = client.socket;
    // A host's retried sale:start announces the same sale again: one announcement per sale.
    const announced = new Set<string>();
    s.on('sale:started', ({ sale }) => {
      if (announced.has(sale.id)) return;
      announced.add(sale.id);
      toast(`Flash sale: ${sale.title} at ${formatMoney(sale.price, sale.currency)}`, 'info', 3000);
    });
    // News, not an error: sold out is said neutrally, on the strip and once in the toasts.
    s.on('sale:sold-out', ({ saleId }) => toast(`Sold out: ${this.title(saleId)}`, 'info'));
    s.on('sale:bought', ({ saleId, name, qty }) => {
      if (this.takeOwnPurchase(saleId, qty)) return;
      toast(`${name} just bought ${qty} × ${this.title(saleId)}`, 'info', 2500);
    });
    s.on('sale:ended', ({ saleId }) => {
      this.positions.delete(saleId);
      this.waiting.delete(saleId);
      let changed = false;
      for (const hold of this.holdsOf(saleId)) changed = this.dropHold(hold.holdId) || changed;
      if (changed) this.holdsChanged();
    });
    s.on('sale:waitlist-length', ({ saleId, length }) => {
      this.waiting.set(saleId, length);
      this.render();
    });
    s.on('sale:waitlist-position', ({ saleId, position, length }) => {
      if (position > 0) this.positions.set(saleId, position);
      else this.positions.delete(saleId);
      this.waiting.set(saleId, length);
      this.render();
    });
    s.on('sale:offer', ({ saleId, holdId, qty, expiresAt }) => {
      this.holds.set(holdId, { holdId, saleId, qty, expiresAt, offer: true });
      this.positions.delete(saleId);
      this.dismissed.delete(saleId);
      this.render();
      this.holdsChanged();
      toast(`Your turn: a unit of ${this.title(saleId)} is yours.`, 'success', 3000);
      this.cards.get(saleId)?.focusOffer();
    });
    setInterval(() => this.tick(), TICK_MS);
  }

  load(snap: JoinSnapshot): void {
    this.signedIn = snap.you !== null;
    const part = this.book.load(snap);
    this.holds.clear();
    for (const hold of part.myHolds) this.holds.set(hold.holdId, hold);
    // Our places in line survive a reload or a reconnect: the snapshot tells them.
    this.positions.clear();
    for (const place of part.myWaitlist ?? []) {
      this.positions.set(place.saleId, place.position);
      this.waiting.set(place.saleId, place.length);
    }
    this.render();
    this.holdsChanged();
  }

  /** The sale of this product that is counting down or open, if any. */
  activeSaleOf(productId: string): FlashSale | null {
    return this.book.list().find((s) => s.productId === productId && ['countdown', 'open'].includes(this.book.phase(s))) ?? null;
  }

  async checkout(holdId: string, button: HTMLButtonElement | null): Promise<void> {
    const hold = this.holds.get(holdId);
    if (!hold) return;
    const saleId = hold.saleId;
    await busy(button, async () => {
      const mark = { saleId, qty: hold.qty, at: Date.now() };
      this.ownPurchases.push(mark);
      let order: SaleOrder;
      try {
        const voucherId = this.hooks.voucherFor(holdId);
        order = await this.client.request('sale:checkout', { holdId, requestId: crypto.randomUUID(), ...(voucherId ? { voucherId } : {}) });
      } catch (err) {
        this.ownPurchases.splice(this.ownPurchases.indexOf(mark), 1);
        throw err;
      }
      this.holds.delete(holdId);
      this.bought.set(saleId, (this.bought.get(saleId) ?? 0) + order.qty);
      this.render();
      this.holdsChanged();
      const title = this.title(saleId);
      this.hooks.onOrder(order, title);
      toast(`You bought ${order.qty} × ${title} for ${formatMoney(order.paid, order.currency)}`, 'success');
    });
  }

  async release(holdId: string, button: HTMLButtonElement | null): Promise<void> {
    const hold = this.holds.get(holdId);
    if (!hold) return;
    await busy(button, async () => {
      await this.client.request('sale:release', { holdId });
      this.dropHold(holdId);
      this.render();
      this.holdsChanged();
      toast(hold.offer ? 'Offer declined: the unit goes to the next in line.' : 'Reservation released', 'info');
    });
  }

  private async waitlist(saleId: string, action: 'join' | 'leave', button: HTMLButtonElement): Promise<void> {
    await busy(button, async () => {
      const { position, length } = await this.client.request('sale:waitlist', { saleId, action });
      if (position > 0) this.positions.set(saleId, position);
      else this.positions.delete(saleId);
      this.waiting.set(saleId, length);
      // The strip says "You're #N in line" (aria-live): no toast over the video.
      this.render();
    });
  }

  private holdsOf(saleId: string): SaleHold[] {
    return [...this.holds.values()].filter((h) => h.saleId === saleId);
  }

  /** The hold a strip shows: an offer first (it runs out soonest and matters most). */
  private holdFor(saleId: string): SaleHold | null {
    const holds = this.holdsOf(saleId);
    return holds.find((h) => h.offer) ?? holds[0] ?? null;
  }

  private dropHold(holdId: string): boolean {
    if (!this.holds.delete(holdId)) return false;
    this.hooks.onHoldEnded(holdId);
    return true;
  }

  private title(saleId: string): string {
    return this.book.sales.get(saleId)?.title ?? 'it';
  }

  private takeOwnPurchase(saleId: string, qty: number): boolean {
    const now = Date.now();
    const i = this.ownPurchases.findIndex((p) => p.saleId === saleId && p.qty === qty && now - p.at < OWN_PURCHASE_MS);
    if (i < 0) return false;
    this.ownPurchases.splice(i, 1);
    return true;
  }

  private render(): void {
    const now = Date.now();
    for (const [id, card] of this.cards) {
      const sale = this.book.sales.get(id);
      const gone = !sale || (this.endedAt.has(id) && now - this.endedAt.get(id)! > ENDED_SHOWN_MS && !this.holdFor(id));
      if (gone) {
        card.root.remove();
        this.cards.delete(id);
        this.dismissed.add(id);
      }
    }
    const phases: string[] = [];
    for (const sale of this.book.list()) {
      const phase = this.book.phase(sale);
      phases.push(`${sale.id}:${phase}`);
      // A sold-out sale that is still open stays: its waitlist is the way to a unit.
      const finished = phase === 'ended';
      if (finished && !this.endedAt.has(sale.id)) this.endedAt.set(sale.id, now);
      if (!finished) {
        this.endedAt.delete(sale.id);
        this.dismissed.delete(sale.id);
      }
      let card = this.cards.get(sale.id);
      const hold = this.holdFor(sale.id);
      if (!card) {
        // A sale that ended before we saw it is not news (unless it still holds a unit for us).
        if ((phase === 'ended' || this.dismissed.has(sale.id)) && !hold) continue;
        card = new SaleStrip(sale, {
          reserve: (qty, button) => this.reserve(sale.id, qty, button),
          checkout: (button) => this.withHold(sale.id, (holdId) => this.checkout(holdId, button)),
          release: (button) => this.withHold(sale.id, (holdId) => this.release(holdId, button)),
          waitlist: (action, button) => this.waitlist(sale.id, action, button),
          openCheckout: () => void this.withHold(sale.id, async (holdId) => this.hooks.openCheckout(holdId)),
        });
        this.cards.set(sale.id, card);
        this.body.prepend(card.root);
      }
      const voucher = hold ? this.hooks.voucherNote(hold.holdId) : { note: '', canUse: false };
      card.update(sale, {
        phase,
        now: this.book.now(),
        hold,
        signedIn: this.signedIn,
        bought: this.bought.get(sale.id) ?? 0,
        position: this.positions.get(sale.id) ?? 0,
        waiting: this.waiting.get(sale.id) ?? 0,
        voucherNote: voucher.note,
        canUseVoucher: voucher.canUse,
      });
    }
    show(this.section, this.cards.size > 0);
    const key = phases.join(',');
    if (key !== this.lastPhases) {
      this.lastPhases = key;
      this.hooks.onSalesChanged();
    }
  }

  private async withHold(saleId: string, run: (holdId: string) => Promise<void>): Promise<void> {
    const hold = this.holdFor(saleId);
    if (hold) await run(hold.holdId);
  }

  private tick(): void {
    const now = this.book.now();
    let changed = false;
    for (const [holdId, hold] of this.holds) {
      if (hold.expiresAt <= now) {
        this.dropHold(holdId);
        changed = true;
        toast(hold.offer ? 'Your offer ran out, so the unit went to the next in line.' : 'Your reservation ran out, so the units went back on sale.', 'info');
      }
    }
    if (changed) this.holdsChanged();
    if (this.cards.size) this.render();
  }

  /** Re-draw the strips (a voucher applied changes what a hold says). */
  refresh(): void {
    this.render();
  }

  private holdsChanged(): void {
    const views: HoldView[] = [];
    for (const hold of this.holds.values()) {
      const sale = this.book.sales.get(hold.saleId);
      if (sale) views.push({ sale, hold });
    }
    this.hooks.onHoldsChanged(views);
  }

  private async reserve(saleId: string, qty: number, button: HTMLButtonElement): Promise<void> {
    await busy(button, async () => {
      // One id per tap: a retry of the same tap can't reserve twice.
      const res = await this.client.request('sale:reserve', { saleId, qty, requestId: crypto.randomUUID() });
      this.holds.set(res.holdId, { holdId: res.holdId, saleId: res.saleId, qty: res.qty, expiresAt: res.expiresAt });
      this.render();
      this.holdsChanged();
      this.cards.get(saleId)?.focusCheckout();
    });
  }
}
