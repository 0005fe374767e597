/**
 * Reserves are the rush path: thousands of taps on one sale within a second. Each tap as its own
 * EVALSHA cost more Node CPU in the Redis client than Socket.IO's whole handling of the event, so
 * the taps of one sale that arrive in the same event-loop turn go to Redis as one call of the
 * reserve script, which decides them one after the other in arrival order — the same answers N
 * separate calls would give, each request still atomic and idempotent. No tap waits for another:
 * the batch leaves at the end of the turn it arrived in (setImmediate), on a connection of its own
 * without auto-pipelining (which would hold it one more turn).
 *
 * Before a batch may add holds, the sale's entry in the global due index must be early enough for
 * them (INDEX_LOWER_SCRIPT, a separate command: the index is in another slot). It is written
 * first, so a process killed between the two commands leaves at worst one extra sweep; and once
 * per sale per ~second, not per batch: while the entry this node lowered is still in the future,
 * no sweeper can have moved it later.
 */
import { duplicateClient, type RedisClient } from '../../core/redis-client.js';
import type { Logger } from '../../core/logger.js';
import { roomBansKey } from '../../core/keys.js';
import { DUE_INDEX, saleKeys, saleRateLimitKey, saleRef } from './sale-keys.js';
import { INDEX_GUARD_MS } from './sale-model.js';
import { INDEX_LOWER_SCRIPT, RESERVE_SCRIPT } from './sale-scripts.js';

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
   * (text is NOT_FOUND, BANNED or RATE_LIMITED), nothing recorded. */
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

type ReserveCommand = {
  saleReserve(numberOfKeys: number, ...args: (string | number)[]): Promise<(string | number)[]>;
  saleIndexLower(index: string, ref: string, now: string, guardMs: number): Promise<string | null>;
};

/** Margin for the difference between this node's clock and Redis's. */
const CLOCK_MARGIN_MS = 250;
const GUARDS_MAX = 10_000;

export class ReserveBatcher {
  private readonly connection: RedisClient;
  private readonly queues = new Map<string, { roomId: string; saleId: string; items: Pending[] }>();
  private scheduled = false;
  /** Sale ref → the due-index score this node last saw after lowering it (Infinity: not indexed). */
  private readonly guards = new Map<string, number>();

  constructor(
    redis: RedisClient,
    private readonly opts: { reservesPerSecond: number; sweepBatch: number; scriptNow: () => string; now: () => number; log?: Logger },
  ) {
    this.connection = duplicateClient(redis, { enableAutoPipelining: false });
    this.connection.on('error', (err: Error) => opts.log?.warn({ err: err.message }, 'redis (reserves) error'));
    this.connection.defineCommand('saleReserve', { lua: RESERVE_SCRIPT });
    this.connection.defineCommand('saleIndexLower', { numberOfKeys: 1, lua: INDEX_LOWER_SCRIPT });
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
    const keys = [k.sale, k.holds, k.quota, k.heldBy, k.expiries, k.requests, roomBansKey(roomId), ...items.map((it) => saleRateLimitKey(k, it.userId))];
    const args: (string | number)[] = [this.opts.scriptNow(), this.opts.reservesPerSecond, 1000, this.opts.sweepBatch];
    for (const it of items) args.push(it.userId, it.requestId, it.qty, it.holdId);
    let reply: (string | number)[];
    try {
      await this.guard(saleRef(roomId, saleId));
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

  /** Makes sure the sale's due-index entry is no later than any hold this batch can add. */
  private async guard(ref: string): Promise<void> {
    const known = this.guards.get(ref);
    if (known !== undefined && known > this.opts.now() + CLOCK_MARGIN_MS) return;
    const score = await (this.connection as unknown as ReserveCommand).saleIndexLower(DUE_INDEX, ref, this.opts.scriptNow(), INDEX_GUARD_MS);
    if (this.guards.size >= GUARDS_MAX) this.guards.clear();
    // No entry: the sale is retired or never existed, and neither ever takes a hold again.
    this.guards.set(ref, score === null ? Infinity : Number(score));
  }
}
