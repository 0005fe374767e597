/**
 * The host's voucher controls: a form (amount or percent off, value, minimum spend, how many, how
 * long a claimed voucher stays valid, how long claiming stays open, followers only), the room's
 * vouchers with the count left live (voucher:stock), a countdown of the claiming window and Stop,
 * and each voucher's figures — claims, orders that used it, the discount given — from
 * GET /api/rooms/:roomId/vouchers (the totals also reach the dashboard through sale:stats).
 */
import { voucherDropSchema, VOUCHER_PERCENT_MAX, type JoinSnapshot, type Voucher, type VoucherFigures } from '../../src/protocol/index.js';
import { busy, confirmDialog, formatCountdown, formatMoney, formValues, h, minorDigits, show, toast } from './dom.js';
import type { LiveClient } from './live-client.js';
import { api, check } from './session.js';
import { voucherValue } from './voucher-viewer.js';

const TICK_MS = 500;

export class HostVoucherPanel {
  readonly root: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly valueLabel = h('label', { for: 'voucher-value' }, 'Amount off');
  private readonly valueInput: HTMLInputElement;
  private readonly list = h('ul', { class: 'product-list voucher-rows', 'data-testid': 'host-vouchers' });
  private readonly rows = new Map<string, VoucherRow>();
  private readonly vouchers = new Map<string, Voucher>();
  private figures = new Map<string, VoucherFigures>();
  private offset = 0;
  private dropRequest: { input: string; id: string } | null = null;

  constructor(
    private readonly client: LiveClient,
    private readonly roomId: string,
    /** The room's currency: amounts and minimum spends are minor units of it. */
    private readonly currency: () => string,
  ) {
    const kind = h('select', { id: 'voucher-kind', name: 'kind' }, h('option', { value: 'amount' }, 'Amount off'), h('option', { value: 'percent' }, 'Percent off'));
    this.valueInput = h('input', { id: 'voucher-value', name: 'value', required: true, inputmode: 'decimal', pattern: '[0-9]+([.,][0-9]{1,3})?', value: '5', autocomplete: 'off' });
    kind.addEventListener('change', () => {
      const percent = kind.value === 'percent';
      this.valueLabel.textContent = percent ? `Percent off (1–${VOUCHER_PERCENT_MAX})` : 'Amount off';
      this.valueInput.inputMode = percent ? 'numeric' : 'decimal';
      this.valueInput.value = percent ? '10' : '5';
    });
    const field = (id: string, label: string, attrs: Record<string, string | number | boolean>) => h('div', {}, h('label', { for: id }, label), h('input', { id, ...attrs }));
    const choice = (id: string, label: string, name: string, options: [number, string][], chosen: number) =>
      h('div', {}, h('label', { for: id }, label), h('select', { id, name }, ...options.map(([value, text]) => h('option', { value, selected: value === chosen }, text))));
    this.form = h(
      'form',
      { class: 'stack', 'aria-label': 'Drop a voucher' },
      h(
        'div',
        { class: 'fields' },
        h('div', {}, h('label', { for: 'voucher-kind' }, 'Kind'), kind),
        h('div', {}, this.valueLabel, this.valueInput),
        field('voucher-min-spend', 'Minimum spend', { name: 'minSpend', inputmode: 'decimal', pattern: '[0-9]+([.,][0-9]{1,3})?', value: '0', autocomplete: 'off' }),
        field('voucher-quantity', 'How many', { name: 'quantity', type: 'number', min: 1, max: 100000, value: 50, inputmode: 'numeric', required: true }),
        choice('voucher-valid', 'Valid after claim', 'validSec', [[300, '5 min'], [600, '10 min'], [1800, '30 min'], [3600, '1 hour'], [86400, '24 hours']], 1800),
        choice('voucher-window', 'Claim window', 'durationSec', [[30, '30 s'], [60, '1 min'], [120, '2 min'], [300, '5 min'], [600, '10 min']], 120),
      ),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'followersOnly', value: 'yes', id: 'voucher-followers' }), ' Followers only'),
      h('div', {}, h('button', { type: 'submit' }, 'Drop voucher')),
    );
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void busy(this.form.querySelector('button'), () => this.drop());
    });
    this.root = h('div', {}, this.list, h('details', { class: 'sale-form', open: true }, h('summary', {}, 'Drop a voucher'), this.form));

    const s = client.socket;
    s.on('voucher:dropped', ({ voucher, serverTime }) => {
      this.offset = serverTime - Date.now();
      this.put(voucher);
    });
    s.on('voucher:stock', ({ voucherId, remaining }) => this.patch(voucherId, { remaining }));
    s.on('voucher:claimed-out', ({ voucherId }) => this.patch(voucherId, { remaining: 0 }));
    s.on('voucher:stopped', ({ voucher }) => this.put(voucher));
    setInterval(() => {
      if (this.rows.size) this.render();
    }, TICK_MS);
  }

  load(snap: JoinSnapshot): void {
    for (const v of snap.vouchers?.active ?? []) this.vouchers.set(v.id, v);
    this.render();
  }

  /** Each voucher's figures and the closed ones the snapshot leaves out (the studio polls it). */
  async pollFigures(): Promise<void> {
    const res = await api<{ vouchers: (Voucher & VoucherFigures)[] }>('GET', `/api/rooms/${encodeURIComponent(this.roomId)}/vouchers`);
    this.figures = new Map(res.vouchers.map((v) => [v.id, v]));
    for (const v of res.vouchers) {
      const known = this.vouchers.get(v.id);
      // Live counts (voucher:stock) may be newer than the poll: keep the lower remaining.
      this.vouchers.set(v.id, known ? { ...v, remaining: Math.min(v.remaining, known.remaining), status: known.status === 'ended' ? 'ended' : v.status } : v);
    }
    this.render();
  }

  private put(v: Voucher): void {
    this.vouchers.set(v.id, v);
    this.render();
  }

  private patch(voucherId: string, fields: Partial<Voucher>): void {
    const v = this.vouchers.get(voucherId);
    if (v) this.put({ ...v, ...fields });
  }

  private async drop(): Promise<void> {
    const v = formValues(this.form);
    const currency = this.currency();
    const minor = (text: string | undefined) => Math.round(Number((text ?? '').trim().replace(',', '.')) * 10 ** minorDigits(currency));
    const payload = check(voucherDropSchema, {
      kind: v.kind,
      value: v.kind === 'percent' ? Number(v.value) : minor(v.value),
      minSpend: v.minSpend?.trim() ? minor(v.minSpend) : 0,
      quantity: Number(v.quantity),
      validSec: Number(v.validSec),
      durationSec: Number(v.durationSec),
      followersOnly: v.followersOnly === 'yes',
    });
    // The same input sent again after an error is the same drop: one voucher, however often it arrives.
    const input = JSON.stringify(payload);
    if (this.dropRequest?.input !== input) this.dropRequest = { input, id: crypto.randomUUID() };
    const { voucher } = await this.client.request('voucher:drop', { ...payload, requestId: this.dropRequest.id });
    this.dropRequest = null;
    this.put(voucher);
    toast(`Voucher dropped: ${voucherValue(voucher, currency)}`, 'success');
  }

  private render(): void {
    const now = Date.now() + this.offset;
    const sorted = [...this.vouchers.values()].sort((a, b) => b.startsAt - a.startsAt);
    for (const v of sorted) {
      let row = this.rows.get(v.id);
      if (!row) {
        row = new VoucherRow(v, this.client);
        this.rows.set(v.id, row);
        this.list.prepend(row.root);
      }
      row.update(v, now, this.figures.get(v.id) ?? null, this.currency());
    }
    show(this.list, this.rows.size > 0);
  }
}

