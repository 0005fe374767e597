/**
 * One flash sale over the viewer's video: product, price, countdown, stock, quantity and Reserve;
 * the reservation's countdown with Check out and Release; once sold out, the waitlist (Join,
 * "You're #N in line", Leave, how many wait); and a waitlist offer, prominently: "A unit is yours
 * for 0:59" with Buy now and No thanks. Built once per sale and updated in place, so stock
 * updates several times a second never steal keyboard focus.
 */
import type { FlashSale, SaleHold } from '../../src/protocol/index.js';
import { formatCountdown, formatMoney, h } from './dom.js';

export interface SaleActions {
  reserve(qty: number, button: HTMLButtonElement): Promise<void>;
  checkout(button: HTMLButtonElement): Promise<void>;
  release(button: HTMLButtonElement): Promise<void>;
  waitlist(action: 'join' | 'leave', button: HTMLButtonElement): Promise<void>;
  /** Open the hold's checkout in the sheet (to apply a voucher). */
  openCheckout(): void;
}

export interface StripView {
  phase: string;
  now: number;
  hold: SaleHold | null;
  signedIn: boolean;
  bought: number;
  /** Our place on the waitlist (0: not on it) and how many wait. */
  position: number;
  waiting: number;
  /** A line about vouchers for the hold ("Voucher −$5.00 · you pay $20.00"), or '' for none. */
  voucherNote: string;
  /** Whether the sheet has a voucher to apply to the hold. */
  canUseVoucher: boolean;
}

export class SaleStrip {
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
  private readonly offerBox: HTMLElement;
  private readonly offerTimer = h('strong', { class: 'offer-timer', 'data-testid': 'offer-timer', role: 'timer' });
  private readonly buyNowButton: HTMLButtonElement;
  private readonly voucherNotes: HTMLElement[];
  private readonly voucherButtons: HTMLButtonElement[];
  private readonly waitBox: HTMLElement;
  private readonly waitLine = h('p', { class: 'waitlist-line', 'data-testid': 'waitlist-line', 'aria-live': 'polite' });
  private readonly joinButton: HTMLButtonElement;
  private readonly leaveButton: HTMLButtonElement;
  private readonly note = h('p', { class: 'sale-note' });

