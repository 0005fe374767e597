/**
 * Cluster-wide "at most once per interval per room" for broadcasts such as heart totals, viewer
 * counts and stock levels. A node with news marks the room dirty; it flushes when it wins a short
 * Redis lock (SET NX PX interval), otherwise it retries when the lock expires. So every change is
 * eventually broadcast with fresh numbers, and no room gets more than one frame per interval no
 * matter how many nodes see changes.
 */
import type { RedisClient } from './redis-client.js';
import type { Logger } from './logger.js';
import { isRedisUnavailable } from './errors.js';

export class ClusterThrottle {
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly lockKeyOf: (key: string) => string,
    private readonly intervalMs: number,
    private readonly flush: (key: string) => Promise<void>,
    private readonly log: Logger,
  ) {}

  /** Something changed for `key`: make sure a broadcast follows within one interval. */
  mark(key: string): void {
    if (this.closed || this.pending.has(key)) return;
    this.schedule(key, 0);
  }

  close(): void {
    this.closed = true;
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
  }

  private schedule(key: string, delayMs: number): void {
    const timer = setTimeout(() => void this.tryFlush(key), delayMs);
    timer.unref();
    this.pending.set(key, timer);
  }

  private async tryFlush(key: string): Promise<void> {
    if (this.closed) return;
    try {
      const lock = this.lockKeyOf(key);
      const won = await this.redis.set(lock, '1', 'PX', this.intervalMs, 'NX');
      if (won) {
        this.pending.delete(key); // changes from here on schedule the next window
        await this.flush(key);
        return;
      }
      const ttl = await this.redis.pttl(lock);
      this.schedule(key, Math.max(ttl, 5));
    } catch (err) {
      // Redis away or stalled: the guard (redis-guard.ts) has said so once; one line per room per
      // second on top would drown the log.
      if (isRedisUnavailable(err)) this.log.debug({ err: (err as Error).message, key }, 'throttled broadcast postponed: redis unavailable');
      else this.log.warn({ err, key }, 'throttled broadcast failed; retrying');
      this.schedule(key, Math.max(this.intervalMs, 1000));
    }
  }
}
