/**
 * Live auctions on the viewer page: while a lot is open, a compact strip over the video (next to
 * the flash-sale strip) shows the price, the (masked) leader or "You're winning", a countdown that
 * visibly jumps back when a late bid extends it, two bid buttons at the next valid amounts and a
 * max-bid field. The winner gets "You won — Check out" (auction:checkout). The strip is built
 * once per lot and updated in place, so ten state frames a second never steal focus.
 *
 * The next amounts come from the server's `nextMin` and the lot's increment table through the
 * same pure rules module the server uses (auction-rules.ts imports only the protocol).
 */
import { incrementAt } from '../../src/commerce/auctions/auction-rules.js';
import type { AuctionLot, AuctionOrder, AuctionState, AuctionWin, JoinSnapshot } from '../../src/protocol/index.js';
import { busy, formatCountdown, formatMoney, h, minorDigits, show, toast } from './dom.js';
import type { LiveClient } from './live-client.js';
import { productImage } from './product-view.js';

const TICK_MS = 250;
/** A closed lot stays on screen this long, so people see how it ended. */
const ENDED_SHOWN_MS = 10_000;
/** How long the countdown shows it was extended. */
const EXTENDED_FLASH_MS = 1500;

export interface AuctionViewerHooks {
  onOrder(order: { orderId: string; qty: number; amount: number; voucherId?: string | null; discount?: number; paid?: number; currency: string }, title: string): void;
  /** The open lot changed (started, closed): the pinned card hides while its product is auctioned. */
  onLotChanged(): void;
  /** Our win came or went (won, paid, ran out): the sheet lists it as a hold to check out. */
  onWinChanged(): void;
  /** The voucher applied to the win's hold, sent with its checkout. */
  voucherFor(holdId: string): string | undefined;
}

export class ViewerAuctionPanel {
  private lot: AuctionLot | null = null;
  private win: AuctionWin | null = null;
  /** Server clock minus ours, from the newest frame: countdowns use Redis's time. */
  private offset = 0;
  /** From our own bid acks and auction:outbid: the state frame masks the leader's name. */
  private leading = false;
  private paid = false;
  private closedAt: number | null = null;
  private strip: AuctionStrip | null = null;
  private signedIn = false;

  constructor(
    private readonly client: LiveClient,
    private readonly section: HTMLElement,
    private readonly body: HTMLElement,
    private readonly hooks: AuctionViewerHooks,
  ) {
    const s = client.socket;
    s.on('auction:started', ({ lot, serverTime }) => {
      this.offset = serverTime - Date.now();
      this.setLot(lot);
    });
    s.on('auction:state', (st) => this.applyState(st));
    s.on('auction:outbid', ({ lotId, price }) => {
      if (lotId !== this.lot?.lotId) return;
      this.leading = false;
      toast(`You were outbid: ${formatMoney(price, this.lot.currency)}`, 'info', 2500);
      this.render();
    });
    s.on('auction:won', (win) => {
      if (win.lotId !== this.lot?.lotId) return;
      this.win = win;
      this.render();
      this.hooks.onWinChanged();
      this.strip?.focusCheckout();
    });
    setInterval(() => this.render(), TICK_MS);
  }

  load(snap: JoinSnapshot): void {
    this.signedIn = snap.you !== null;
    const part = snap.auctions;
    this.win = part.myWin;
    if (part.current) {
      this.offset = part.current.serverTime - Date.now();
      this.setLot(part.current);
    } else {
      this.setLot(null);
    }
  }

  /** Our unpaid win with its lot, for the sheet's checkout. */
  currentWin(): { win: AuctionWin; lot: AuctionLot } | null {
    return this.win && this.lot && !this.paid ? { win: this.win, lot: this.lot } : null;
  }

  /** Check out our win (from the strip or the sheet). */
  checkoutWin(button: HTMLButtonElement | null): Promise<void> {
    return this.checkout(button);
  }

  /** The lot open on this product, if any. */
  openLotOf(productId: string): AuctionLot | null {
    return this.lot?.productId === productId && this.lot.status === 'open' ? this.lot : null;
  }

  private setLot(lot: AuctionLot | null): void {
    if (lot?.lotId !== this.lot?.lotId) {
      this.strip?.root.remove();
      this.strip = null;
      this.leading = false;
      this.paid = false;
      this.closedAt = null;
      if (this.win && this.win.lotId !== lot?.lotId) this.win = null;
    }
    this.lot = lot;
    this.render();
    this.hooks.onLotChanged();
  }

  private applyState(st: AuctionState): void {
    if (!this.lot || st.lotId !== this.lot.lotId) return;
    const wasOpen = this.lot.status === 'open';
    this.offset = st.serverTime - Date.now();
    this.lot = { ...this.lot, ...st };
    if (st.extended) this.strip?.flashExtended();
    this.render();
    if (wasOpen !== (st.status === 'open')) this.hooks.onLotChanged();
  }

