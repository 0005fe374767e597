/**
 * Vouchers on the viewer page. A drop shows at once as a compact strip over the video, under the
 * host's name: what it takes off ("$5.00 off" / "10 % off"), the minimum spend, how many are left
 * (live from voucher:stock), the claiming countdown, "Followers only", and Claim. A claimed
 * voucher shows how long it stays usable. The panel also keeps this viewer's claims, so the
 * checkout in the bottom sheet can apply one to a hold (voucher:apply) and send it with the order.
 * The state lives here, not in the sheet's rows, which are rebuilt whenever holds change.
 */
import type { JoinSnapshot, Voucher, VoucherApplied, VoucherClaim } from '../../src/protocol/index.js';
import { busy, formatCountdown, formatMoney, h, show } from './dom.js';
import type { LiveClient } from './live-client.js';
import { humanError } from './messages.js';

const TICK_MS = 250;
/** A voucher whose claiming closed stays on screen this long (with how it ended), then goes. */
const CLOSED_SHOWN_MS = 8_000;
/** At most this many voucher strips over the video at once (newest first): the video comes first. */
const SHOWN_MAX = 2;

export interface ViewerVoucherHooks {
  needSignIn(what: string): void;
  /** The room's currency (amount vouchers are minor units of it). */
  currency(): string;
  /** This viewer's claims changed (claimed, applied, used, given back): the sheet re-renders. */
  claimsChanged(): void;
}

export interface MyVoucher {
  voucher: Voucher;
  claim: VoucherClaim;
}

/** "$5.00 off" or "10 % off". */
export function voucherValue(v: Voucher, currency: string): string {
  return v.kind === 'percent' ? `${v.value} % off` : `${formatMoney(v.value, currency)} off`;
}

/** "$5.00 off · min. $20.00" — what a picker option says. */
export function voucherLabel(v: Voucher, currency: string): string {
  return `${voucherValue(v, currency)}${v.minSpend > 0 ? ` · min. ${formatMoney(v.minSpend, currency)}` : ''}`;
}

export class ViewerVoucherPanel {
  private readonly vouchers = new Map<string, Voucher>();
  private readonly claims = new Map<string, VoucherClaim>();
  /** Prices answered by voucher:apply, per hold. */
  private readonly prices = new Map<string, VoucherApplied>();
  /** The last voucher refusal per hold (a sentence), shown by its checkout until the next try. */
  private readonly refusals = new Map<string, string>();
  private readonly cards = new Map<string, VoucherStrip>();
  private readonly closedAt = new Map<string, number>();
  private offset = 0;
  private signedIn = false;

  constructor(
    private readonly client: LiveClient,
    private readonly section: HTMLElement,
    private readonly body: HTMLElement,
    private readonly hooks: ViewerVoucherHooks,
  ) {
    const s = client.socket;
    s.on('voucher:dropped', ({ voucher, serverTime }) => {
      this.offset = serverTime - Date.now();
      this.vouchers.set(voucher.id, voucher);
      this.closedAt.delete(voucher.id);
      this.render();
    });
    s.on('voucher:stock', ({ voucherId, remaining }) => this.patch(voucherId, { remaining }));
    s.on('voucher:claimed-out', ({ voucherId }) => this.patch(voucherId, { remaining: 0 }));
    s.on('voucher:stopped', ({ voucher }) => {
      this.vouchers.set(voucher.id, voucher);
      this.render();
    });
    setInterval(() => this.render(), TICK_MS);
  }

  load(snap: JoinSnapshot): void {
    this.signedIn = snap.you !== null;
    const part = snap.vouchers ?? { active: [], mine: [] };
    this.claims.clear();
    this.prices.clear();
    for (const v of part.active) this.vouchers.set(v.id, v);
    for (const { voucher, ...claim } of part.mine) {
      if (!this.vouchers.has(voucher.id)) this.vouchers.set(voucher.id, voucher);
      this.claims.set(claim.voucherId, claim);
    }
    // Closed vouchers we only know from before are not news after a rejoin.
    for (const [id, v] of this.vouchers) if (v.status !== 'open' && !this.cards.has(id)) this.closedAt.set(id, 0);
    this.render();
    this.hooks.claimsChanged();
  }

  now(): number {
    return Date.now() + this.offset;
  }

