/**
 * The host's flash-sale controls: start a sale on a product of the bag (price, quantity, limit,
 * countdown, duration, hold time), watch its stock, restock or stop it; and the sales figures
 * (orders, units, GMV, conversion) for the dashboard.
 */
import { saleStartSchema, type FlashSale, type JoinSnapshot, type Product, type RoomSaleFigures, type SaleFigures } from '../../src/protocol/index.js';
import { busy, confirmDialog, formatCountdown, formatMoney, formValues, h, minorDigits, toast } from './dom.js';
import type { LiveClient } from './live-client.js';
import { SaleBook } from './sale-book.js';
import { check } from './session.js';

export class HostSalePanel {
  readonly root: HTMLElement;
  readonly book: SaleBook;
  private readonly form: HTMLFormElement;
  private readonly productSelect: HTMLSelectElement;
  private readonly list = h('ul', { class: 'product-list', 'data-testid': 'host-sales' });
  private readonly rows = new Map<string, SaleRow>();
  private bag: Product[] = [];
  private readonly startRequest = new RetryId();
  private readonly priceInput: HTMLInputElement;
  /** The newest figures (pushed or polled), for the end-of-show summary. */
  lastFigures: RoomSaleFigures | null = null;

  constructor(
    private readonly client: LiveClient,
    onFigures: (f: RoomSaleFigures, currency: string) => void,
  ) {
    this.book = new SaleBook(client);
    this.book.onChange(() => this.render());
    this.productSelect = h('select', { id: 'sale-product', name: 'productId', required: true });
    const field = (id: string, label: string, attrs: Record<string, string | number | boolean>) =>
      h('div', {}, h('label', { for: id }, label), h('input', { id, ...attrs }));
    const choice = (id: string, label: string, name: string, options: [number, string][], chosen: number) =>
      h('div', {}, h('label', { for: id }, label), h('select', { id, name }, ...options.map(([value, text]) => h('option', { value, selected: value === chosen }, text))));
    this.priceInput = h('input', { id: 'sale-price', name: 'price', required: true, inputmode: 'decimal', pattern: '[0-9]+([.,][0-9]{1,3})?' });
    // A new product chosen: its list price is the starting point for the sale price.
    this.productSelect.addEventListener('change', () => this.prefillPrice());
    this.form = h(
      'form',
      { class: 'stack', 'aria-label': 'Start a flash sale' },
      h(
        'div',
        { class: 'fields' },
        h('div', { class: 'wide-field' }, h('label', { for: 'sale-product' }, 'Product'), this.productSelect),
        h('div', {}, h('label', { for: 'sale-price' }, 'Sale price'), this.priceInput),
        field('sale-quantity', 'Units', { name: 'quantity', type: 'number', min: 1, value: 10, required: true }),
        field('sale-limit', 'Limit per person', { name: 'perUserLimit', type: 'number', min: 1, max: 100, value: 1, required: true }),
        choice('sale-start-in', 'Starts', 'startInSec', [[0, 'Now'], [5, 'In 5 s'], [10, 'In 10 s'], [30, 'In 30 s'], [60, 'In 1 min'], [120, 'In 2 min'], [300, 'In 5 min']], 0),
        choice('sale-duration', 'Runs for', 'durationSec', [[60, '1 min'], [120, '2 min'], [300, '5 min'], [600, '10 min'], [900, '15 min'], [1800, '30 min'], [3600, '1 hour']], 300),
        choice('sale-hold', 'Hold at checkout', 'holdSec', [[60, '1 min'], [120, '2 min'], [300, '5 min'], [600, '10 min']], 120),
      ),
      h('div', {}, h('button', { type: 'submit' }, 'Start flash sale')),
    );
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void busy(this.form.querySelector('button'), () => this.start());
    });
    this.root = h('div', {}, this.list, h('details', { class: 'sale-form', open: true }, h('summary', {}, 'Start a flash sale'), this.form));

    const s = client.socket;
    const figures = (f: RoomSaleFigures) => {
      this.lastFigures = f;
      onFigures(f, this.currency());
      this.render();
    };
    s.on('sale:stats', figures);
    s.on('sale:bought', ({ name, qty, saleId }) => toast(`${name} bought ${qty} × ${this.book.sales.get(saleId)?.title ?? ''}`, 'success', 3000));
    setInterval(() => {
      if (this.rows.size) this.render();
    }, 500);
    this.pollFigures = async () => figures(await client.request('sale:stats', {}));
  }

  /** Called by the dashboard poll; sale:stats pushes cover the rest. */
  readonly pollFigures: () => Promise<void>;

  load(snap: JoinSnapshot): void {
    this.book.load(snap);
    this.setBag(snap.commerce.bag);
  }

  setBag(bag: Product[]): void {
    this.bag = bag;
    const chosen = this.productSelect.value;
    this.productSelect.replaceChildren(...bag.map((p) => h('option', { value: p.id }, `${p.title} (${formatMoney(p.price, p.currency)})`)));
    if (bag.some((p) => p.id === chosen)) this.productSelect.value = chosen;
    if (!this.priceInput.value || this.productSelect.value !== chosen) this.prefillPrice();
  }

  private prefillPrice(): void {
    const product = this.bag.find((p) => p.id === this.productSelect.value);
    if (product) this.priceInput.value = (product.price / 10 ** minorDigits(product.currency)).toFixed(minorDigits(product.currency));
  }

  /** The live ended: its sales ended with it (the server ends them; our connection may already be
   * gone before it says so), so no row keeps counting down or offers Restock / Stop. */
  endAll(): void {
    for (const sale of this.book.list()) if (sale.status !== 'ended') this.book.put({ ...sale, status: 'ended', endReason: 'room-ended' });
  }

  /** The currency figures are shown in (for the summary). */
  get figuresCurrency(): string {
    return this.currency();
  }

  /** GMV is shown in the currency of the room's sales (a room sells in one currency in practice). */
  private currency(): string {
    return this.book.list()[0]?.currency ?? this.bag[0]?.currency ?? 'USD';
  }

  private async start(): Promise<void> {
    const v = formValues(this.form);
    const product = this.bag.find((p) => p.id === v.productId);
    if (!product) throw new Error('Add a product first');
    const payload = check(saleStartSchema, {
      productId: product.id,
      price: Math.round(Number((v.price ?? '').replace(',', '.')) * 10 ** minorDigits(product.currency)),
      quantity: Number(v.quantity),
      perUserLimit: Number(v.perUserLimit),
      startInSec: Number(v.startInSec),
      durationSec: Number(v.durationSec),
      holdSec: Number(v.holdSec),
    });
    const sale = await this.client.request('sale:start', { ...payload, requestId: this.startRequest.idFor(JSON.stringify(payload)) });
    this.startRequest.done();
    this.book.put(sale);
    toast(`Flash sale started: ${sale.title}`, 'success');
  }

  private render(): void {
    for (const sale of this.book.list()) {
      let row = this.rows.get(sale.id);
      if (!row) {
        row = new SaleRow(sale, this.client);
        this.rows.set(sale.id, row);
        this.list.prepend(row.root);
      }
      row.update(sale, this.book.phase(sale), this.book.now(), this.lastFigures?.sales.find((f) => f.saleId === sale.id)?.waitlist ?? null);
    }
  }
}

