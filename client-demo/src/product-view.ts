/** How a product looks on the pages: the pinned card for viewers and a row in the host's bag. */
import type { Product } from '../../src/protocol/index.js';
import { formatMoney, h } from './dom.js';

export function productImage(p: Product): HTMLElement {
  return p.imageUrl
    ? h('img', { src: p.imageUrl, alt: '', class: 'thumb', loading: 'lazy', referrerpolicy: 'no-referrer' })
    : h('div', { class: 'thumb', 'aria-hidden': 'true' });
}

export function productCard(p: Product): HTMLElement {
  return h(
    'article',
    { class: 'product-card', 'data-product': p.id, 'aria-label': p.title },
    productImage(p),
    h(
      'div',
      {},
      h('h3', { class: 'product-title' }, p.title),
      p.brand || p.merchant ? h('p', { class: 'muted' }, [p.brand, p.merchant].filter(Boolean).join(' · ')) : null,
      h('p', { class: 'price' }, formatMoney(p.price, p.currency)),
    ),
  );
}