  /** Claims that can pay for this hold: claimed and still valid, or already applied to it. */
  usableFor(holdId: string): MyVoucher[] {
    const now = this.now();
    const out: MyVoucher[] = [];
    for (const claim of this.claims.values()) {
      const voucher = this.vouchers.get(claim.voucherId);
      if (!voucher) continue;
      if ((claim.state === 'claimed' && claim.expiresAt > now) || (claim.state === 'applied' && claim.holdId === holdId)) out.push({ voucher, claim });
    }
    return out.sort((a, b) => a.claim.expiresAt - b.claim.expiresAt);
  }

  /** This viewer's claims, newest first (the sheet lists them). */
  mine(): MyVoucher[] {
    const out: MyVoucher[] = [];
    for (const claim of this.claims.values()) {
      const voucher = this.vouchers.get(claim.voucherId);
      if (voucher) out.push({ voucher, claim });
    }
    return out.sort((a, b) => b.claim.claimedAt - a.claim.claimedAt);
  }

  /** The voucher on this hold (applied here), to send with its checkout. */
  appliedTo(holdId: string): string | undefined {
    for (const claim of this.claims.values()) if (claim.state === 'applied' && claim.holdId === holdId) return claim.voucherId;
    return undefined;
  }

  priceOf(holdId: string): VoucherApplied | undefined {
    const applied = this.appliedTo(holdId);
    const price = this.prices.get(holdId);
    return price && price.voucherId === applied ? price : undefined;
  }

  refusalOf(holdId: string): string | undefined {
    return this.refusals.get(holdId);
  }

  /**
   * Apply a claimed voucher to a hold: the server answers the price. A refusal (min spend, used,
   * expired…) is said in the page's words and changes nothing: the hold checks out without it.
   */
  async apply(voucherId: string, holdId: string, button: HTMLButtonElement | null): Promise<boolean> {
    if (button) button.disabled = true;
    try {
      const price = await this.client.request('voucher:apply', { voucherId, holdId });
      this.refusals.delete(holdId);
      this.prices.set(holdId, price);
      for (const claim of this.claims.values()) {
        // Another voucher on this hold went back to its owner; this one left any other hold.
        if (claim.holdId === holdId && claim.state === 'applied') this.claims.set(claim.voucherId, { ...claim, state: 'claimed', holdId: null });
      }
      const claim = this.claims.get(voucherId);
      if (claim) this.claims.set(voucherId, { ...claim, state: 'applied', holdId });
      this.hooks.claimsChanged();
      return true;
    } catch (err) {
      // Said once, inline under the picker (role=alert), where the person is looking.
      this.refusals.set(holdId, humanError(err));
      this.hooks.claimsChanged();
      return false;
    } finally {
      if (button) button.disabled = false;
    }
  }

  /** An order used it. */
  used(voucherId: string | null, orderId: string): void {
    if (!voucherId) return;
    const claim = this.claims.get(voucherId);
    if (claim) this.claims.set(voucherId, { ...claim, state: 'used', orderId });
    this.hooks.claimsChanged();
  }

  /** A hold ended unpaid (released, ran out): its voucher is the owner's again (as on the server). */
  holdEnded(holdId: string): void {
    this.prices.delete(holdId);
    this.refusals.delete(holdId);
    let changed = false;
    for (const claim of this.claims.values()) {
      if (claim.holdId === holdId && claim.state === 'applied') {
        this.claims.set(claim.voucherId, { ...claim, state: claim.expiresAt > this.now() ? 'claimed' : 'expired', holdId: null });
        changed = true;
      }
    }
    if (changed) this.hooks.claimsChanged();
  }

  private patch(voucherId: string, fields: Partial<Voucher>): void {
    const v = this.vouchers.get(voucherId);
    if (!v) return;
    this.vouchers.set(voucherId, { ...v, ...fields });
    this.render();
  }

  private async claim(v: Voucher, button: HTMLButtonElement): Promise<void> {
    if (!this.signedIn) return this.hooks.needSignIn('claim vouchers');
    await busy(button, async () => {
      // One id per tap: a retried tap answers the same claim.
      const { claim, remaining } = await this.client.request('voucher:claim', { voucherId: v.id, requestId: crypto.randomUUID() });
      this.claims.set(v.id, claim);
      // The strip itself says "Claimed ✓" (aria-live): a toast would only cover it.
      this.patch(v.id, { remaining });
      this.hooks.claimsChanged();
    });
  }

