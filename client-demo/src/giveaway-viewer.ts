/**
 * Giveaways on the viewer page: while one is open, a compact strip over the video shows the prize,
 * a countdown, who may enter and an Enter button — for a rule other than "everyone" also "Enter
 * free (no purchase necessary)", the route the server keeps open to every signed-in viewer. After
 * the draw it names the (masked) winners for a while; a winner gets "You won!" with Claim prize,
 * which checks out their zero-price prize hold (`sale:checkout`) into an order like any other.
 * An unclaimed prize comes back in the join snapshot (`giveaways.myPrizes`) until its hold runs out.
 */
import type { Giveaway, GiveawayPrize, GiveawayPrizeHold, GiveawayRule, GiveawayWin, JoinSnapshot } from '../../src/protocol/index.js';
import { busy, formatCountdown, h, show, toast } from './dom.js';
import type { LiveClient } from './live-client.js';

const TICK_MS = 250;
/** A drawn giveaway's result stays on screen this long (a won, unclaimed prize stays until claimed). */
const RESULT_SHOWN_MS = 15_000;

export const prizeTitle = (p: GiveawayPrize): string => (p.kind === 'product' ? p.title : p.text);

export const RULE_LINES: Record<GiveawayRule, string> = {
  everyone: 'Everyone can enter',
  followers: 'For followers of the host',
  commenters: 'For viewers who commented in this live',
  buyers: 'For viewers who bought in this live',
};

export interface GiveawayViewerHooks {
  onOrder(order: { orderId: string; qty: number; amount: number; currency: string }, title: string): void;
  needSignIn(what: string): void;
}

type Entered = 'rule' | 'free' | null;

export class ViewerGiveawayPanel {
  private giveaway: Giveaway | null = null;
  private offset = 0;
  private me: string | null = null;
  private entered = new Map<string, 'rule' | 'free'>();
  /** Our prizes not yet claimed, by giveaway id. */
  private prizes = new Map<string, GiveawayWin>();
  private claimed = new Set<string>();
  private drawnSeenAt: number | null = null;
  private strip: GiveawayStrip | null = null;
  /** Drawn giveaways seen on this page, so a win can show the giveaway it is for. */
  private readonly known = new Map<string, Giveaway>();

  constructor(
    private readonly client: LiveClient,
    private readonly section: HTMLElement,
    private readonly body: HTMLElement,
    private readonly hooks: GiveawayViewerHooks,
  ) {
    const s = client.socket;
    s.on('giveaway:started', ({ giveaway, serverTime }) => {
      this.offset = serverTime - Date.now();
      if (giveaway.id !== this.giveaway?.id) this.drawnSeenAt = null;
      this.giveaway = giveaway;
      this.render();
    });
    s.on('giveaway:drawn', ({ giveaway }) => {
      this.known.set(giveaway.id, giveaway);
      // Another giveaway still open keeps the strip; its result is news only when nothing is open.
      if (giveaway.id !== this.giveaway?.id && this.giveaway?.status === 'open') return;
      this.giveaway = giveaway;
      this.drawnSeenAt = Date.now();
      this.render();
    });
    s.on('giveaway:won', (win) => {
      this.prizes.set(win.giveawayId, win);
      const drawn = this.known.get(win.giveawayId);
      if (drawn && this.giveaway?.status !== 'open') this.giveaway = drawn;
      this.render();
      this.strip?.focusClaim();
    });
    setInterval(() => this.render(), TICK_MS);
  }

  load(snap: JoinSnapshot): void {
    this.me = snap.you?.id ?? null;
    const part = snap.giveaways;
    this.prizes = new Map(part.myPrizes.filter((p: GiveawayPrizeHold) => p.state === 'held').map((p) => [p.giveawayId, p]));
    for (const p of part.myPrizes) if (p.state === 'claimed') this.claimed.add(p.giveawayId);
    // What to show: an open giveaway, else one whose prize we have yet to claim.
    const open = part.recent.find((g) => g.status === 'open');
    const unclaimed = part.recent.find((g) => this.prizes.has(g.id));
    this.giveaway = open ?? unclaimed ?? null;
    this.drawnSeenAt = this.giveaway?.status === 'drawn' ? Date.now() : null;
    this.render();
  }

