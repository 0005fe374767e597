/**
 * Gives expired holds back to stock and announces sales whose countdown finished or
 * whose time ran out. Every node runs it;
 * that is safe because each sweep is one atomic script per sale (see SWEEP_SCRIPT): a hold is
 * expired by exactly one of the concurrent calls and a sale's end is announced by exactly one.
 */
import type { Logger } from '../../core/logger.js';
import type { SaleBroadcasts } from './sale-broadcasts.js';
import { parseSaleRef } from './sale-keys.js';
import type { SaleStore } from './sale-store.js';

export class SaleSweeper {
  private readonly timer: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly store: SaleStore,
    private readonly broadcasts: SaleBroadcasts,
    intervalMs: number,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  /** One pass over every sale that may still have holds; a slow pass is never overlapped. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const refs = await this.store.sweepEntries();
      await Promise.all(refs.map((ref) => this.sweepOne(ref)));
    } catch (err) {
      this.log.warn({ err }, 'sale sweep failed; retrying next tick');
    } finally {
      this.running = false;
    }
  }

  private async sweepOne(ref: string): Promise<void> {
    const sale = parseSaleRef(ref);
    if (!sale) return this.store.unindex(ref);
    const r = await this.store.sweep(sale.roomId, sale.saleId);
    if (r.unitsReturned > 0) this.broadcasts.stockChanged(sale.roomId, sale.saleId);
    if (r.justOpened) this.broadcasts.opened(sale.roomId, sale.saleId);
    if (r.justEnded) this.broadcasts.ended(sale.roomId, sale.saleId, 'time', r.sold);
    if (r.retired) await this.store.unindex(ref);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