  private render(): void {
    const now = this.now();
    const shown: Voucher[] = [];
    for (const v of [...this.vouchers.values()].sort((a, b) => b.startsAt - a.startsAt)) {
      const open = v.status === 'open' && v.endsAt > now;
      if (!open && !this.closedAt.has(v.id)) this.closedAt.set(v.id, Date.now());
      if (open) this.closedAt.delete(v.id);
      const closedFor = this.closedAt.has(v.id) ? Date.now() - this.closedAt.get(v.id)! : 0;
      if ((open || closedFor < CLOSED_SHOWN_MS) && shown.length < SHOWN_MAX) shown.push(v);
    }
    const keep = new Set(shown.map((v) => v.id));
    for (const [id, card] of this.cards) {
      if (keep.has(id)) continue;
      card.root.remove();
      this.cards.delete(id);
    }
    for (const v of shown) {
      let card = this.cards.get(v.id);
      if (!card) {
        card = new VoucherStrip(v, (button) => this.claim(this.vouchers.get(v.id) ?? v, button));
        this.cards.set(v.id, card);
        this.body.prepend(card.root);
      }
      card.update(v, now, this.claims.get(v.id) ?? null, this.signedIn, this.hooks.currency());
    }
    show(this.section, this.cards.size > 0);
  }
}

/** One voucher over the video; its elements live as long as it is shown (focus stays put). */
class VoucherStrip {
  readonly root: HTMLElement;
  private readonly value = h('strong', { class: 'voucher-value', 'data-testid': 'voucher-value' });
  private readonly minSpend = h('span', {});
  private readonly followers = h('span', { class: 'followers-only' }, 'Followers only');
  private readonly remaining = h('span', { 'data-testid': 'voucher-remaining' });
  private readonly when = h('span', { class: 'voucher-when', 'data-testid': 'voucher-countdown', role: 'timer' });
  private readonly state = h('p', { class: 'voucher-state', 'data-testid': 'voucher-state', 'aria-live': 'polite' });
  private readonly claimButton: HTMLButtonElement;

  constructor(v: Voucher, claim: (button: HTMLButtonElement) => Promise<void>) {
    this.claimButton = h('button', { type: 'button', class: 'cta voucher-claim', 'data-testid': 'voucher-claim', onclick: () => void claim(this.claimButton) }, 'Claim');
    const titleId = `voucher-title-${v.id}`;
    this.root = h(
      'article',
      { class: 'voucher-card', 'data-voucher': v.id, 'aria-labelledby': titleId },
      h('div', { class: 'voucher-ticket', id: titleId }, h('span', { class: 'voucher-kicker' }, 'Voucher'), this.value),
      h('div', { class: 'voucher-text' }, h('p', { class: 'voucher-terms' }, this.minSpend, this.followers), h('p', { class: 'voucher-meta' }, this.remaining, ' · ', this.when), this.state),
      this.claimButton,
    );
  }

  update(v: Voucher, now: number, claim: VoucherClaim | null, signedIn: boolean, currency: string): void {
    const open = v.status === 'open' && v.endsAt > now;
    this.value.textContent = voucherValue(v, currency);
    this.minSpend.textContent = v.minSpend > 0 ? `Min. spend ${formatMoney(v.minSpend, currency)}` : 'No minimum spend';
    this.followers.hidden = !v.followersOnly;
    this.remaining.textContent = v.remaining > 0 ? `${v.remaining} of ${v.quantity} left` : 'All claimed';
    this.when.textContent = open ? `closes in ${formatCountdown(v.endsAt - now)}` : 'Claiming closed';
    let state = '';
    let status = open ? (v.remaining > 0 ? 'open' : 'claimed-out') : 'closed';
    if (claim) {
      status = 'mine';
      state =
        claim.state === 'used' ? 'Used on an order ✓'
        : claim.state === 'applied' ? 'Claimed ✓ · on your checkout'
        : claim.expiresAt > now ? `Claimed ✓ · use within ${formatCountdown(claim.expiresAt - now)}`
        : 'Your voucher expired';
    } else if (!signedIn && open && v.remaining > 0) {
      state = 'Sign in to claim';
    }
    this.root.dataset.status = status;
    this.state.textContent = state;
    this.state.hidden = state === '';
    this.claimButton.hidden = claim !== null || !open || v.remaining <= 0;
    this.claimButton.setAttribute('aria-label', `Claim ${voucherValue(v, currency)} voucher`);
  }
}
