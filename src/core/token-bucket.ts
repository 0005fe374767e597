/**
 * A token bucket: `capacity` tokens, refilled continuously at `perSec`. Pure and synchronous so it
 * can sit in front of every socket frame without a Redis round trip; `take` answers how long to
 * wait (0 = allowed), which becomes the client's `retryAfterMs`.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly capacity: number,
    private readonly perSec: number,
    now = Date.now(),
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  /** Takes one token: 0 when allowed, else the milliseconds until one is available. */
  take(now = Date.now()): number {
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.perSec) / 1000);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.perSec));
  }
}
