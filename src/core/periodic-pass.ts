/**
 * A pass every node runs on a timer over a global due-index (sale sweeps, auction closes,
 * giveaway draws). Nodes race on purpose — none is special and any may die — and the stores'
 * scripts make each piece of work happen once, so all a node needs is: run the pass every
 * interval, never overlap a slow pass with the next, and log a failed pass (a Redis timeout, say)
 * instead of throwing, since the next tick retries it.
 */
import type { Logger } from './logger.js';

export class PeriodicPass {
  private readonly timer: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly pass: () => Promise<void>,
    intervalMs: number,
    private readonly log: Logger,
    /** Named in the warning when a pass fails, e.g. 'sale sweep'. */
    private readonly what: string,
  ) {
    this.timer = setInterval(() => void this.run(), intervalMs);
    // Never the reason a process stays up: domains stop it on close.
    this.timer.unref();
  }

  /** One pass now, unless one is still running (then this one is skipped, not queued). */
  async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.pass();
    } catch (err) {
      this.log.warn({ err }, `${this.what} failed; retrying next tick`);
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
