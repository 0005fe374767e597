/**
 * The end-of-show summary in the host studio: how long the show ran, who watched, how they
 * engaged and what sold. Built from the last live figures the studio had (room:stats and
 * sale:stats, read just before ending), or — when the studio is reopened after the show — from
 * what the HTTP API still serves (the room's counters and its sales). Orders, units, GMV and the
 * top products count every order of the show — flash sale, buy now, auction — from the room's
 * order list when the server has one; the flash-sale figures otherwise.
 */
import type { FlashSale, OrdersPage, PresenceCounts, Room, RoomSaleFigures, RoomStats } from '../../src/protocol/index.js';
import { formatMoney, h } from './dom.js';
import { api } from './session.js';

export interface ShowSummary {
  room: Room;
  stats: Partial<RoomStats> | null;
  figures: RoomSaleFigures | null;
  currency: string;
  /** Sale id → product title, for the top products. */
  titles: Map<string, string>;
  /** Every order of the show (GET /api/rooms/:id/orders), when the server lists them. */
  orders?: OrderTotals | null;
}

export interface OrderTotals {
  orders: number;
  units: number;
  gmv: number;
  buyers: number;
  currency: string | null;
  top: TopProduct[];
}

/** Orders pages read at most: a demo show's orders fit many times over. */
const ORDER_PAGES_MAX = 20;

/** Totals over the room's order list; null when the server has no such list or refuses it. */
export async function orderTotals(roomId: string, titleOf: (productId: string) => string): Promise<OrderTotals | null> {
  try {
    const byProduct = new Map<string, TopProduct>();
    const buyers = new Set<string>();
    let orders = 0;
    let units = 0;
    let gmv = 0;
    let currency: string | null = null;
    let cursor: string | null = null;
    for (let page = 0; page < ORDER_PAGES_MAX; page++) {
      const res: OrdersPage = await api<OrdersPage>('GET', `/api/rooms/${roomId}/orders?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      for (const o of res.orders) {
        orders++;
        units += o.qty;
        gmv += o.amount;
        currency ??= o.currency;
        buyers.add(o.userId);
        const row = byProduct.get(o.productId) ?? { title: titleOf(o.productId), units: 0, gmv: 0 };
        row.units += o.qty;
        row.gmv += o.amount;
        byProduct.set(o.productId, row);
      }
      cursor = res.nextCursor;
      if (!cursor) break;
    }
    return { orders, units, gmv, buyers: buyers.size, currency, top: rank([...byProduct.values()]) };
  } catch {
    return null;
  }
}

const rank = (rows: TopProduct[]) => rows.filter((p) => p.units > 0).sort((a, b) => b.gmv - a.gmv || b.units - a.units).slice(0, 5);

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
  const perSale = sales.map((s) => ({ saleId: s.id, orders: 0, unitsSold: s.sold, gmv: s.sold * s.price, buyers: 0, conversion: 0, waitlist: { length: 0, offers: 0, conversions: 0, lapsed: 0 } }));
  const figures: RoomSaleFigures = {
    roomId,
    uniqueViewers: 0,
    orders: 0,
    unitsSold: perSale.reduce((n, s) => n + s.unitsSold, 0),
    gmv: perSale.reduce((n, s) => n + s.gmv, 0),
    buyers: 0,
    conversion: 0,
    sales: perSale,
    vouchers: { claims: 0, redemptions: 0, discount: 0 },
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
  const o = s.orders ?? null;
  const money = (minor: number) => formatMoney(minor, o?.currency ?? s.currency);
  const dash = '—';
  const duration = s.room.startedAt && s.room.endedAt ? elapsed(s.room.endedAt - s.room.startedAt) : dash;
  const unique = f?.uniqueViewers || undefined;
  const orders = o ? o.orders : f?.orders;
  const units = o ? o.units : f?.unitsSold;
  const gmv = o ? o.gmv : f?.gmv;
  const buyers = o ? o.buyers : f?.buyers;
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
      item('Unique viewers', unique, 'unique'),
      item('Hearts', s.stats?.hearts, 'hearts'),
      item('Engagement (CES)', s.stats?.engagement, 'engagement'),
      item('Chat messages', s.stats?.chatMessages, 'chat'),
      item('Orders', orders, 'orders'),
      item('Units sold', units, 'units'),
      item('GMV', gmv === undefined ? undefined : money(gmv), 'gmv'),
      // Buyers ÷ unique viewers, the dashboard's definition.
      item('Conversion', unique && buyers !== undefined ? `${((buyers / unique) * 100).toFixed(1)}%` : undefined, 'conversion'),
    ),
    h('h3', {}, 'Top products'),
    topList(o ? o.top : topProducts(s), money),
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
  return rank([...byTitle.values()]);
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
