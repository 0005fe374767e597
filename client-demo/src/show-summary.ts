/**
 * The end-of-show summary in the host studio: how long the show ran, who watched, how they
 * engaged and what sold. Built from the last live figures the studio had (room:stats and
 * sale:stats, read just before ending), or — when the studio is reopened after the show — from
 * what the HTTP API still serves (the room's counters and its sales).
 */
import type { FlashSale, PresenceCounts, Room, RoomSaleFigures, RoomStats } from '../../src/protocol/index.js';
import { formatMoney, h } from './dom.js';
import { api } from './session.js';

export interface ShowSummary {
  room: Room;
  stats: Partial<RoomStats> | null;
  figures: RoomSaleFigures | null;
  currency: string;
  /** Sale id → product title, for the top products. */
  titles: Map<string, string>;
}

interface TopProduct {
  title: string;
  units: number;
  gmv: number;
}

export async function summaryFromHttp(roomId: string): Promise<ShowSummary> {
  const [detail, { sales }] = await Promise.all([
    api<{ room: Room; presence: PresenceCounts; hearts: number; engagement: number }>('GET', `/api/rooms/${roomId}`),
    api<{ sales: FlashSale[] }>('GET', `/api/rooms/${roomId}/sales`).catch(() => ({ sales: [] as FlashSale[] })),
  ]);
  // Without the live figures: units and GMV recounted from each sale's sold count at its price.
  const perSale = sales.map((s) => ({ saleId: s.id, orders: 0, unitsSold: s.sold, gmv: s.sold * s.price, buyers: 0, conversion: 0 }));
  const figures: RoomSaleFigures = {
    roomId,
    uniqueViewers: 0,
    orders: 0,
    unitsSold: perSale.reduce((n, s) => n + s.unitsSold, 0),
    gmv: perSale.reduce((n, s) => n + s.gmv, 0),
    buyers: 0,
    conversion: 0,
    sales: perSale,
  };
  return {
    room: detail.room,
    stats: { peak: detail.presence.peak, hearts: detail.hearts, engagement: detail.engagement },
    figures,
    currency: sales[0]?.currency ?? 'USD',
    titles: new Map(sales.map((s) => [s.id, s.title])),
  };
}

export function renderSummary(box: HTMLElement, s: ShowSummary): void {
  const f = s.figures;
  const money = (minor: number) => formatMoney(minor, s.currency);
  const dash = '—';
  const duration = s.room.startedAt && s.room.endedAt ? elapsed(s.room.endedAt - s.room.startedAt) : dash;
  const item = (label: string, value: string | number | undefined, id: string) =>
    h('div', {}, h('dt', {}, label), h('dd', { 'data-summary': id }, value === undefined ? dash : String(value)));
  box.tabIndex = -1;
  box.replaceChildren(
    h('h2', { id: 'summary-title' }, 'Show summary'),
    h('p', { class: 'muted' }, `${s.room.title} · ended ${s.room.endedAt ? new Date(s.room.endedAt).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }) : ''}`),
    h(
      'dl',
      { class: 'stats summary-stats' },
      item('Duration', duration, 'duration'),
      item('Peak viewers', s.stats?.peak, 'peak'),
      item('Unique viewers', f?.uniqueViewers || undefined, 'unique'),
      item('Hearts', s.stats?.hearts, 'hearts'),
      item('Engagement (CES)', s.stats?.engagement, 'engagement'),
      item('Chat messages', s.stats?.chatMessages, 'chat'),
      item('Orders', f?.orders || (f?.unitsSold ? undefined : 0), 'orders'),
      item('Units sold', f?.unitsSold, 'units'),
      item('GMV', f ? money(f.gmv) : undefined, 'gmv'),
      item('Conversion', f?.uniqueViewers ? `${(f.conversion * 100).toFixed(1)}%` : undefined, 'conversion'),
    ),
    h('h3', {}, 'Top products'),
    topList(topProducts(s), money),
  );
}

function topProducts(s: ShowSummary): TopProduct[] {
  const byTitle = new Map<string, TopProduct>();
  for (const sale of s.figures?.sales ?? []) {
    const title = s.titles.get(sale.saleId) ?? 'A product';
    const row = byTitle.get(title) ?? { title, units: 0, gmv: 0 };
    row.units += sale.unitsSold;
    row.gmv += sale.gmv;
    byTitle.set(title, row);
  }
  return [...byTitle.values()].filter((p) => p.units > 0).sort((a, b) => b.gmv - a.gmv || b.units - a.units).slice(0, 5);
}

function topList(top: TopProduct[], money: (minor: number) => string): HTMLElement {
  if (!top.length) return h('p', { class: 'muted' }, 'Nothing sold in this show.');
  return h('ol', { class: 'top-products', 'data-testid': 'top-products' }, ...top.map((p) => h('li', {}, h('strong', {}, p.title), ` — ${p.units} sold · ${money(p.gmv)}`)));
}

function elapsed(ms: number): string {
  const t = Math.max(0, Math.round(ms / 1000));
  const hours = Math.floor(t / 3600);
  const minutes = Math.floor(t / 60) % 60;
  const seconds = t % 60;
  return hours ? `${hours} h ${minutes} min` : minutes ? `${minutes} min ${seconds} s` : `${seconds} s`;
}
