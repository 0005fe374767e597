/**
 * Flash sales on the viewer page: a compact strip over the video that appears the moment a sale
 * is announced — product, price, countdown, stock, quantity and Reserve — then the reservation's
 * own countdown with Check out and Release. Each sale's strip is built once and updated in place,
 * so stock updates several times a second never steal keyboard focus. Reservations and orders are
 * also listed in the page's bottom sheet (onHoldsChanged / onOrder).
 */
import type { FlashSale, JoinSnapshot, SaleHold, SaleOrder } from '../../src/protocol/index.js';
import { busy, formatCountdown, formatMoney, h, show, toast } from './dom.js';
import type { LiveClient } from './live-client.js';
import { SaleBook } from './sale-book.js';

const TICK_MS = 250;
/** An ended or sold-out sale stays on screen this long, so people see how it ended, then goes. */
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
}

export class ViewerSalePanel {
  readonly book: SaleBook;
  private readonly cards = new Map<string, SaleStrip>();
  private readonly holds = new Map<string, SaleHold>();
  /** Units bought per sale in this page's life, so Reserve stops at the per-person limit. */
  private readonly bought = new Map<string, number>();
  /** When each shown sale ended (local clock), to take its strip away a little later. */
  private readonly endedAt = new Map<string, number>();
  /** Our checkouts, to say "You bought …" instead of the anonymised "A***e just bought". */
  private readonly ownPurchases: { saleId: string; qty: number; at: number }[] = [];
  /** Strips taken away after their sale ended or sold out; a restock brings a sale back. */
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
      if (this.holds.delete(saleId)) this.holdsChanged();
    });
    setInterval(() => this.tick(), TICK_MS);
  }

  load(snap: JoinSnapshot): void {
    this.signedIn = snap.you !== null;
    const part = this.book.load(snap);
    this.holds.clear();
    for (const hold of part.myHolds) this.holds.set(hold.saleId, hold);
    this.render();
    this.holdsChanged();
  }

  /** The sale of this product that is counting down or open, if any. */
  activeSaleOf(productId: string): FlashSale | null {
    return this.book.list().find((s) => s.productId === productId && ['countdown', 'open'].includes(this.book.phase(s))) ?? null;
  }

  async checkout(saleId: string, button: HTMLButtonElement | null): Promise<void> {
    const hold = this.holds.get(saleId);
    if (!hold) return;
    await busy(button, async () => {
      const mark = { saleId, qty: hold.qty, at: Date.now() };
      this.ownPurchases.push(mark);
      let order: SaleOrder;
      try {
        order = await this.client.request('sale:checkout', { holdId: hold.holdId, requestId: crypto.randomUUID() });
      } catch (err) {
        this.ownPurchases.splice(this.ownPurchases.indexOf(mark), 1);
        throw err;
      }
      this.holds.delete(saleId);
      this.bought.set(saleId, (this.bought.get(saleId) ?? 0) + order.qty);
      this.render();
      this.holdsChanged();
      const title = this.title(saleId);
      this.hooks.onOrder(order, title);
      toast(`You bought ${order.qty} × ${title} for ${formatMoney(order.amount, order.currency)}`, 'success');
    });
  }

  async release(saleId: string, button: HTMLButtonElement | null): Promise<void> {
    const hold = this.holds.get(saleId);
    if (!hold) return;
    await busy(button, async () => {
      await this.client.request('sale:release', { holdId: hold.holdId });
      this.holds.delete(saleId);
      this.render();
      this.holdsChanged();
      toast('Reservation released', 'info');
    });
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
      const gone = !sale || (this.endedAt.has(id) && now - this.endedAt.get(id)! > ENDED_SHOWN_MS);
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
      const finished = phase === 'ended' || phase === 'sold-out';
      if (finished && !this.endedAt.has(sale.id)) this.endedAt.set(sale.id, now);
      if (!finished) {
        this.endedAt.delete(sale.id);
        this.dismissed.delete(sale.id);
      }
      let card = this.cards.get(sale.id);
      if (!card) {
        // A sale that ended before we saw it is not news.
        if (phase === 'ended' || this.dismissed.has(sale.id)) continue;
        card = new SaleStrip(sale, {
          reserve: (qty, button) => this.reserve(sale.id, qty, button),
          checkout: (button) => this.checkout(sale.id, button),
          release: (button) => this.release(sale.id, button),
        });
        this.cards.set(sale.id, card);
        this.body.prepend(card.root);
      }
      card.update(sale, phase, this.book.now(), this.holds.get(sale.id) ?? null, this.signedIn, this.bought.get(sale.id) ?? 0);
    }
    show(this.section, this.cards.size > 0);
    const key = phases.join(',');
    if (key !== this.lastPhases) {
      this.lastPhases = key;
      this.hooks.onSalesChanged();
    }
  }

  private tick(): void {
    const now = this.book.now();
    let changed = false;
    for (const [saleId, hold] of this.holds) {
      if (hold.expiresAt <= now) {
        this.holds.delete(saleId);
        changed = true;
        toast('Your reservation ran out, so the units went back on sale.', 'info');
      }
    }
    if (changed) this.holdsChanged();
    if (this.cards.size) this.render();
  }

  private holdsChanged(): void {
    const views: HoldView[] = [];
    for (const [saleId, hold] of this.holds) {
      const sale = this.book.sales.get(saleId);
      if (sale) views.push({ sale, hold });
    }
    this.hooks.onHoldsChanged(views);
  }

  private async reserve(saleId: string, qty: number, button: HTMLButtonElement): Promise<void> {
    await busy(button, async () => {
      // One id per tap: a retry of the same tap can't reserve twice.
      const hold = await this.client.request('sale:reserve', { saleId, qty, requestId: crypto.randomUUID() });
      this.holds.set(saleId, hold);
      this.render();
      this.holdsChanged();
      this.cards.get(saleId)?.focusCheckout();
    });
  }
}

