/**
 * Log lines that hostile clients can trigger (refusals, and errors a bad frame provokes) go through
 * a budget: at most `perSec` lines per second per node, with a count of what was left out in the
 * next line that gets through. 100,000 bad frames then cost a few log lines, not 72 MB.
 */
import type { Logger } from './logger.js';
import { TokenBucket } from './token-bucket.js';

export class LogBudget {
  private readonly bucket: TokenBucket;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    perSec: number,
  ) {
    this.bucket = new TokenBucket(perSec, perSec);
  }

  info(obj: Record<string, unknown>, msg: string): void {
    this.write('info', obj, msg);
  }

  error(obj: Record<string, unknown>, msg: string): void {
    this.write('error', obj, msg);
  }

  private write(level: 'info' | 'error', obj: Record<string, unknown>, msg: string): void {
    if (!this.log.isLevelEnabled(level)) return;
    if (this.bucket.take() > 0) {
      this.suppressed++;
      return;
    }
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.log[level](suppressed ? { ...obj, suppressed } : obj, msg);
  }
}
