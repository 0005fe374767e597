/**
 * The viewer's flash-sale panel: countdown, stock, reserve, the hold timer, checkout and release,
 * plus the sold-out and "just bought" toasts. Each sale's card is built once and updated in
 * place, so stock updates several times a second never steal keyboard focus.
 */
import type { FlashSale, JoinSnapshot, SaleHold, SaleOrder } from '../../src/protocol/index.js';
import { busy, formatCountdown, formatMoney, h, show, toast } from './dom.js';
import type { LiveClient } from './live-client.js';
import { SaleBook } from './sale-book.js';

const TICK_MS = 250;

export class ViewerSalePanel {
  readonly book: SaleBook;
  private readonly cards = new Map<string, SaleCard>();
  private readonly holds = new Map<string, SaleHold>();
  /** Units bought per sale in this page's life, so Reserve stops at the per-person limit. */
  private readonly bought = new Map<string, number>();
  private signedIn = false;

  constructor(
    private readonly client: LiveClient,
    private readonly section: HTMLElement,
    private readonly body: HTMLElement,
  ) {
    this.book = new SaleBook(client);
    this.book.onChange(() => this.render());
    const s = client.socket;
    // A host's retried sale:start announces the same sale again: one toast per sale.
    const announced = new Set<string>();
    s.on('sale:started', ({ sale }) => {
      if (announced.has(sale.id)) return;
      announced.add(sale.id);
      toast(`Flash sale: ${sale.title} at ${formatMoney(sale.price, sale.currency)}!`, 'info');
    });
    s.on('sale:sold-out', ({ saleId }) => toast(`Sold out: ${this.book.sales.get(saleId)?.title ?? 'flash sale'}`, 'error'));
    s.on('sale:bought', ({ saleId, name, qty }) => toast(`${name} just bought ${qty} × ${this.book.sales.get(saleId)?.title ?? 'it'}`, 'success', 3000));
    s.on('sale:ended', ({ saleId }) => {
      this.holds.delete(saleId);
      toast(`The flash sale for ${this.book.sales.get(saleId)?.title ?? 'a product'} has ended`, 'info');
    });
    setInterval(() => this.tick(), TICK_MS);
  }

  load(snap: JoinSnapshot): void {
    this.signedIn = snap.you !== null;
    const part = this.book.load(snap);
    this.holds.clear();
    for (const hold of part.myHolds) this.holds.set(hold.saleId, hold);
    this.render();
  }

  private render(): void {
    const sales = this.book.list().filter((s) => this.book.phase(s) !== 'ended' || this.cards.has(s.id));
    for (const [id, card] of this.cards) {
      if (!this.book.sales.has(id)) {
        card.root.remove();
        this.cards.delete(id);
      }
    }
    for (const sale of sales) {
      let card = this.cards.get(sale.id);
      if (!card) {
        card = new SaleCard(sale, {
          reserve: (qty, button) => this.reserve(sale.id, qty, button),
          checkout: (button) => this.checkout(sale.id, button),
          release: (button) => this.release(sale.id, button),
        });
        this.cards.set(sale.id, card);
        this.body.prepend(card.root);
      }
      card.update(sale, this.book.phase(sale), this.book.now(), this.holds.get(sale.id) ?? null, this.signedIn, this.bought.get(sale.id) ?? 0);
    }
    show(this.section, this.cards.size > 0);
  }

  private tick(): void {
    const now = this.book.now();
    for (const [saleId, hold] of this.holds) {
      if (hold.expiresAt <= now) {
        this.holds.delete(saleId);
        toast('Your reservation expired; the units went back on sale.', 'error');
      }
    }
    if (this.cards.size) this.render();
  }

  private async reserve(saleId: string, qty: number, button: HTMLButtonElement): Promise<void> {
    await busy(button, async () => {
      // One id per tap: a retry of the same tap can't reserve twice.
      const hold = await this.client.request('sale:reserve', { saleId, qty, requestId: crypto.randomUUID() });
      this.holds.set(saleId, hold);
      this.render();
      this.cards.get(saleId)?.focusCheckout();
    });
  }

  private async checkout(saleId: string, button: HTMLButtonElement): Promise<void> {
    const hold = this.holds.get(saleId);
    if (!hold) return;
    await busy(button, async () => {
      const order = await this.client.request('sale:checkout', { holdId: hold.holdId, requestId: crypto.randomUUID() });
      this.holds.delete(saleId);
      this.bought.set(saleId, (this.bought.get(saleId) ?? 0) + order.qty);
      this.cards.get(saleId)?.addOrder(order);
      this.render();
      toast(`Order placed: ${formatMoney(order.amount, order.currency)}`, 'success');
    });
  }

  private async release(saleId: string, button: HTMLButtonElement): Promise<void> {
    const hold = this.holds.get(saleId);
    if (!hold) return;
    await busy(button, async () => {
      await this.client.request('sale:release', { holdId: hold.holdId });
      this.holds.delete(saleId);
      this.render();
      toast('Reservation released', 'info');
    });
  }
}