interface SaleActions {
  reserve(qty: number, button: HTMLButtonElement): Promise<void>;
  checkout(button: HTMLButtonElement): Promise<void>;
  release(button: HTMLButtonElement): Promise<void>;
}

/** One sale over the video; its elements live as long as the sale is shown. */
class SaleStrip {
  readonly root: HTMLElement;
  private readonly when = h('span', { class: 'sale-when', 'data-testid': 'sale-countdown' });
  private readonly stockText = h('span', { 'data-testid': 'sale-stock' });
  private readonly stockOf = h('span', {});
  private readonly bar = h('span', {});
  private readonly qty: HTMLSelectElement;
  private readonly qtyLabel: HTMLLabelElement;
  private readonly reserveButton: HTMLButtonElement;
  private readonly buyRow: HTMLElement;
  private readonly holdBox: HTMLElement;
  private readonly holdTimer = h('strong', { 'data-testid': 'hold-timer' });
  private readonly holdQty = h('span', {});
  private readonly checkoutButton: HTMLButtonElement;
  private readonly note = h('p', { class: 'sale-note' });

  constructor(sale: FlashSale, actions: SaleActions) {
    const qid = `sale-qty-${sale.id}`;
    this.qty = h('select', { id: qid, name: 'qty', class: 'qty' });
    this.qtyLabel = h('label', { for: qid, class: 'visually-hidden' }, 'Quantity');
    this.reserveButton = h('button', { type: 'button', class: 'cta', onclick: () => void actions.reserve(Number(this.qty.value), this.reserveButton) }, 'Reserve');
    this.checkoutButton = h('button', { type: 'button', class: 'cta', onclick: () => void actions.checkout(this.checkoutButton) }, 'Check out');
    const releaseButton: HTMLButtonElement = h('button', { type: 'button', class: 'ghost', onclick: () => void actions.release(releaseButton) }, 'Release');
    this.holdBox = h(
      'div',
      { class: 'hold', 'data-testid': 'hold', hidden: true },
      h('p', {}, 'Reserved ', this.holdQty, ' · ', this.holdTimer, ' left'),
      h('div', { class: 'row' }, this.checkoutButton, releaseButton),
    );
    for (let n = 1; n <= Math.min(sale.perUserLimit, 10); n++) this.qty.append(h('option', { value: n }, String(n)));
    this.buyRow = h('div', { class: 'row buy-row' }, this.qtyLabel, this.qty, this.reserveButton);
    const titleId = `sale-title-${sale.id}`;
    this.root = h(
      'article',
      { class: 'sale-card', 'data-sale': sale.id, 'aria-labelledby': titleId },
      h(
        'div',
        { class: 'sale-main' },
        sale.imageUrl ? h('img', { src: sale.imageUrl, alt: '', class: 'thumb', referrerpolicy: 'no-referrer' }) : h('div', { class: 'thumb', 'aria-hidden': 'true' }, '⚡'),
        h(
          'div',
          { class: 'sale-text' },
          h('p', { class: 'sale-kicker' }, h('span', { class: 'flash' }, '⚡ Flash sale'), ' ', this.when),
          h('h3', { id: titleId }, sale.title),
          h(
            'p',
            { class: 'sale-price' },
            h('span', { class: 'price' }, formatMoney(sale.price, sale.currency)),
            ' ',
            sale.listPrice > sale.price ? h('s', {}, formatMoney(sale.listPrice, sale.currency)) : null,
            ' · ',
            h('span', { class: 'stock-line' }, this.stockText, this.stockOf),
          ),
          h('div', { class: 'stock-bar', 'aria-hidden': 'true' }, this.bar),
        ),
        this.buyRow,
      ),
      this.note,
      this.holdBox,
    );
  }

