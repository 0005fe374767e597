/**
 * Gives expired holds back to stock and announces sales whose countdown finished or whose time
 * ran out. Every node runs it. Each tick claims at most SWEEP_CLAIM_MAX sales that are due (a hold
 * expires, the countdown ends or the sale ends) from the global due index, so the work per tick is
 * bounded whatever the number of sales, and a sale with nothing pending costs nothing until it is.
 * A claim leases the entry, so nodes do not repeat each other's sweeps; and each sweep is one
 * atomic script per sale (see SWEEP_SCRIPT), so even a repeated one expires a hold exactly once
 * and announces a sale's end exactly once.
 */
import type { Logger } from '../../core/logger.js';
import { PeriodicPass } from '../../core/periodic-pass.js';
import type { SaleBroadcasts } from './sale-broadcasts.js';
import { parseSaleRef } from './sale-keys.js';
import { SWEEP_CLAIM_MAX } from './sale-model.js';
import type { SaleStore } from './sale-store.js';

export class SaleSweeper {
  private readonly periodic: PeriodicPass;

  constructor(
    private readonly store: SaleStore,
    private readonly broadcasts: Pick<SaleBroadcasts, 'stockChanged' | 'opened' | 'ended'>,
    intervalMs: number,
    private readonly log: Logger,
  ) {
    this.periodic = new PeriodicPass(() => this.pass(), intervalMs, log, 'sale sweep');
  }

  /** One pass over what is due now (tests call it directly); a slow pass is never overlapped. */
  tick(): Promise<void> {
    return this.periodic.run();
  }

  private async pass(): Promise<void> {
    const { lease, refs } = await this.store.claimDue(SWEEP_CLAIM_MAX);
    await Promise.all(refs.map((ref) => this.sweepOne(ref, lease)));
  }

  /** A sweep that fails leaves the entry at its lease: another node sweeps it when that ends. */
  private async sweepOne(ref: string, lease: number): Promise<void> {
    const sale = parseSaleRef(ref);
    if (!sale) return this.store.reschedule(ref, lease, null);
    // A missing sale hash (GONE) is safe to drop here: a new sale's entry is not due until well
    // after its hash exists (INDEX_CREATE_GRACE_MS), so this is a failed create or expired keys.
    const r = await this.store.sweep(sale.roomId, sale.saleId);
    if (r.unitsReturned > 0) this.broadcasts.stockChanged(sale.roomId, sale.saleId);
    if (r.justOpened) this.broadcasts.opened(sale.roomId, sale.saleId);
    if (r.justEnded) this.broadcasts.ended(sale.roomId, sale.saleId, 'time', r.sold);
    await this.store.reschedule(ref, lease, r.retired ? null : r.nextDue);
  }

  close(): void {
    this.periodic.stop();
  }
}
