/**
 * The voucher part of a checkout in the bottom sheet (flash-sale, waitlist-offer, buy-now and
 * auction holds alike): pick one of your claimed vouchers, Apply (voucher:apply), and the row
 * shows the price, the discount and what you pay. A refusal (min spend not reached, expired…)
 * shows the page's sentence under it; the hold still checks out at its full price.
 */
import { formatMoney, h } from './dom.js';
import { voucherLabel, type ViewerVoucherPanel } from './voucher-viewer.js';

export interface CheckoutLine {
  holdId: string;
  /** qty × unit price, minor units: the price before any voucher. */
  amount: number;
  currency: string;
}

/** The voucher picker and the price lines for one hold; null when there is nothing to pick. */
export function voucherCheckout(line: CheckoutLine, vouchers: ViewerVoucherPanel, afterApply: () => void): HTMLElement | null {
  const usable = vouchers.usableFor(line.holdId);
  const applied = vouchers.appliedTo(line.holdId);
  const refusal = vouchers.refusalOf(line.holdId);
  if (!usable.length && !refusal) return null;
  const money = (n: number) => formatMoney(n, line.currency);
  const id = `voucher-for-${line.holdId}`;
  const select = h(
    'select',
    { id, name: 'voucherId', class: 'voucher-select' },
    // Once one is applied there is no "none": the server only swaps a hold's voucher for another.
    applied ? null : h('option', { value: '' }, 'Choose a voucher…'),
    ...usable.map(({ voucher }) => h('option', { value: voucher.id, selected: voucher.id === applied }, voucherLabel(voucher, line.currency))),
  );
  const apply: HTMLButtonElement = h(
    'button',
    {
      type: 'button',
      class: 'ghost voucher-apply',
      onclick: () => {
        if (!select.value) return select.focus();
        void vouchers.apply(select.value, line.holdId, apply).then((ok) => ok && afterApply());
      },
    },
    'Apply',
  );
  const price = vouchers.priceOf(line.holdId);
  return h(
    'div',
    { class: 'voucher-checkout', 'data-testid': 'voucher-checkout' },
    usable.length ? h('div', { class: 'voucher-pick' }, h('label', { for: id }, 'Voucher'), select, apply) : null,
    refusal ? h('p', { class: 'voucher-refusal', role: 'alert', 'data-testid': 'voucher-refusal' }, refusal, ' You can still check out without it.') : null,
    price
      ? h(
          'dl',
          { class: 'price-sum', 'data-testid': 'voucher-price' },
          h('div', {}, h('dt', {}, 'Price'), h('dd', {}, money(price.amount))),
          h('div', {}, h('dt', {}, 'Voucher'), h('dd', { class: 'discount' }, `−${money(price.discount)}`)),
          h('div', { class: 'you-pay' }, h('dt', {}, 'You pay'), h('dd', { 'data-testid': 'voucher-you-pay' }, money(price.paid))),
        )
      : null,
  );
}

/** What an order line says: the price paid, and the voucher's part when one was used. */
export function orderPrice(order: { amount: number; discount?: number; paid?: number; currency: string }): string {
  const paid = order.paid ?? order.amount;
  return order.discount ? `${formatMoney(paid, order.currency)} (voucher −${formatMoney(order.discount, order.currency)})` : formatMoney(paid, order.currency);
}