  update(sale: FlashSale, phase: string, now: number, hold: SaleHold | null, signedIn: boolean, bought: number): void {
    this.root.dataset.phase = phase;
    this.when.textContent =
      phase === 'countdown' ? `Starts in ${formatCountdown(sale.startsAt - now)}` : phase === 'open' ? `Ends in ${formatCountdown(sale.endsAt - now)}` : phase === 'sold-out' ? 'Sold out' : `Ended — ${sale.sold} sold`;
    const total = sale.initial + sale.added;
    this.stockText.textContent = String(sale.available);
    this.stockOf.textContent = ` of ${total} left`;
    // CSSOM, not a style attribute: the page's CSP forbids inline style attributes.
    this.bar.style.width = `${total ? Math.round((sale.available / total) * 100) : 0}%`;
    const allowance = sale.perUserLimit - bought;
    this.reserveButton.disabled = phase !== 'open' || !signedIn || hold !== null || allowance <= 0;
    this.qty.disabled = this.reserveButton.disabled;
    // One unit per person: a quantity picker would only take room.
    this.qty.hidden = sale.perUserLimit <= 1;
    for (const option of this.qty.options) option.disabled = Number(option.value) > allowance;
    if (Number(this.qty.value) > allowance && allowance > 0) this.qty.value = String(allowance);
    this.buyRow.hidden = hold !== null || phase === 'ended' || phase === 'sold-out';
    this.note.textContent = !signedIn && phase !== 'ended' ? 'Sign in to buy.' : allowance <= 0 ? `You have bought your limit of ${sale.perUserLimit}.` : '';
    this.note.hidden = this.note.textContent === '';
    this.holdBox.hidden = hold === null;
    if (hold) {
      this.holdQty.textContent = `${hold.qty} × ${formatMoney(sale.price, sale.currency)}`;
      this.holdTimer.textContent = formatCountdown(hold.expiresAt - now);
      this.checkoutButton.disabled = phase === 'ended';
    }
  }

  focusCheckout(): void {
    this.checkoutButton.focus();
  }
}
