/**
 * What a page knows about the room's flash sales: the sales with their live stock, kept current
 * from the join snapshot and the sale:* events, and the server's clock (countdowns are computed
 * against it, so a viewer whose clock is off still sees the sale open on time).
 */
import type { FlashSale, JoinSnapshot, SalesSnapshot } from '../../src/protocol/index.js';
import type { LiveClient } from './live-client.js';

export type SalePhase = 'countdown' | 'open' | 'sold-out' | 'ended';

export class SaleBook {
  readonly sales = new Map<string, FlashSale>();
  /** serverNow − localNow, learned from sale:started. */
  private offset = 0;
  private readonly listeners = new Set<() => void>();

  constructor(client: LiveClient) {
    const s = client.socket;
    s.on('sale:started', ({ sale, serverTime }) => {
      this.offset = serverTime - Date.now();
      this.put(sale);
    });
    s.on('sale:opened', ({ saleId }) => this.patch(saleId, { status: 'live' }));
    s.on('sale:stock', ({ saleId, available, held, sold }) => this.patch(saleId, { available, held, sold }));
    s.on('sale:sold-out', ({ saleId, available, held, sold }) => this.patch(saleId, { available, held, sold }));
    s.on('sale:ended', ({ saleId, reason, sold }) => this.patch(saleId, { status: 'ended', endReason: reason, sold }));
  }

  /** The snapshot's active sales replace what we had (a rejoin after a long drop catches up here). */
  load(snap: JoinSnapshot): SalesSnapshot {
    const part = (snap.sales as SalesSnapshot | undefined) ?? { active: [], myHolds: [], myWaitlist: [] };
    this.sales.clear();
    for (const sale of part.active) this.sales.set(sale.id, sale);
    this.changed();
    return part;
  }

  put(sale: FlashSale): void {
    this.sales.set(sale.id, sale);
    this.changed();
  }

  now(): number {
    return Date.now() + this.offset;
  }

  phase(sale: FlashSale): SalePhase {
    const now = this.now();
    if (sale.status === 'ended' || now >= sale.endsAt) return 'ended';
    if (now < sale.startsAt) return 'countdown';
    return sale.available <= 0 ? 'sold-out' : 'open';
  }

  /** Newest first. */
  list(): FlashSale[] {
    return [...this.sales.values()].sort((a, b) => b.createdAt - a.createdAt);
  }

  onChange(fn: () => void): void {
    this.listeners.add(fn);
  }

  private patch(saleId: string, fields: Partial<FlashSale>): void {
    const sale = this.sales.get(saleId);
    if (!sale) return;
    this.sales.set(saleId, { ...sale, ...fields });
    this.changed();
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}
