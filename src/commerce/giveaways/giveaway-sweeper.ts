/**
 * Every node draws giveaways whose deadline passed: each tick reads the due ones from the global
 * index and tries to draw each. Nodes race on purpose (no node is special, any may die); the
 * store's claim/finish/awarded scripts make exactly one attempt record the result and the winners'
 * prize holds, and only that one announces them. A giveaway stays in the index until then.
 */
import type { Logger } from '../../core/logger.js';
import { PeriodicPass } from '../../core/periodic-pass.js';
import { parseGiveawayRef } from './giveaway-keys.js';
import type { Giveaway } from '../../protocol/index.js';
import type { GiveawayAward, GiveawayStore } from './giveaway-store.js';

/** Giveaways looked at per tick, so a backlog costs a bounded amount per tick. */
const DUE_PER_TICK = 20;

export class GiveawaySweeper {
  private readonly periodic: PeriodicPass;

  constructor(
    private readonly store: GiveawayStore,
    private readonly announce: (giveaway: Giveaway, awards: GiveawayAward[]) => void,
    intervalMs: number,
    private readonly log: Logger,
  ) {
    this.periodic = new PeriodicPass(() => this.pass(), intervalMs, log, 'giveaway sweep');
  }

  /** One pass over what is due now (tests call it directly); a slow pass is never overlapped. */
  tick(): Promise<void> {
    return this.periodic.run();
  }

  private async pass(): Promise<void> {
    const refs = await this.store.due(DUE_PER_TICK);
    await Promise.all(refs.map((ref) => this.drawOne(ref)));
  }

  private async drawOne(ref: string): Promise<void> {
    const parsed = parseGiveawayRef(ref);
    if (!parsed) return this.store.reschedule(ref, null);
    const outcome = await this.store.draw(parsed.roomId, parsed.giveawayId);
    switch (outcome.kind) {
      case 'drawn':
        this.announce(outcome.giveaway, outcome.awards);
        return this.store.reschedule(ref, null);
      case 'done':
      case 'gone':
        return this.store.reschedule(ref, null);
      case 'early':
        // This node's clock ran ahead of Redis's: look again when Redis says it ends.
        return this.store.reschedule(ref, outcome.endsAt);
      default:
        return; // busy / lost: another node holds the draw; its lease ends if it died
    }
  }

  close(): void {
    this.periodic.stop();
  }
}
