/**
 * Reserves are the rush path: thousands of taps on one sale within a second. Each tap as its own
 * EVALSHA cost more Node CPU in the Redis client than Socket.IO's whole handling of the event, so
 * the taps of one sale that arrive in the same event-loop turn go to Redis as one call of the
 * reserve script, which decides them one after the other in arrival order — the same answers N
 * separate calls would give, each request still atomic and idempotent. No tap waits for another:
 * the batch leaves at the end of the turn it arrived in (setImmediate), on a connection of its own
 * without auto-pipelining (which would hold it one more turn).
 */
import { duplicateClient, type RedisClient } from '../../core/redis-client.js';
import type { Logger } from '../../core/logger.js';
import { saleKeys, saleRateLimitKey, saleRef } from './sale-keys.js';
import { RESERVE_SCRIPT } from './sale-scripts.js';

/** Requests per script call: bounds how long one call keeps Redis busy. */
export const RESERVE_BATCH_MAX = 256;

export interface ReserveRequest {
  userId: string;
  requestId: string;
  qty: number;
  holdId: string;
}

export interface ReserveOutcome {
  /** NEW: decided by this call; REPLAY: the stored first answer; ERR: refused before deciding
   * (text is NOT_FOUND or RATE_LIMITED), nothing recorded. */
  kind: 'NEW' | 'REPLAY' | 'ERR';
  /** `OK|holdId|qty|expiresAt|remaining` or `ERR|CODE|available` (for ERR: the code). */
  text: string;
  /** Units that expired holds gave back just before this batch (the room should hear). */
  swept: number;
}

interface Pending extends ReserveRequest {
  resolve(outcome: ReserveOutcome): void;
  reject(err: unknown): void;
}

type ReserveCommand = { saleReserve(numberOfKeys: number, ...args: (string | number)[]): Promise<(string | number)[]> };

export class ReserveBatcher {
  private readonly connection: RedisClient;
  private readonly queues = new Map<string, { roomId: string; saleId: string; items: Pending[] }>();
  private scheduled = false;

  constructor(
    redis: RedisClient,
    private readonly opts: { reservesPerSecond: number; sweepBatch: number; scriptNow: () => string; log?: Logger },
  ) {
    this.connection = duplicateClient(redis, { enableAutoPipelining: false });
    this.connection.on('error', (err: Error) => opts.log?.warn({ err: err.message }, 'redis (reserves) error'));
    this.connection.defineCommand('saleReserve', { lua: RESERVE_SCRIPT });
  }

  reserve(roomId: string, saleId: string, request: ReserveRequest): Promise<ReserveOutcome> {
    return new Promise((resolve, reject) => {
      const ref = saleRef(roomId, saleId);
      let queue = this.queues.get(ref);
      if (!queue) {
        queue = { roomId, saleId, items: [] };
        this.queues.set(ref, queue);
      }
      queue.items.push({ ...request, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  close(): void {
    this.connection.disconnect();
  }

  private flush(): void {
    this.scheduled = false;
    const queues = [...this.queues.values()];
    this.queues.clear();
    for (const { roomId, saleId, items } of queues) {
      for (let i = 0; i < items.length; i += RESERVE_BATCH_MAX) void this.send(roomId, saleId, items.slice(i, i + RESERVE_BATCH_MAX));
    }
  }

  private async send(roomId: string, saleId: string, items: Pending[]): Promise<void> {
    const k = saleKeys(roomId, saleId);
    const keys = [k.sale, k.holds, k.quota, k.heldBy, k.expiries, k.requests, ...items.map((it) => saleRateLimitKey(k, it.userId))];
    const args: (string | number)[] = [this.opts.scriptNow(), this.opts.reservesPerSecond, 1000, this.opts.sweepBatch];
    for (const it of items) args.push(it.userId, it.requestId, it.qty, it.holdId);
    let reply: (string | number)[];
    try {
      reply = await (this.connection as unknown as ReserveCommand).saleReserve(keys.length, ...keys, ...args);
    } catch (err) {
      for (const it of items) it.reject(err);
      return;
    }
    const swept = Number(reply[0]);
    items.forEach((it, i) => {
      it.resolve({ kind: String(reply[1 + 2 * i]) as ReserveOutcome['kind'], text: String(reply[2 + 2 * i]), swept });
    });
  }
}