interface SaleActions {
  reserve(qty: number, button: HTMLButtonElement): Promise<void>;
  checkout(button: HTMLButtonElement): Promise<void>;
  release(button: HTMLButtonElement): Promise<void>;
}

/** One sale on the viewer page; its elements live as long as the sale is shown. */
class SaleCard {
  readonly root: HTMLElement;
  private readonly when = h('p', { class: 'countdown', 'data-testid': 'sale-countdown' });
  private readonly stockText = h('span', { 'data-testid': 'sale-stock' });
  private readonly stockOf = h('span', {});
  private readonly bar = h('span', {});
  private readonly qty: HTMLSelectElement;
  private readonly reserveButton: HTMLButtonElement;
  private readonly holdBox: HTMLElement;
  private readonly holdTimer = h('strong', { 'data-testid': 'hold-timer' });
  private readonly holdQty = h('span', {});
  private readonly checkoutButton: HTMLButtonElement;
  private readonly orders = h('ul', { class: 'orders', 'data-testid': 'orders' });
  private readonly note = h('p', { class: 'muted' });

  constructor(sale: FlashSale, actions: SaleActions) {
    const qid = `sale-qty-${sale.id}`;
    this.qty = h('select', { id: qid, name: 'qty' });
    this.reserveButton = h('button', { type: 'button', onclick: () => void actions.reserve(Number(this.qty.value), this.reserveButton) }, 'Reserve');
    this.checkoutButton = h('button', { type: 'button', onclick: () => void actions.checkout(this.checkoutButton) }, 'Check out');
    const releaseButton: HTMLButtonElement = h('button', { type: 'button', class: 'secondary', onclick: () => void actions.release(releaseButton) }, 'Release');
    this.holdBox = h(
      'div',
      { class: 'hold', 'data-testid': 'hold', hidden: true },
      h('p', {}, 'Reserved for you: ', this.holdQty, ' — ', this.holdTimer, ' left to check out'),
      h('div', { class: 'row' }, this.checkoutButton, releaseButton),
    );
    for (let n = 1; n <= Math.min(sale.perUserLimit, 10); n++) this.qty.append(h('option', { value: n }, String(n)));
    const titleId = `sale-title-${sale.id}`;
    this.root = h(
      'article',
      { class: 'sale-card', 'data-sale': sale.id, 'aria-labelledby': titleId },
      h(
        'div',
        { class: 'product-card' },
        sale.imageUrl ? h('img', { src: sale.imageUrl, alt: '', class: 'thumb' }) : h('div', { class: 'thumb', 'aria-hidden': 'true' }),
        h(
          'div',
          {},
          h('h3', { id: titleId }, sale.title),
          h('p', {}, h('span', { class: 'price' }, formatMoney(sale.price, sale.currency)), ' ', sale.listPrice > sale.price ? h('s', { class: 'muted' }, formatMoney(sale.listPrice, sale.currency)) : null),
        ),
      ),
      this.when,
      h('p', { class: 'stock-line' }, this.stockText, this.stockOf),
      h('div', { class: 'stock-bar', 'aria-hidden': 'true' }, this.bar),
      h('div', { class: 'row gap-above' }, h('label', { for: qid }, 'Quantity'), this.qty, this.reserveButton),
      this.note,
      this.holdBox,
      this.orders,
    );
  }

  update(sale: FlashSale, phase: string, now: number, hold: SaleHold | null, signedIn: boolean, bought: number): void {
    this.root.dataset.phase = phase;
    this.when.textContent =
      phase === 'countdown' ? `Starts in ${formatCountdown(sale.startsAt - now)}` : phase === 'open' ? `Ends in ${formatCountdown(sale.endsAt - now)}` : phase === 'sold-out' ? 'Sold out' : `Ended — ${sale.sold} sold`;
    const total = sale.initial + sale.added;
    this.stockText.textContent = String(sale.available);
    this.stockOf.textContent = ` of ${total} left`;
    this.bar.style.width = `${total ? Math.round((sale.available / total) * 100) : 0}%`;
    const allowance = sale.perUserLimit - bought;
    this.reserveButton.disabled = phase !== 'open' || !signedIn || hold !== null || allowance <= 0;
    this.qty.disabled = this.reserveButton.disabled;
    for (const option of this.qty.options) option.disabled = Number(option.value) > allowance;
    if (Number(this.qty.value) > allowance && allowance > 0) this.qty.value = String(allowance);
    this.note.textContent = !signedIn
      ? 'Sign in to buy.'
      : allowance <= 0
        ? `You have bought your limit of ${sale.perUserLimit}.`
        : `Limit ${sale.perUserLimit} per person. A reservation holds for ${sale.holdSeconds} s.`;
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

  addOrder(order: SaleOrder): void {
    this.orders.append(h('li', { 'data-order': order.orderId }, `Order placed ✓ ${order.qty} × ${formatMoney(order.unitPrice, order.currency)} = ${formatMoney(order.amount, order.currency)}`));
  }
}
