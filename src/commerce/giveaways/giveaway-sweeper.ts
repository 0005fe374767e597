/**
 * Every node draws giveaways whose deadline passed: each tick reads the due ones from the global
 * index and tries to draw each. Nodes race on purpose (no node is special, any may die); the
 * store's claim/finish scripts make exactly one attempt record and announce the result.
 */
import type { Logger } from '../../core/logger.js';
import { parseGiveawayRef } from './giveaway-keys.js';
import type { Giveaway } from '../../protocol/index.js';
import type { GiveawayStore } from './giveaway-store.js';

/** Giveaways looked at per tick, so a backlog costs a bounded amount per tick. */
const DUE_PER_TICK = 20;

export class GiveawaySweeper {
  private readonly timer: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly store: GiveawayStore,
    private readonly announce: (giveaway: Giveaway) => void,
    intervalMs: number,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const refs = await this.store.due(DUE_PER_TICK);
      await Promise.all(refs.map((ref) => this.drawOne(ref)));
    } catch (err) {
      this.log.warn({ err }, 'giveaway sweep failed; retrying next tick');
    } finally {
      this.running = false;
    }
  }

  private async drawOne(ref: string): Promise<void> {
    const parsed = parseGiveawayRef(ref);
    if (!parsed) return this.store.reschedule(ref, null);
    const outcome = await this.store.draw(parsed.roomId, parsed.giveawayId);
    switch (outcome.kind) {
      case 'drawn':
        this.announce(outcome.giveaway);
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
    clearInterval(this.timer);
  }
}
