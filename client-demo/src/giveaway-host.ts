/**
 * The host's giveaway controls: a form (prize: a bag product or a short text; how long; how many
 * winners; who may enter), the running giveaway with its countdown, entry count and the commitment
 * hash published before anyone entered, then the result — masked winners, the revealed seed, the
 * entries download and how anyone can check the draw with scripts/verify-giveaway.mjs — and the
 * figures (giveaway:stats: entries by rule and free, winners, prizes claimed).
 */
import { giveawayStartSchema, type Giveaway, type GiveawayFigures, type JoinSnapshot, type Product } from '../../src/protocol/index.js';
import { busy, formatCountdown, formValues, h, show, toast } from './dom.js';
import { prizeTitle, RULE_LINES } from './giveaway-viewer.js';
import type { LiveClient } from './live-client.js';
import { check } from './session.js';

const TICK_MS = 250;

export class HostGiveawayPanel {
  readonly root: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly productSelect: HTMLSelectElement;
  private readonly textInput: HTMLInputElement;
  private readonly kindSelect: HTMLSelectElement;
  private readonly live = h('div', { class: 'giveaway-live', 'data-testid': 'host-giveaway', hidden: true });
  private readonly heading = h('strong', {});
  private readonly status = h('strong', { 'data-testid': 'host-giveaway-countdown' });
  private readonly entries = h('span', { 'data-testid': 'host-giveaway-entries' });
  private readonly commitment = h('code', { class: 'hash', 'data-testid': 'host-giveaway-commitment' });
  private readonly result = h('div', { class: 'giveaway-result', 'data-testid': 'host-giveaway-result', hidden: true });
  private readonly figures = h('dl', { class: 'stats giveaway-figures', 'data-testid': 'host-giveaway-figures' });
  private readonly figuresCaption = h('p', { class: 'figures-caption muted small-text' });
  private readonly figuresBox = h('div', { hidden: true }, this.figuresCaption, this.figures);
  private giveaway: Giveaway | null = null;
  private offset = 0;
  private bag: Product[] = [];
  private figuresById = new Map<string, GiveawayFigures>();
  private startRequestId: { input: string; id: string } | null = null;