  private now(): number {
    return Date.now() + this.offset;
  }

  private render(): void {
    const g = this.giveaway;
    const prize = g ? this.prizes.get(g.id) ?? null : null;
    if (prize && prize.expiresAt <= this.now()) this.prizes.delete(prize.giveawayId);
    const keep = g && (g.status === 'open' || this.prizes.has(g.id) || (this.drawnSeenAt !== null && Date.now() - this.drawnSeenAt < RESULT_SHOWN_MS));
    if (!g || !keep) {
      this.strip?.root.remove();
      this.strip = null;
      show(this.section, false);
      return;
    }
    if (this.strip?.id !== g.id) {
      this.strip = new GiveawayStrip(g, {
        enter: (free, button) => this.enter(free, button),
        claim: (button) => this.claim(button),
      });
      this.body.replaceChildren(this.strip.root);
    }
    this.strip.update(g, this.now(), {
      signedIn: this.me !== null,
      me: this.me,
      entered: this.entered.get(g.id) ?? null,
      prize: this.prizes.get(g.id) ?? null,
      claimed: this.claimed.has(g.id),
    });
    show(this.section, true);
  }

  private async enter(free: boolean, button: HTMLButtonElement): Promise<void> {
    const g = this.giveaway;
    if (!g) return;
    if (!this.me) return this.hooks.needSignIn('enter giveaways');
    await busy(button, async () => {
      const res = await this.client.request('giveaway:enter', { giveawayId: g.id, free });
      this.entered.set(g.id, res.via);
      toast(res.alreadyEntered ? 'You’re already in this giveaway.' : 'You’re in! Good luck.', 'success', 2500);
      this.render();
    });
  }

  private async claim(button: HTMLButtonElement): Promise<void> {
    const g = this.giveaway;
    const prize = g ? this.prizes.get(g.id) : undefined;
    if (!g || !prize) return;
    await busy(button, async () => {
      // A claim is a checkout of the zero-price hold: a retry (new id) answers the same order.
      const order = await this.client.request('sale:checkout', { holdId: prize.holdId, requestId: crypto.randomUUID() });
      this.prizes.delete(g.id);
      this.claimed.add(g.id);
      this.drawnSeenAt = Date.now();
      this.hooks.onOrder({ orderId: order.orderId, qty: 1, amount: 0, currency: order.currency }, prizeTitle(prize.prize));
      toast(`Prize claimed: ${prizeTitle(prize.prize)}. Your order is in the bag.`, 'success');
      this.render();
    });
  }
}

interface StripActions {
  enter(free: boolean, button: HTMLButtonElement): Promise<void>;
  claim(button: HTMLButtonElement): Promise<void>;
}

interface StripView {
  signedIn: boolean;
  me: string | null;
  entered: Entered;
  prize: GiveawayWin | null;
  claimed: boolean;
}

/** One giveaway over the video; its elements live as long as it is shown. */
class GiveawayStrip {
  readonly root: HTMLElement;
  readonly id: string;
  private readonly when = h('span', { class: 'sale-when', 'data-testid': 'giveaway-countdown', role: 'timer' });
  private readonly line = h('p', { class: 'giveaway-line', 'data-testid': 'giveaway-line', 'aria-live': 'polite' });
  private readonly enterRow: HTMLElement;
  private readonly enterButton: HTMLButtonElement;
  private readonly freeButton: HTMLButtonElement;
  private readonly winBox: HTMLElement;
  private readonly winText = h('p', {});
  private readonly claimButton: HTMLButtonElement;

