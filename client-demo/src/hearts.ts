/**
 * The heart button. A tap counts at once on screen and floats a heart up from the button (Web
 * Animations API, nothing when the reader prefers reduced motion); taps within a short window go
 * to the server as one heart:tap (it accepts up to 20 at once). The shown total never waits for
 * the server: it only moves up to the server's total when others' hearts make that larger, and
 * falls back to it if our taps were refused.
 */
import { toast } from './dom.js';
import type { LiveClient } from './live-client.js';
import { errorKind, humanError } from './messages.js';

const BATCH_MS = 200;
const BATCH_MAX = 20;
/** Floating hearts alive at once: a burst of taps must not pile up hundreds of animations. */
const FLOATING_MAX = 24;
/** Hearts floated for other viewers' taps per server update, however many they sent. */
const OTHERS_FLOAT_MAX = 4;
const HUES = 5;

export class Hearts {
  private shown = 0;
  private server = 0;
  private pending = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly reducedMotion = matchMedia('(prefers-reduced-motion: reduce)');

  constructor(
    private readonly client: LiveClient,
    private readonly button: HTMLButtonElement,
    private readonly count: HTMLElement,
    private readonly layer: HTMLElement,
  ) {
    button.addEventListener('click', () => this.tap());
    client.socket.on('hearts:update', ({ total }) => this.serverTotal(total));
  }

  load(total: number, canTap: boolean): void {
    this.server = total;
    this.shown = Math.max(total, this.pending ? this.shown : total);
    this.button.disabled = !canTap;
    this.button.title = canTap ? '' : 'Sign in to send hearts';
    this.render();
  }

  private tap(): void {
    this.shown++;
    this.render();
    this.float(true);
    this.pending = Math.min(BATCH_MAX, this.pending + 1);
    this.timer ??= setTimeout(() => this.flush(), BATCH_MS);
  }

  private flush(): void {
    const count = this.pending;
    this.pending = 0;
    this.timer = null;
    if (!count) return;
    this.client.request('heart:tap', { count }).catch((err: unknown) => {
      // Not counted: show what the server has, and say why (signed out, rate limited, ended).
      this.shown = this.server;
      this.render();
      toast(humanError(err), errorKind(err));
    });
  }

  private serverTotal(total: number): void {
    const others = total - Math.max(this.shown, this.server);
    this.server = total;
    if (total > this.shown) {
      this.shown = total;
      this.render();
    }
    for (let i = 0; i < Math.min(others, OTHERS_FLOAT_MAX); i++) this.float(false);
  }

  private render(): void {
    this.count.textContent = compact(this.shown);
    this.count.dataset.total = String(this.shown);
  }

  /** One heart rising from the button with a little sideways drift, removed when it is done. */
  private float(mine: boolean): void {
    if (this.reducedMotion.matches || this.layer.childElementCount >= FLOATING_MAX) return;
    const heart = document.createElement('span');
    heart.className = `floating-heart hue-${Math.floor(Math.random() * HUES)}${mine ? ' mine' : ''}`;
    heart.append(heartIcon());
    this.layer.append(heart);
    const drift = (Math.random() - 0.5) * 70;
    const rise = 180 + Math.random() * 120;
    const animation = heart.animate(
      [
        { transform: 'translate(0, 0) scale(0.6)', opacity: 0 },
        { transform: `translate(${drift * 0.3}px, -40px) scale(1.15)`, opacity: 1, offset: 0.15 },
        { transform: `translate(${drift}px, -${rise}px) scale(0.9)`, opacity: 0 },
      ],
      { duration: 1400 + Math.random() * 600, easing: 'cubic-bezier(.2,.6,.4,1)' },
    );
    animation.onfinish = () => heart.remove();
    animation.oncancel = () => heart.remove();
  }
}

/** 1234 → "1.2K": the count sits in a small round badge. Exact below 10,000. */
function compact(n: number): string {
  return n < 10_000 ? String(n) : new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 }).format(n);
}

const SVG = 'http://www.w3.org/2000/svg';

/** The same heart as the button's, so it looks alike on every system (no emoji font needed). */
function heartIcon(): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('fill', 'currentColor');
  path.setAttribute('d', 'M12 21s-7.5-4.6-9.6-9.2C.9 8.4 3 4.5 6.7 4.5c2.1 0 3.6 1.2 5.3 3 1.7-1.8 3.2-3 5.3-3 3.7 0 5.8 3.9 4.3 7.3C19.5 16.4 12 21 12 21z');
  svg.append(path);
  return svg;
}
