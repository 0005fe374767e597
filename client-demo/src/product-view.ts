/** How a product looks on the pages: its picture, or a placeholder with its initial. */
import { h } from './dom.js';

export function productImage(p: { imageUrl: string | null; title: string }): HTMLElement {
  return p.imageUrl
    ? h('img', { src: p.imageUrl, alt: '', class: 'thumb', loading: 'lazy', referrerpolicy: 'no-referrer' })
    : h('div', { class: 'thumb', 'aria-hidden': 'true' }, [...p.title.trim()][0]?.toUpperCase() ?? '');
}

