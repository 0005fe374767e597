/**
 * The viewer's bottom sheet, the lists in it: "Reserved for you" (every hold this viewer has — a
 * Buy-now hold, a flash-sale reservation or waitlist offer, an auction win — each with its voucher
 * picker, Check out and Release), "Your vouchers" and "Your orders". The panels that own the holds
 * stay the source of truth; this only draws them and focuses a hold's checkout.
 */
import type { BuyNowHold } from '../../src/protocol/index.js';
import type { ViewerAuctionPanel } from './auction-viewer.js';
import type { BuyNowBook } from './buy-now.js';
import { byId, formatMoney, formatTime, h, show } from './dom.js';
import type { HoldView, ViewerSalePanel } from './sale-viewer.js';
import { orderPrice, voucherCheckout } from './voucher-checkout.js';
import { voucherValue, type ViewerVoucherPanel } from './voucher-viewer.js';

export interface SheetSources {
  buyNow: BuyNowBook;
  sales: ViewerSalePanel;
  auctions: ViewerAuctionPanel;
  vouchers: ViewerVoucherPanel;
  /** This viewer's flash-sale holds, as the sale panel last reported them. */
  saleHolds(): HoldView[];
  /** The room's currency (vouchers carry amounts, not a currency). */
  currency(): string;
}

/** An order just placed, as any of the panels reports it. */
export interface PlacedOrder {
  orderId: string;
  qty: number;
  amount: number;
  voucherId?: string | null;
  discount?: number;
  paid?: number;
  currency: string;
}

export class SheetLists {
  private readonly orders = byId('orders');

  constructor(private readonly src: SheetSources) {
    this.orders.append(h('li', { class: 'muted empty' }, 'No orders yet.'));
  }

  renderHolds(): void {
    const { buyNow, sales, auctions } = this.src;
    const list = byId('holds');
    const win = auctions.currentWin();
    // The rows are rebuilt on every stock frame: keep the focus where it was (a keyboard user on a
    // hold's Check out must not lose it because someone else bought one).
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const focusedHold = focused?.closest<HTMLElement>('#holds [data-hold]')?.dataset.hold;
    const focusedPart = focused?.matches('select') ? 'select' : focused?.matches('button.cta') ? 'button.cta' : null;
    list.replaceChildren(
      ...[...buyNow.holds.values()].map((hold: BuyNowHold) =>
        this.holdRow({
          holdId: hold.holdId,
          title: buyNow.titleOf(hold.productId),
          line: `${hold.qty} × ${formatMoney(hold.unitPrice, hold.currency)} · held until ${formatTime(hold.expiresAt)}`,
          amount: hold.qty * hold.unitPrice,
          currency: hold.currency,
          checkout: (b) => buyNow.checkout(hold, b),
          release: (b) => buyNow.release(hold, b),
        }),
      ),
      ...this.src.saleHolds().map(({ sale, hold }) =>
        this.holdRow({
          holdId: hold.holdId,
          title: sale.title,
          line: hold.offer
            ? `From the waitlist: 1 × ${formatMoney(sale.price, sale.currency)} · yours until ${formatTime(hold.expiresAt)}`
            : `${hold.qty} × ${formatMoney(sale.price, sale.currency)} · held until ${formatTime(hold.expiresAt)}`,
          amount: hold.qty * sale.price,
          currency: sale.currency,
          offer: hold.offer === true,
          checkout: (b) => sales.checkout(hold.holdId, b),
          release: (b) => sales.release(hold.holdId, b),
          attrs: { 'data-sale': sale.id },
        }),
      ),
      ...(win
        ? [
            this.holdRow({
              holdId: win.win.holdId,
              title: win.lot.title,
              line: `You won at ${formatMoney(win.win.price, win.win.currency)} · pay by ${formatTime(win.win.expiresAt)}`,
              amount: win.win.price,
              currency: win.win.currency,
              checkout: (b) => auctions.checkoutWin(b),
              release: null,
              attrs: { 'data-lot': win.lot.lotId },
            }),
          ]
        : []),
    );
    if (!list.children.length) list.append(h('li', { class: 'muted' }, 'Nothing reserved. Tap Buy or Reserve on the video.'));
    if (focusedHold && focusedPart && !list.contains(document.activeElement)) {
      list.querySelector<HTMLElement>(`[data-hold="${CSS.escape(focusedHold)}"] ${focusedPart}`)?.focus();
    }
  }

  /** Focus one hold's checkout in the sheet (its voucher picker first); the sheet must be open. */
  focusCheckout(holdId: string): void {
    const row = document.querySelector<HTMLElement>(`#holds [data-hold="${CSS.escape(holdId)}"]`);
    (row?.querySelector<HTMLElement>('select, button.cta') ?? row)?.focus();
  }

  renderMyVouchers(): void {
    const { vouchers } = this.src;
    const mine = vouchers.mine();
    const currency = this.src.currency();
    const now = vouchers.now();
    byId('my-vouchers').replaceChildren(
      ...mine.map(({ voucher, claim }) => {
        const state =
          claim.state === 'used' ? 'Used ✓'
          : claim.state === 'applied' ? 'On a checkout'
          : claim.state === 'expired' || claim.expiresAt <= now ? 'Expired'
          : `Use by ${formatTime(claim.expiresAt)}`;
        return h(
          'li',
          { class: 'my-voucher', 'data-voucher': voucher.id, 'data-state': claim.state },
          h('strong', {}, voucherValue(voucher, currency)),
          voucher.minSpend > 0 ? h('span', { class: 'muted' }, ` · min. spend ${formatMoney(voucher.minSpend, currency)}`) : null,
          h('span', { class: 'my-voucher-state' }, state),
        );
      }),
    );
    show(byId('vouchers-section'), mine.length > 0);
  }

  addOrder(order: PlacedOrder, title: string): void {
    this.orders.querySelector('.empty')?.remove();
    this.orders.prepend(h('li', { 'data-order': order.orderId }, `Order placed ✓ ${order.qty} × ${title} · ${orderPrice(order)}`));
    this.src.vouchers.used(order.voucherId ?? null, order.orderId);
  }

  /** One hold in the sheet: what it is, the voucher picker with the price, Check out and Release. */
  private holdRow(o: {
    holdId: string;
    title: string;
    line: string;
    amount: number;
    currency: string;
    offer?: boolean;
    checkout: (b: HTMLButtonElement) => Promise<void>;
    release: ((b: HTMLButtonElement) => Promise<void>) | null;
    attrs?: Record<string, string>;
  }): HTMLElement {
    const checkout: HTMLButtonElement = h('button', { type: 'button', class: 'cta', onclick: () => void o.checkout(checkout) }, o.offer ? 'Buy now' : 'Check out');
    const release: HTMLButtonElement | null = o.release
      ? h('button', { type: 'button', class: 'ghost', onclick: () => void o.release?.(release!) }, o.offer ? 'No thanks' : 'Release')
      : null;
    const afterApply = () => document.querySelector<HTMLButtonElement>(`#holds [data-hold="${CSS.escape(o.holdId)}"] button.cta`)?.focus();
    return h(
      'li',
      { class: `hold-row${o.offer ? ' offer-row' : ''}`, 'data-hold': o.holdId, ...o.attrs },
      h('div', { class: 'grow' }, h('strong', {}, o.title), h('br'), o.line),
      voucherCheckout({ holdId: o.holdId, amount: o.amount, currency: o.currency }, this.src.vouchers, afterApply),
      h('div', { class: 'row' }, checkout, release),
    );
  }
}