  private now(): number {
    return Date.now() + this.offset;
  }

  private render(): void {
    // An unpaid win past its hold is gone: the server marks the lot unsold.
    if (this.win && this.win.expiresAt <= this.now()) {
      this.win = null;
      this.hooks.onWinChanged();
      toast('Your winning bid’s hold ran out, so the lot went unsold.', 'info');
    }
    const lot = this.lot;
    const open = lot?.status === 'open';
    if (lot && !open && this.closedAt === null) this.closedAt = Date.now();
    // A lot that closed before we saw it (and that we did not win) is not news.
    const keep = lot && (open || (this.win !== null && !this.paid) || (this.closedAt !== null && Date.now() - this.closedAt < ENDED_SHOWN_MS && this.strip !== null));
    if (!lot || !keep) {
      this.strip?.root.remove();
      this.strip = null;
      show(this.section, false);
      return;
    }
    if (!this.strip) {
      this.strip = new AuctionStrip(lot, {
        bid: (amount, max, button) => this.bid(amount, max, button),
        checkout: (button) => this.checkout(button),
      });
      this.body.replaceChildren(this.strip.root);
    }
    this.strip.update(lot, this.now(), { leading: this.leading, signedIn: this.signedIn, win: this.win, paid: this.paid });
    show(this.section, true);
  }

  private async bid(amount: number, max: boolean, button: HTMLButtonElement): Promise<void> {
    const lot = this.lot;
    if (!lot) return;
    if (!this.signedIn) {
      toast('Sign in to bid.', 'info', 2500);
      return;
    }
    await busy(button, async () => {
      // One id per tap: a retried tap is one bid, never two.
      const res = await this.client.request('auction:bid', { lotId: lot.lotId, amount, max, requestId: crypto.randomUUID() });
      this.leading = res.leading;
      if (this.lot?.lotId === lot.lotId && res.bidCount >= this.lot.bidCount) {
        this.lot = { ...this.lot, price: res.price, bidCount: res.bidCount, nextMin: res.nextMin, endsAt: res.endsAt };
      }
      if (res.extended) this.strip?.flashExtended();
      if (max) toast(res.leading ? `Max bid set: up to ${formatMoney(amount, lot.currency)}` : 'Someone’s max is higher: try more.', res.leading ? 'success' : 'info', 2500);
      else if (!res.leading) toast('Someone’s max bid beat that: try the next amount.', 'info', 2500);
      this.render();
    });
  }

  private async checkout(button: HTMLButtonElement | null): Promise<void> {
    const lot = this.lot;
    if (!lot || !this.win) return;
    const voucherId = this.hooks.voucherFor(this.win.holdId);
    await busy(button, async () => {
      const order: AuctionOrder = await this.client.request('auction:checkout', { lotId: lot.lotId, requestId: crypto.randomUUID(), ...(voucherId ? { voucherId } : {}) });
      this.paid = true;
      this.win = null;
      this.closedAt = Date.now();
      this.hooks.onOrder({ ...order, qty: 1 }, lot.title);
      this.hooks.onWinChanged();
      toast(`You bought ${lot.title} for ${formatMoney(order.paid, order.currency)}`, 'success');
      this.render();
    });
  }
}

interface StripActions {
  bid(amount: number, max: boolean, button: HTMLButtonElement): Promise<void>;
  checkout(button: HTMLButtonElement): Promise<void>;
}

interface StripView {
  leading: boolean;
  signedIn: boolean;
  win: AuctionWin | null;
  paid: boolean;
}

/** One lot over the video; its elements live as long as the lot is shown. */
class AuctionStrip {
  readonly root: HTMLElement;
  private readonly when = h('span', { class: 'sale-when auction-when', 'data-testid': 'auction-countdown', role: 'timer' });
  private readonly price = h('span', { class: 'price', 'data-testid': 'auction-price' });
  private readonly leader = h('span', { class: 'auction-leader', 'data-testid': 'auction-leader' });
  private readonly bids = h('span', { 'data-testid': 'auction-bids' });
  private readonly bidRow: HTMLElement;
  private readonly bidButtons: [HTMLButtonElement, HTMLButtonElement];
  private readonly maxInput: HTMLInputElement;
  private readonly maxButton: HTMLButtonElement;
  private readonly winBox: HTMLElement;
  private readonly checkoutButton: HTMLButtonElement;
  private readonly note = h('p', { class: 'sale-note' });
  private amounts: [number, number] = [0, 0];
  private extendedUntil = 0;