class VoucherRow {
  readonly root: HTMLLIElement;
  private readonly title = h('strong', {});
  private readonly state = h('strong', { 'data-testid': 'host-voucher-state' });
  private readonly count = h('span', { 'data-testid': 'host-voucher-remaining' });
  private readonly figures = h('span', { class: 'muted small-text', 'data-testid': 'host-voucher-figures' });
  private readonly stop: HTMLButtonElement;

  constructor(v: Voucher, client: LiveClient) {
    this.stop = h(
      'button',
      {
        type: 'button',
        class: 'danger',
        'data-testid': 'host-voucher-stop',
        onclick: async () => {
          const sure = await confirmDialog({ title: 'Stop claiming this voucher?', body: 'Nobody else can claim it; vouchers already claimed stay usable until they expire.', confirm: 'Stop voucher', danger: true });
          if (sure) await busy(this.stop, () => client.request('voucher:stop', { voucherId: v.id }));
        },
      },
      'Stop',
    );
    this.root = h('li', { 'data-voucher': v.id }, h('div', { class: 'grow' }, this.title, h('br'), this.state, ' · ', this.count, h('br'), this.figures), this.stop);
  }

  update(v: Voucher, now: number, f: VoucherFigures | null, currency: string): void {
    const open = v.status === 'open' && v.endsAt > now;
    this.root.dataset.status = open ? 'open' : 'ended';
    const terms = [voucherValue(v, currency), v.minSpend ? `min. ${formatMoney(v.minSpend, currency)}` : null, v.followersOnly ? 'followers only' : null].filter(Boolean);
    this.title.textContent = terms.join(' · ');
    this.state.textContent = open ? `Claiming · ${formatCountdown(v.endsAt - now)} left` : 'Claiming closed';
    this.count.textContent = `${v.remaining} of ${v.quantity} left · ${v.quantity - v.remaining} claimed`;
    this.figures.textContent = f ? `${f.redemptions} used on orders · ${formatMoney(f.discount, currency)} off` : '';
    this.stop.hidden = !open;
    this.stop.setAttribute('aria-label', `Stop the voucher ${voucherValue(v, currency)}`);
  }
}