  constructor(private readonly client: LiveClient) {
    this.kindSelect = h('select', { id: 'giveaway-kind', name: 'kind' }, h('option', { value: 'product' }, 'A product of the bag'), h('option', { value: 'text' }, 'Something else (text)'));
    this.productSelect = h('select', { id: 'giveaway-product', name: 'productId' });
    this.textInput = h('input', { id: 'giveaway-text', name: 'text', maxlength: 80, placeholder: 'e.g. Signed poster', autocomplete: 'off' });
    const productField = h('div', { class: 'wide-field' }, h('label', { for: 'giveaway-product' }, 'Prize'), this.productSelect);
    const textField = h('div', { class: 'wide-field', hidden: true }, h('label', { for: 'giveaway-text' }, 'Prize'), this.textInput);
    this.kindSelect.addEventListener('change', () => {
      const text = this.kindSelect.value === 'text';
      show(productField, !text);
      show(textField, text);
    });
    const choice = (id: string, label: string, name: string, options: [string | number, string][], chosen: string | number) =>
      h('div', {}, h('label', { for: id }, label), h('select', { id, name }, ...options.map(([value, text]) => h('option', { value, selected: value === chosen }, text))));
    this.form = h(
      'form',
      { class: 'stack', 'aria-label': 'Start a giveaway' },
      h(
        'div',
        { class: 'fields' },
        h('div', { class: 'wide-field' }, h('label', { for: 'giveaway-kind' }, 'Prize type'), this.kindSelect),
        productField,
        textField,
        choice('giveaway-duration', 'Open for', 'durationSec', [[30, '30 s'], [60, '1 min'], [120, '2 min'], [300, '5 min'], [600, '10 min']], 60),
        h('div', {}, h('label', { for: 'giveaway-winners' }, 'Winners'), h('input', { id: 'giveaway-winners', name: 'winners', type: 'number', min: 1, max: 100, value: 1, inputmode: 'numeric', required: true })),
        choice('giveaway-rule', 'Who may enter', 'rule', [['everyone', 'Everyone'], ['followers', 'Followers'], ['commenters', 'Commenters'], ['buyers', 'Buyers']], 'everyone'),
      ),
      h('p', { class: 'muted small-text' }, 'Whatever the rule, anyone may also enter free (no purchase necessary).'),
      h('div', {}, h('button', { type: 'submit' }, 'Start giveaway')),
    );
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void busy(this.form.querySelector('button'), () => this.start());
    });
    this.live.append(
      h('p', { class: 'giveaway-head' }, this.heading, h('br'), this.status, ' · ', this.entries),
      h('p', { class: 'small-text' }, 'Commitment (sha256 of the secret seed, published before any entry): ', this.commitment),
      this.result,
    );
    this.root = h('div', {}, this.live, this.figuresBox, h('details', { class: 'sale-form', open: true }, h('summary', {}, 'Start a giveaway'), this.form));

    const s = client.socket;
    s.on('giveaway:started', ({ giveaway, serverTime }) => {
      this.offset = serverTime - Date.now();
      this.setGiveaway(giveaway);
    });
    s.on('giveaway:drawn', ({ giveaway }) => {
      if (giveaway.id === this.giveaway?.id) this.setGiveaway(giveaway);
      void this.pollFigures().catch(() => {});
    });
    setInterval(() => {
      if (this.giveaway?.status === 'open') this.render();
    }, TICK_MS);
  }

  load(snap: JoinSnapshot): void {
    this.setGiveaway(snap.giveaways.recent[0] ?? null);
    this.setBag(snap.commerce.bag);
  }

  setBag(bag: Product[]): void {
    this.bag = bag;
    const chosen = this.productSelect.value;
    this.productSelect.replaceChildren(...bag.map((p) => h('option', { value: p.id }, p.title)));
    if (bag.some((p) => p.id === chosen)) this.productSelect.value = chosen;
  }

  /** The figures of the room's recent giveaways (the studio polls it with its other figures). */
  async pollFigures(): Promise<void> {
    const { giveaways } = await this.client.request('giveaway:stats', {});
    this.figuresById = new Map(giveaways.map((f) => [f.giveawayId, f]));
    this.renderFigures(giveaways);
    this.render();
  }

  private setGiveaway(g: Giveaway | null): void {
    this.giveaway = g;
    this.render();
  }

  private async start(): Promise<void> {
    const v = formValues(this.form);
    const prize = v.kind === 'text' ? { text: v.text ?? '' } : { productId: v.productId ?? '' };
    if (v.kind !== 'text' && !this.bag.some((p) => p.id === v.productId)) throw new Error('Add a product first');
    const payload = check(giveawayStartSchema, { ...prize, durationSec: Number(v.durationSec), winners: Number(v.winners), rule: v.rule });
    // The same input sent again after an error is the same request: one giveaway, however often it arrives.
    const input = JSON.stringify(payload);
    if (this.startRequestId?.input !== input) this.startRequestId = { input, id: crypto.randomUUID() };
    const g = await this.client.request('giveaway:start', { ...payload, requestId: this.startRequestId.id });
    this.startRequestId = null;
    this.setGiveaway(g);
    toast(`Giveaway started: ${prizeTitle(g.prize)}`, 'success');
  }

  private render(): void {
    const g = this.giveaway;
    show(this.live, g !== null);
    if (!g) return;
    const now = Date.now() + this.offset;
    const open = g.status === 'open';
    this.live.dataset.status = g.status;
    this.heading.textContent = `${prizeTitle(g.prize)} · ${g.winnersWanted} winner${g.winnersWanted === 1 ? '' : 's'} · ${RULE_LINES[g.rule]}`;
    this.status.textContent = open ? (g.endsAt > now ? `Ends in ${formatCountdown(g.endsAt - now)}` : 'Drawing…') : 'Drawn';
    const f = this.figuresById.get(g.id);
    const count = Math.max(g.entries, f?.entries ?? 0);
    this.entries.textContent = `${count} entr${count === 1 ? 'y' : 'ies'}`;
    this.commitment.textContent = g.commitment;
    show(this.result, !open);
    if (!open && this.result.dataset.for !== `${g.id}|${f?.prizesClaimed ?? ''}`) this.renderResult(g, f);
  }

  private renderResult(g: Giveaway, f: GiveawayFigures | undefined): void {
    this.result.dataset.for = `${g.id}|${f?.prizesClaimed ?? ''}`;
    const entriesUrl = `${location.origin}/api/giveaways/${encodeURIComponent(g.id)}/entries`;
    this.result.replaceChildren(
      h('p', {}, h('strong', {}, g.winners.length ? `Winner${g.winners.length === 1 ? '' : 's'}: ` : 'Nobody entered.'), g.winners.map((w) => w.name).join(', ')),
      ...(f ? [h('p', { class: 'small-text', 'data-testid': 'host-giveaway-claimed' }, `Prizes claimed: ${f.prizesClaimed} of ${f.prizesAwarded} (each winner’s free hold is checked out as an order of kind “giveaway”)`)] : []),
      h('p', { class: 'small-text' }, 'Revealed seed: ', h('code', { class: 'hash', 'data-testid': 'host-giveaway-seed' }, g.seed ?? '')),
      h('p', { class: 'small-text' }, h('a', { href: entriesUrl, download: `giveaway-${g.id}.json`, 'data-testid': 'host-giveaway-entries-link' }, 'Download the entries (JSON)')),
      h('p', { class: 'small-text muted' }, 'Anyone can check the draw: ', h('code', { class: 'hash' }, `node scripts/verify-giveaway.mjs ${location.origin} ${g.id}`)),
    );
  }

  private renderFigures(list: GiveawayFigures[]): void {
    const totals = list.reduce(
      (t, f) => ({ byRule: t.byRule + f.entriesByRule, free: t.free + f.entriesFree, winners: t.winners + f.winners, claimed: t.claimed + f.prizesClaimed }),
      { byRule: 0, free: 0, winners: 0, claimed: 0 },
    );
    const item = (label: string, value: number, id: string) => h('div', {}, h('dt', {}, label), h('dd', { 'data-testid': `giveaway-stat-${id}` }, String(value)));
    this.figures.replaceChildren(
      item('Entries (rule)', totals.byRule, 'rule'),
      item('Entries (free)', totals.free, 'free'),
      item('Winners', totals.winners, 'winners'),
      item('Prizes claimed', totals.claimed, 'claimed'),
    );
    this.figuresCaption.textContent = `This live’s giveaways (${list.length})`;
    show(this.figuresBox, list.length > 0);
  }
}