  constructor(lot: AuctionLot, actions: StripActions) {
    const bidButton = (i: 0 | 1): HTMLButtonElement => {
      const b: HTMLButtonElement = h('button', { type: 'button', class: i === 0 ? 'cta bid' : 'ghost bid', 'data-testid': `auction-bid-${i + 1}`, onclick: () => void actions.bid(this.amounts[i], false, b) });
      return b;
    };
    this.bidButtons = [bidButton(0), bidButton(1)];
    const maxId = `auction-max-${lot.lotId}`;
    this.maxInput = h('input', { id: maxId, name: 'max', class: 'max-input', inputmode: 'decimal', autocomplete: 'off', pattern: '[0-9]+([.,][0-9]{1,3})?', placeholder: 'Your max bid' });
    this.maxButton = h('button', {
      type: 'button',
      class: 'ghost',
      onclick: () => {
        const amount = Math.round(Number(this.maxInput.value.replace(',', '.')) * 10 ** minorDigits(lot.currency));
        if (!Number.isFinite(amount) || amount <= 0) {
          toast('Please check the max bid.', 'error', 2500);
          return;
        }
        void actions.bid(amount, true, this.maxButton).then(() => (this.maxInput.value = ''));
      },
    }, 'Set max');
    this.bidRow = h(
      'div',
      { class: 'row bid-row' },
      ...this.bidButtons,
      h('span', { class: 'max-field' }, h('label', { for: maxId, class: 'visually-hidden' }, `Max bid in ${lot.currency}`), this.maxInput, this.maxButton),
    );
    this.checkoutButton = h('button', { type: 'button', class: 'cta', 'data-testid': 'auction-checkout', onclick: () => void actions.checkout(this.checkoutButton) }, 'Check out');
    this.winBox = h('div', { class: 'hold auction-win', 'data-testid': 'auction-win', hidden: true }, h('p', {}, h('strong', {}, 'You won'), ' — pay to get it'), this.checkoutButton);
    const titleId = `auction-title-${lot.lotId}`;
    this.root = h(
      'article',
      { class: 'sale-card auction-card', 'data-lot': lot.lotId, 'aria-labelledby': titleId },
      h(
        'div',
        { class: 'sale-main' },
        productImage(lot),
        h(
          'div',
          { class: 'sale-text' },
          h('p', { class: 'sale-kicker' }, h('span', { class: 'flash auction-flag' }, 'Live auction'), ' ', this.when),
          h('h3', { id: titleId }, lot.title),
          h('p', { class: 'sale-price', 'aria-live': 'polite', 'aria-atomic': 'true' }, this.price, ' · ', this.bids, ' · ', this.leader),
        ),
      ),
      this.bidRow,
      this.note,
      this.winBox,
    );
  }

  flashExtended(): void {
    this.extendedUntil = Date.now() + EXTENDED_FLASH_MS;
    // Restart the pulse even if it is still running from the previous extension.
    this.when.classList.remove('extended');
    void this.when.offsetWidth;
    this.when.classList.add('extended');
  }

  update(lot: AuctionLot, now: number, v: StripView): void {
    const open = lot.status === 'open' && lot.endsAt > now;
    this.root.dataset.status = lot.status;
    const money = (n: number) => formatMoney(n, lot.currency);
    if (open) {
      const extending = Date.now() < this.extendedUntil;
      this.when.textContent = `${extending ? 'Extended · ' : ''}${formatCountdown(lot.endsAt - now)}`;
    } else {
      this.when.textContent = lot.status === 'cancelled' ? 'Cancelled' : lot.bidCount ? 'Sold' : lot.status === 'open' ? 'Closing…' : 'No bids';
    }
    if (Date.now() >= this.extendedUntil) this.when.classList.remove('extended');
    this.price.textContent = money(lot.price);
    this.bids.textContent = `${lot.bidCount} bid${lot.bidCount === 1 ? '' : 's'}`;
    const mine = lot.leader !== null && (v.leading || v.win !== null || v.paid);
    this.leader.textContent = lot.leader === null ? 'No bids yet' : mine ? (open ? 'You’re winning' : 'You won') : open ? `${lot.leader} leads` : `Won by ${lot.leader}`;
    this.leader.classList.toggle('me', mine);
    this.amounts = [lot.nextMin, lot.nextMin + incrementAt(lot.increments, lot.nextMin)];
    this.amounts.forEach((amount, i) => {
      const b = this.bidButtons[i]!;
      b.textContent = `Bid ${money(amount)}`;
      b.disabled = !open || !v.signedIn || v.leading;
    });
    this.maxInput.disabled = !open || !v.signedIn;
    this.maxButton.disabled = this.maxInput.disabled;
    this.bidRow.hidden = !open;
    this.note.textContent = open && !v.signedIn ? 'Sign in to bid.' : v.paid ? 'Paid ✓ Your order is in the bag.' : '';
    this.note.hidden = this.note.textContent === '';
    this.winBox.hidden = v.win === null || v.paid;
  }

  focusCheckout(): void {
    this.checkoutButton.focus();
  }
}
