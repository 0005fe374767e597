/**
 * A batching window that widens with the event loop's load. Idle, a frame is cheap and every
 * millisecond of delay is latency a viewer sees, so the window is the narrowest; as the loop gets
 * busy, each frame saved is CPU for everything else, so it grows to the widest (the delay bound,
 * BATCH_MAX_DELAY_MS). Load is the event-loop utilisation over the last sample period, read from
 * perf_hooks (cheap: two hrtime reads), between `idleBelow` and `busyAbove`.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

const SAMPLE_MS = 250;

export interface LoadWindowOptions {
  minMs: number;
  maxMs: number;
  /** Utilisation at or below which the window is minMs, and at or above which it is maxMs. */
  idleBelow: number;
  busyAbove: number;
}

export class LoadWindow {
  private last: EventLoopUtilization = performance.eventLoopUtilization();
  private current: number;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: LoadWindowOptions) {
    this.current = opts.minMs;
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  /** The window now, in ms. */
  readonly ms = (): number => this.current;

  /** Set the utilisation by hand (tests), as a sample would. */
  observe(utilization: number): void {
    const { minMs, maxMs, idleBelow, busyAbove } = this.opts;
    const load = Math.min(1, Math.max(0, (utilization - idleBelow) / (busyAbove - idleBelow)));
    this.current = Math.round(minMs + (maxMs - minMs) * load);
  }

  close(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const now = performance.eventLoopUtilization();
    this.observe(performance.eventLoopUtilization(now, this.last).utilization);
    this.last = now;
  }
}
