/** How a product looks on the pages: its picture (or a placeholder) and whether it can be bought now. */
import type { Product } from '../../src/protocol/index.js';
import { h } from './dom.js';

export function productImage(p: { imageUrl: string | null; title: string }): HTMLElement {
  return p.imageUrl
    ? h('img', { src: p.imageUrl, alt: '', class: 'thumb', loading: 'lazy', referrerpolicy: 'no-referrer' })
    : h('div', { class: 'thumb', 'aria-hidden': 'true' }, [...p.title.trim()][0]?.toUpperCase() ?? '');
}

/**
 * Buy now: a product of the bag with stock of its own, bought at its list price. The protocol's
 * Product has no stock yet (the buy-now work adds it); until then the Buy slot stays hidden.
 */
export function buyNowAvailable(p: Product): boolean {
  const stock = (p as Product & { stock?: number | null }).stock;
  return typeof stock === 'number' && stock > 0;
}
