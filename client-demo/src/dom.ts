/** A few DOM helpers, so the pages stay plain TypeScript without a framework. */
import { errorKind, humanError } from './messages.js';

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/** h('button', { type: 'button', onclick: fn }, 'Pin') — attributes, `on*` listeners, children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
  return el;
}

/** The element with this id, or a loud error: a missing id is a bug in the page's HTML. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el as T;
}

export function show(el: HTMLElement, visible: boolean): void {
  el.hidden = !visible;
}

/** At most this many toasts at once: a burst of news must not bury the page (or its chat input). */
const TOASTS_MAX = 2;

/**
 * Toasts go to one aria-live region so screen readers announce them too. The region sits at the
 * top, under the page's header, away from every input; the same text twice refreshes the one shown.
 */
export function toast(text: string, kind: 'info' | 'success' | 'error' = 'info', ms = 4000): void {
  let region = document.getElementById('toasts');
  if (!region) {
    region = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(region);
  }
  for (const old of region.querySelectorAll<HTMLElement>('.toast')) if (old.textContent === text) old.remove();
  const item = h('div', { class: `toast toast-${kind}` }, text);
  region.append(item);
  while (region.children.length > TOASTS_MAX) region.firstElementChild?.remove();
  setTimeout(() => item.remove(), ms);
}

/** A modal question with two answers; resolves true when the person confirms. Esc or Cancel: false. */
export function confirmDialog(opts: { title: string; body?: string; confirm: string; danger?: boolean }): Promise<boolean> {
  const confirm = h('button', { type: 'submit', value: 'yes', class: opts.danger ? 'danger' : null }, opts.confirm);
  const dialog = h(
    'dialog',
    { class: 'confirm', 'aria-labelledby': 'confirm-title' },
    h(
      'form',
      { method: 'dialog' },
      h('h2', { id: 'confirm-title' }, opts.title),
      opts.body ? h('p', {}, opts.body) : null,
      h('div', { class: 'row end' }, h('button', { type: 'submit', value: 'no', class: 'secondary' }, 'Cancel'), confirm),
    ),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'yes');
      dialog.remove();
    });
    dialog.showModal();
    // The safe answer has focus; the destructive one takes a deliberate move.
    (dialog.querySelector('button.secondary') as HTMLButtonElement).focus();
  });
}

const fractionDigits = new Map<string, number>();

/** Prices travel in minor units (cents); the currency says how many digits that is. */
export function minorDigits(currency: string): number {
  let digits = fractionDigits.get(currency);
  if (digits === undefined) {
    try {
      digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      digits = 2;
    }
    fractionDigits.set(currency, digits);
  }
  return digits;
}

export function formatMoney(minor: number, currency: string): string {
  const value = minor / 10 ** minorDigits(currency);
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(value);
  } catch {
    return `${value.toFixed(2)} ${currency}`;
  }
}

/** "1:05" for 65 000 ms; never negative. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${m}:${String(s).padStart(2, '0')}`;
}

export function formatTime(at: number): string {
  return new Date(at).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** Read a form's named fields as strings. */
export function formValues(form: HTMLFormElement): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new FormData(form)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Disable a button while its async action runs, so double clicks can't double-submit. */
export async function busy<T>(button: HTMLButtonElement | null, run: () => Promise<T>): Promise<T | undefined> {
  if (button) button.disabled = true;
  try {
    return await run();
  } catch (err) {
    toast(humanError(err), errorKind(err));
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export function roomParam(): string | null {
  return new URLSearchParams(location.search).get('room');
}

export function setRoomParam(roomId: string): void {
  const url = new URL(location.href);
  url.searchParams.set('room', roomId);
  history.replaceState(null, '', url);
}