/**
 * One requestId per form submission: pressing the button again after an error (UNAVAILABLE, a
 * lost ack) with the same input resends the same requestId, so the server acts once however often
 * it arrives — a timed-out restock retried does not double the stock. Changed input or a success
 * starts a new submission.
 */
class RetryId {
  private pending: { input: string; requestId: string } | null = null;

  idFor(input: string): string {
    if (this.pending?.input !== input) this.pending = { input, requestId: crypto.randomUUID() };
    return this.pending.requestId;
  }

  done(): void {
    this.pending = null;
  }
}

class SaleRow {
  readonly root: HTMLLIElement;
  private readonly state = h('strong', { 'data-testid': 'host-sale-countdown' });
  private readonly stock = h('span', { 'data-testid': 'host-sale-stock' });
  private readonly waitlist = h('span', { class: 'small-text waitlist-figures', 'data-testid': 'host-sale-waitlist' });
  private readonly controls: HTMLElement;

  constructor(sale: FlashSale, client: LiveClient) {
    const restockId = `restock-${sale.id}`;
    const restockInput = h('input', { id: restockId, type: 'number', min: 1, value: 5, class: 'narrow' });
    const restockRequest = new RetryId();
    const restock: HTMLButtonElement = h('button', {
      type: 'button',
      class: 'secondary',
      onclick: () =>
        void busy(restock, async () => {
          const quantity = Number(restockInput.value);
          await client.request('sale:restock', { saleId: sale.id, quantity, requestId: restockRequest.idFor(String(quantity)) });
          restockRequest.done();
          toast(`Restocked ${quantity}`, 'success');
        }),
    }, 'Restock');
    const stop: HTMLButtonElement = h('button', {
      type: 'button',
      class: 'danger',
      'aria-label': `Stop the flash sale of ${sale.title}`,
      onclick: async () => {
        const sure = await confirmDialog({ title: `Stop the sale of ${sale.title}?`, body: 'It ends now for everyone; reservations not checked out go back.', confirm: 'Stop sale', danger: true });
        if (sure) await busy(stop, () => client.request('sale:stop', { saleId: sale.id }));
      },
    }, 'Stop sale');
    this.controls = h('div', { class: 'row' }, h('label', { for: restockId }, 'Add units'), restockInput, restock, stop);
    this.root = h(
      'li',
      { 'data-sale': sale.id },
      h('div', { class: 'grow' }, h('strong', {}, sale.title), ' ', h('span', { class: 'price' }, formatMoney(sale.price, sale.currency)), h('br'), this.state, ' ', this.stock, this.waitlist),
      this.controls,
    );
  }

  update(sale: FlashSale, phase: string, now: number, waitlist: SaleFigures['waitlist'] | null): void {
    this.root.dataset.phase = phase;
    this.state.textContent =
      phase === 'countdown' ? `Opens in ${formatCountdown(sale.startsAt - now)}` : phase === 'ended' ? 'Ended' : `${phase === 'sold-out' ? 'Sold out' : 'Open'} · ends in ${formatCountdown(sale.endsAt - now)}`;
    this.stock.textContent = `${sale.available} left · ${sale.held} held · ${sale.sold} sold`;
    this.controls.hidden = phase === 'ended';
    // The sold-out waitlist: waiting now, units offered, offers bought, offers that ran out.
    const w = waitlist ?? { length: 0, offers: 0, conversions: 0, lapsed: 0 };
    const any = w.length + w.offers > 0;
    this.waitlist.hidden = !any && phase !== 'sold-out';
    this.waitlist.textContent = `Waitlist: ${w.length} waiting · ${w.offers} offered · ${w.conversions} bought · ${w.lapsed} lapsed`;
  }
}