  constructor(sale: FlashSale, actions: SaleActions) {
    const qid = `sale-qty-${sale.id}`;
    this.qty = h('select', { id: qid, name: 'qty', class: 'qty' });
    this.qtyLabel = h('label', { for: qid, class: 'visually-hidden' }, 'Quantity');
    this.reserveButton = h('button', { type: 'button', class: 'cta', onclick: () => void actions.reserve(Number(this.qty.value), this.reserveButton) }, 'Reserve');
    this.checkoutButton = h('button', { type: 'button', class: 'cta', onclick: () => void actions.checkout(this.checkoutButton) }, 'Check out');
    const releaseButton: HTMLButtonElement = h('button', { type: 'button', class: 'ghost', onclick: () => void actions.release(releaseButton) }, 'Release');
    const voucherButton = (where: string) => h('button', { type: 'button', class: 'ghost voucher-open', 'data-testid': `${where}-use-voucher`, onclick: () => actions.openCheckout() }, 'Use voucher');
    const voucherNote = () => h('p', { class: 'hold-voucher', 'data-testid': 'hold-voucher' });
    this.voucherButtons = [voucherButton('hold'), voucherButton('offer')];
    this.voucherNotes = [voucherNote(), voucherNote()];
    this.holdBox = h(
      'div',
      { class: 'hold', 'data-testid': 'hold', hidden: true },
      h('p', {}, 'Reserved ', this.holdQty, ' · ', this.holdTimer, ' left'),
      this.voucherNotes[0]!,
      h('div', { class: 'row' }, this.checkoutButton, this.voucherButtons[0]!, releaseButton),
    );
    this.buyNowButton = h('button', { type: 'button', class: 'cta offer-buy', 'data-testid': 'offer-buy', onclick: () => void actions.checkout(this.buyNowButton) }, 'Buy now');
    const declineButton: HTMLButtonElement = h('button', { type: 'button', class: 'ghost', 'data-testid': 'offer-decline', onclick: () => void actions.release(declineButton) }, 'No thanks');
    this.offerBox = h(
      'div',
      { class: 'offer', 'data-testid': 'offer', hidden: true },
      h('p', { class: 'offer-line' }, 'A unit is yours for ', this.offerTimer, ' — buy it before it passes to the next in line.'),
      this.voucherNotes[1]!,
      h('div', { class: 'row' }, this.buyNowButton, this.voucherButtons[1]!, declineButton),
    );
    this.joinButton = h('button', { type: 'button', class: 'cta', 'data-testid': 'waitlist-join', onclick: () => void actions.waitlist('join', this.joinButton) }, 'Join waitlist');
    this.leaveButton = h('button', { type: 'button', class: 'ghost', 'data-testid': 'waitlist-leave', onclick: () => void actions.waitlist('leave', this.leaveButton) }, 'Leave');
    this.waitBox = h('div', { class: 'waitlist', 'data-testid': 'waitlist', hidden: true }, this.waitLine, h('div', { class: 'row' }, this.joinButton, this.leaveButton));
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
      this.offerBox,
      this.holdBox,
      this.waitBox,
    );
  }

  update(sale: FlashSale, v: StripView): void {
    const { phase, now, hold } = v;
    this.root.dataset.phase = phase;
    this.root.dataset.offer = String(hold?.offer === true);
    this.when.textContent =
      phase === 'countdown' ? `Starts in ${formatCountdown(sale.startsAt - now)}` : phase === 'open' ? `Ends in ${formatCountdown(sale.endsAt - now)}` : phase === 'sold-out' ? 'Sold out' : `Ended — ${sale.sold} sold`;
    const total = sale.initial + sale.added;
    this.stockText.textContent = String(sale.available);
    this.stockOf.textContent = ` of ${total} left`;
    // CSSOM, not a style attribute: the page's CSP forbids inline style attributes.
    this.bar.style.width = `${total ? Math.round((sale.available / total) * 100) : 0}%`;
    const allowance = sale.perUserLimit - v.bought;
    this.reserveButton.disabled = phase !== 'open' || !v.signedIn || hold !== null || allowance <= 0;
    this.qty.disabled = this.reserveButton.disabled;
    // One unit per person: a quantity picker would only take room.
    this.qty.hidden = sale.perUserLimit <= 1;
    for (const option of this.qty.options) option.disabled = Number(option.value) > allowance;
    if (Number(this.qty.value) > allowance && allowance > 0) this.qty.value = String(allowance);
    this.buyRow.hidden = hold !== null || phase === 'ended' || phase === 'sold-out';
    const soldOutOpen = phase === 'sold-out' && sale.endsAt > now;
    this.note.textContent =
      !v.signedIn && phase !== 'ended' ? (soldOutOpen ? 'Sign in to join the waitlist.' : 'Sign in to buy.') : allowance <= 0 && !hold ? `You have bought your limit of ${sale.perUserLimit}.` : '';
    this.note.hidden = this.note.textContent === '';

    const offer = hold?.offer === true;
    this.holdBox.hidden = hold === null || offer;
    this.offerBox.hidden = !offer;
    for (const n of this.voucherNotes) {
      n.textContent = v.voucherNote;
      n.hidden = v.voucherNote === '';
    }
    for (const b of this.voucherButtons) b.hidden = !v.canUseVoucher;
    if (hold && !offer) {
      this.holdQty.textContent = `${hold.qty} × ${formatMoney(sale.price, sale.currency)}`;
      this.holdTimer.textContent = formatCountdown(hold.expiresAt - now);
      this.checkoutButton.disabled = phase === 'ended';
    }
    if (offer) {
      this.offerTimer.textContent = formatCountdown(hold.expiresAt - now);
      this.buyNowButton.textContent = `Buy now · ${formatMoney(sale.price, sale.currency)}`;
    }

    // The waitlist: offered while sold out and open, to a signed-in viewer without a hold here.
    this.waitBox.hidden = !(soldOutOpen && v.signedIn && hold === null && allowance > 0);
    const waiting = v.waiting > 0 ? `${v.waiting} waiting` : '';
    this.waitLine.textContent = v.position > 0 ? `You’re #${v.position} in line${waiting ? ` · ${waiting}` : ''}` : `Sold out — join the waitlist for the next unit that comes back${waiting ? ` · ${waiting}` : ''}.`;
    this.joinButton.hidden = v.position > 0;
    this.leaveButton.hidden = v.position === 0;
  }

  focusCheckout(): void {
    this.checkoutButton.focus();
  }

  focusOffer(): void {
    this.buyNowButton.focus();
  }
}