  constructor(g: Giveaway, actions: StripActions) {
    this.id = g.id;
    this.enterButton = h('button', { type: 'button', class: 'cta giveaway-enter', 'data-testid': 'giveaway-enter', onclick: () => void actions.enter(false, this.enterButton) }, 'Enter');
    this.freeButton = h(
      'button',
      { type: 'button', class: 'ghost giveaway-free', 'data-testid': 'giveaway-enter-free', hidden: g.rule === 'everyone', onclick: () => void actions.enter(true, this.freeButton) },
      'Enter free (no purchase necessary)',
    );
    this.enterRow = h('div', { class: 'row giveaway-actions' }, this.enterButton, this.freeButton);
    this.claimButton = h('button', { type: 'button', class: 'cta', 'data-testid': 'giveaway-claim', onclick: () => void actions.claim(this.claimButton) }, 'Claim prize');
    this.winBox = h('div', { class: 'hold giveaway-win', 'data-testid': 'giveaway-win', hidden: true }, h('p', { class: 'giveaway-won' }, h('strong', {}, 'You won!')), this.winText, this.claimButton);
    const titleId = `giveaway-title-${g.id}`;
    this.root = h(
      'article',
      { class: 'sale-card giveaway-card', 'data-giveaway': g.id, 'aria-labelledby': titleId },
      h(
        'div',
        { class: 'sale-main' },
        giftIcon(),
        h(
          'div',
          { class: 'sale-text' },
          h('p', { class: 'sale-kicker' }, h('span', { class: 'flash giveaway-flag' }, 'Giveaway'), ' ', this.when),
          h('h3', { id: titleId }, prizeTitle(g.prize)),
          h('p', { class: 'giveaway-rule muted' }, `${RULE_LINES[g.rule]} · ${g.winnersWanted} winner${g.winnersWanted === 1 ? '' : 's'}`),
        ),
      ),
      this.enterRow,
      this.line,
      this.winBox,
    );
  }

  update(g: Giveaway, now: number, v: StripView): void {
    const open = g.status === 'open' && g.endsAt > now;
    this.root.dataset.status = g.status;
    this.when.textContent = open ? `Ends in ${formatCountdown(g.endsAt - now)}` : g.status === 'open' ? 'Drawing…' : 'Drawn';
    this.enterRow.hidden = !open || v.entered !== null;
    this.enterButton.textContent = v.signedIn ? 'Enter' : 'Sign in to enter';
    this.freeButton.hidden = g.rule === 'everyone' || !v.signedIn;
    let line = '';
    if (g.status === 'drawn') {
      const names = g.winners.map((w) => (w.userId === v.me ? 'you' : w.name));
      line = names.length ? `Winner${names.length === 1 ? '' : 's'}: ${names.join(', ')}` : 'Nobody entered this time.';
      if (v.me && g.winners.length && !g.winners.some((w) => w.userId === v.me) && v.entered) line += ' · Not this time — thanks for entering!';
    } else if (v.entered) {
      line = `You’re in ✓${v.entered === 'free' ? ' (free entry)' : ''} · winners are drawn when the timer ends.`;
    }
    this.line.textContent = line;
    this.line.hidden = line === '';
    this.root.dataset.winner = String(v.prize !== null || v.claimed);
    this.winBox.hidden = v.prize === null && !v.claimed;
    this.claimButton.hidden = v.prize === null;
    this.winText.textContent = v.prize ? `Free — claim it by ${until(v.prize.expiresAt)} and it ships like an order.` : v.claimed ? 'Claimed ✓ Your prize order is in the bag.' : '';
  }

  focusClaim(): void {
    if (!this.claimButton.hidden) this.claimButton.focus();
  }
}

/** "Tue 14:05": a prize hold lasts about a day, so the day matters. */
function until(at: number): string {
  return new Date(at).toLocaleString(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
}

/** A gift box, drawn (no emoji font is needed to see it). */
export function giftIcon(): HTMLElement {
  const box = h('span', { class: 'thumb giveaway-thumb', 'aria-hidden': 'true' });
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('fill', 'currentColor');
  path.setAttribute('d', 'M20 7h-2.2A3 3 0 0 0 12 3.8 3 3 0 0 0 6.2 7H4a1 1 0 0 0-1 1v3a1 1 0 0 0 1 1h1v8a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1v-8h1a1 1 0 0 0 1-1V8a1 1 0 0 0-1-1zM15 5a1 1 0 0 1 0 2h-2a2 2 0 0 1 2-2zM9 5a2 2 0 0 1 2 2H9a1 1 0 0 1 0-2zM5 9h6v1H5V9zm2 3h4v7H7v-7zm10 7h-4v-7h4v7zm2-9h-6V9h6v1z');
  svg.append(path);
  box.append(svg);
  return box;
}
