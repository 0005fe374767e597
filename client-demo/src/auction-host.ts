/**
 * The host's auction controls: put a bag product up as a lot (start price prefilled from its
 * price, duration, extend or sudden death), watch it live — price, masked leader, bid count,
 * countdown, the newest bids — and cancel it after a confirmation. One lot at a time per room,
 * so the form steps aside while a lot is open.
 */
import { auctionStartSchema, type AuctionBidEntry, type AuctionLot, type JoinSnapshot, type Product } from '../../src/protocol/index.js';
import { busy, confirmDialog, formatCountdown, formatMoney, formValues, h, minorDigits, show, toast } from './dom.js';
import type { LiveClient } from './live-client.js';
import { check } from './session.js';

const TICK_MS = 250;
/** The host's bid list is refreshed at most this often, however fast bids come. */
const BIDS_REFRESH_MS = 1000;

export class HostAuctionPanel {
  readonly root: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly productSelect: HTMLSelectElement;
  private readonly priceInput: HTMLInputElement;
  private readonly live = h('div', { class: 'auction-live', 'data-testid': 'host-auction', hidden: true });
  private readonly status = h('strong', { 'data-testid': 'host-auction-countdown' });
  private readonly figures = h('span', { 'data-testid': 'host-auction-figures' });
  private readonly heading = h('strong', {});
  private readonly bidList = h('ul', { class: 'auction-bids', 'data-testid': 'host-auction-bids' });
  private readonly cancelButton: HTMLButtonElement;
  private lot: AuctionLot | null = null;
  private offset = 0;
  private bag: Product[] = [];
  private bidsShownFor = -1;
  private bidsInFlight = false;
  private lastBidsFetch = 0;
  private startRequestId: { input: string; id: string } | null = null;

  constructor(private readonly client: LiveClient) {
    this.productSelect = h('select', { id: 'auction-product', name: 'productId', required: true });
    this.priceInput = h('input', { id: 'auction-price', name: 'startPrice', required: true, inputmode: 'decimal', pattern: '[0-9]+([.,][0-9]{1,3})?' });
    this.productSelect.addEventListener('change', () => this.prefillPrice());
    const choice = (id: string, label: string, name: string, options: [string | number, string][], chosen: string | number) =>
      h('div', {}, h('label', { for: id }, label), h('select', { id, name }, ...options.map(([value, text]) => h('option', { value, selected: value === chosen }, text))));
    this.form = h(
      'form',
      { class: 'stack', 'aria-label': 'Start an auction' },
      h(
        'div',
        { class: 'fields' },
        h('div', { class: 'wide-field' }, h('label', { for: 'auction-product' }, 'Product to auction'), this.productSelect),
        h('div', {}, h('label', { for: 'auction-price' }, 'Start price'), this.priceInput),
        choice('auction-duration', 'Auction length', 'durationSec', [[15, '15 s'], [30, '30 s'], [60, '1 min'], [120, '2 min'], [300, '5 min']], 60),
        choice('auction-mode', 'Late bids', 'mode', [['extend', 'Extend the timer (10 s)'], ['sudden-death', 'Sudden death']], 'extend'),
      ),
      h('div', {}, h('button', { type: 'submit' }, 'Start auction')),
    );
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void busy(this.form.querySelector('button'), () => this.start());
    });
    this.cancelButton = h('button', { type: 'button', class: 'danger', onclick: () => void this.cancel() }, 'Cancel lot');
    this.live.append(
      h('div', { class: 'row spread' }, h('div', { class: 'grow' }, this.heading, h('br'), this.status, ' ', this.figures), this.cancelButton),
      this.bidList,
    );
    this.root = h('div', {}, this.live, h('details', { class: 'sale-form', open: true }, h('summary', {}, 'Start an auction'), this.form));

    const s = client.socket;
    s.on('auction:started', ({ lot, serverTime }) => {
      this.offset = serverTime - Date.now();
      this.setLot(lot);
    });
    s.on('auction:state', (st) => {
      if (st.lotId !== this.lot?.lotId) return;
      this.offset = st.serverTime - Date.now();
      this.lot = { ...this.lot, ...st };
      this.render();
    });
    setInterval(() => {
      if (this.lot) this.render();
    }, TICK_MS);
  }

  load(snap: JoinSnapshot): void {
    const current = snap.auctions.current;
    if (current) this.offset = current.serverTime - Date.now();
    this.setLot(current);
    this.setBag(snap.commerce.bag);
  }

  setBag(bag: Product[]): void {
    this.bag = bag;
    const chosen = this.productSelect.value;
    this.productSelect.replaceChildren(...bag.map((p) => h('option', { value: p.id }, `${p.title} (${formatMoney(p.price, p.currency)})`)));
    if (bag.some((p) => p.id === chosen)) this.productSelect.value = chosen;
    if (!this.priceInput.value || this.productSelect.value !== chosen) this.prefillPrice();
  }

  /** The live ended: the server ends the lot; our connection may be gone before it says so. */
  endAll(): void {
    if (this.lot?.status === 'open') this.setLot({ ...this.lot, status: 'cancelled', endReason: 'room-ended' });
  }

  private prefillPrice(): void {
    const product = this.bag.find((p) => p.id === this.productSelect.value);
    if (product) this.priceInput.value = (product.price / 10 ** minorDigits(product.currency)).toFixed(minorDigits(product.currency));
  }

  private setLot(lot: AuctionLot | null): void {
    if (lot?.lotId !== this.lot?.lotId) {
      this.bidList.replaceChildren();
      this.bidsShownFor = -1;
    }
    this.lot = lot;
    this.render();
  }

  private async start(): Promise<void> {
    const v = formValues(this.form);
    const product = this.bag.find((p) => p.id === v.productId);
    if (!product) throw new Error('Add a product first');
    const payload = check(auctionStartSchema, {
      productId: product.id,
      startPrice: Math.round(Number((v.startPrice ?? '').replace(',', '.')) * 10 ** minorDigits(product.currency)),
      durationSec: Number(v.durationSec),
      mode: v.mode,
    });
    // The same input sent again after an error is the same request: one lot, however often it arrives.
    const input = JSON.stringify(payload);
    if (this.startRequestId?.input !== input) this.startRequestId = { input, id: crypto.randomUUID() };
    const lot = await this.client.request('auction:start', { ...payload, requestId: this.startRequestId.id });
    this.startRequestId = null;
    this.setLot(lot);
    toast(`Auction started: ${lot.title}`, 'success');
  }

  private async cancel(): Promise<void> {
    const lot = this.lot;
    if (!lot) return;
    const sure = await confirmDialog({ title: `Cancel the auction of ${lot.title}?`, body: 'Bidding stops now for everyone and nobody wins this lot.', confirm: 'Cancel lot', danger: true });
    if (!sure) return;
    await busy(this.cancelButton, async () => {
      this.setLot(await this.client.request('auction:cancel', { lotId: lot.lotId }));
      toast('Auction cancelled', 'info');
    });
  }

  private render(): void {
    const lot = this.lot;
    const open = lot?.status === 'open';
    show(this.live, lot !== null);
    // One lot at a time: the form comes back once the lot has closed.
    show(this.form.parentElement as HTMLElement, !open);
    if (!lot) return;
    const now = Date.now() + this.offset;
    const money = (n: number) => formatMoney(n, lot.currency);
    this.live.dataset.status = lot.status;
    this.heading.textContent = `${lot.title} · ${lot.mode === 'extend' ? `extend ${lot.extendSec} s` : 'sudden death'}`;
    const ended: Record<string, string> = { 'awaiting-payment': 'Won — awaiting payment', sold: 'Sold', unsold: 'Unsold', cancelled: 'Cancelled' };
    this.status.textContent = open ? `Ends in ${formatCountdown(lot.endsAt - now)}` : (ended[lot.status] ?? lot.status);
    this.figures.textContent = `${money(lot.price)} · ${lot.bidCount} bid${lot.bidCount === 1 ? '' : 's'} · ${lot.leader ? `${lot.leader} leads` : 'no bids yet'}`;
    this.cancelButton.hidden = !open;
    if (lot.bidCount !== this.bidsShownFor) void this.refreshBids(lot);
  }

  /** The newest bids, fetched when the count moved (at most once a second). */
  private async refreshBids(lot: AuctionLot): Promise<void> {
    if (this.bidsInFlight || Date.now() - this.lastBidsFetch < BIDS_REFRESH_MS || lot.bidCount === 0) return;
    this.bidsInFlight = true;
    this.lastBidsFetch = Date.now();
    const count = lot.bidCount;
    try {
      const bids = await this.client.request('auction:bids', { lotId: lot.lotId, limit: 5 });
      if (this.lot?.lotId !== lot.lotId) return;
      this.bidsShownFor = count;
      this.bidList.replaceChildren(...bids.map((b) => this.bidItem(b, lot.currency)));
    } catch {
      // Best effort: the figures line above stays true; the next change tries again.
    } finally {
      this.bidsInFlight = false;
    }
  }

  private bidItem(b: AuctionBidEntry, currency: string): HTMLElement {
    const what = b.max ? 'max bid' : formatMoney(b.amount ?? b.price, currency);
    return h('li', {}, `#${b.seq} ${b.bidder.name}: ${what} → ${formatMoney(b.price, currency)}`);
  }
}
