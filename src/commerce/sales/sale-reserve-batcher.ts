/**
 * Reserves are the rush path: thousands of taps on one sale within a second. Each tap as its own
 * EVALSHA cost more Node CPU in the Redis client than Socket.IO's whole handling of the event, so
 * the taps of one sale that arrive in the same event-loop turn go to Redis as one call of the
 * reserve script (the batching itself: core/turn-batcher.ts), which decides them one after the other in arrival order — the same answers N
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
import { roomVoucherClaimsKey } from '../vouchers/voucher-keys.js';
import { DUE_INDEX, saleKeys, saleRef, waitlistScriptKeys } from './sale-keys.js';
import { holdIdFor, INDEX_GUARD_MS } from './sale-model.js';
import { RESERVE_SCRIPT } from './sale-scripts.js';
import { INDEX_LOWER_SCRIPT } from './sale-index-scripts.js';
import { TurnBatcher, type TurnBatch } from '../../core/turn-batcher.js';

/** Requests per script call: bounds how long one call keeps Redis busy. */
export const RESERVE_BATCH_MAX = 256;

/**
 * Turns one request's part of the script's reply into what its caller gets. `answer` is 'N'
 * (decided by this call) or 'R' (the stored first answer) followed by `OK|holdId|qty|expiresAt|
 * remaining` or `ERR|CODE|available`, or 'E' followed by NOT_FOUND, BANNED or RATE_LIMITED
 * (refused before deciding, nothing recorded); `swept`: units that expired holds gave back just
 * before this batch (the room should hear).
 */
export type ReserveDecoder<T> = (saleId: string, answer: string, swept: number) => T;

type ReserveCommand = {
  saleReserve(...keysAndArgs: (string | number)[]): Promise<[number, ...string[]]>;
  saleIndexLower(index: string, ref: string, now: string, guardMs: number): Promise<string | null>;
};

/** Margin for the difference between this node's clock and Redis's. */
const CLOCK_MARGIN_MS = 250;
const GUARDS_MAX = 10_000;

export interface ReserveBatcherOptions {
  reservesPerSecond: number;
  sweepBatch: number;
  scriptNow: () => string;
  now: () => number;
  /** Hold ids: `<saleId>.<holdTag><base36 number>`, the numbers taken `count` at a time from a
   * sequence of this process (takeSequence returns the last one taken before). */
  holdTag: string;
  takeSequence: (count: number) => number;
  /** A batch's sweep gave units back (they may have gone to the sale's waitlist as offers). */
  onSwept?: (roomId: string, saleId: string) => void;
  log?: Logger;
}

export class ReserveBatcher<T> {
  private readonly connection: RedisClient;
  /**
   * Per sale (scope: the room, id: the sale), the taps as the script's own arguments (one
   * `qty requestId userId` string per request, see RESERVE_SCRIPT): nothing is copied per tap at
   * flush time, and a tap costs its promise and a few array slots.
   */
  private readonly batcher: TurnBatcher<string, T>;
  /** Sale ref → the due-index score this node last saw after lowering it (Infinity: not indexed). */
  private readonly guards = new Map<string, number>();

  constructor(
    redis: RedisClient,
    private readonly decode: ReserveDecoder<T>,
    private readonly opts: ReserveBatcherOptions,
  ) {
    this.connection = duplicateClient(redis, { enableAutoPipelining: false });
    this.connection.on('error', (err: Error) => opts.log?.warn({ err: err.message }, 'redis (reserves) error'));
    this.connection.defineCommand('saleReserve', { numberOfKeys: 12, lua: RESERVE_SCRIPT });
    this.connection.defineCommand('saleIndexLower', { numberOfKeys: 1, lua: INDEX_LOWER_SCRIPT });
    this.batcher = new TurnBatcher(RESERVE_BATCH_MAX, (batch) => this.send(batch));
  }

  reserve(roomId: string, saleId: string, userId: string, requestId: string, qty: number): Promise<T> {
    return this.batcher.add(roomId, saleId, `${qty} ${requestId} ${userId}`);
  }

  close(): void {
    this.batcher.close();
    this.connection.disconnect();
  }

  private async send(batch: TurnBatch<string, T>): Promise<T[]> {
    const { scope: roomId, id: saleId, items: requests } = batch;
    const { reservesPerSecond, sweepBatch } = this.opts;
    const k = saleKeys(roomId, saleId);
    await this.guard(saleRef(roomId, saleId));
    const reply = await (this.connection as unknown as ReserveCommand).saleReserve(
      k.sale, k.holds, k.quota, k.heldBy, k.expiries, k.requests, roomBansKey(roomId), k.rateLimits, ...waitlistScriptKeys(roomId, k), roomVoucherClaimsKey(roomId),
      this.opts.scriptNow(), reservesPerSecond, 1000, sweepBatch, holdIdFor(saleId, this.opts.holdTag), this.opts.takeSequence(requests.length),
      ...requests,
    );
    const swept = Number(reply[0]);
    // Units that came back may have become waitlist offers (or dropped entries): once per batch.
    if (swept > 0) this.opts.onSwept?.(roomId, saleId);
    const answers: T[] = new Array(requests.length);
    for (let i = 0; i < requests.length; i++) answers[i] = this.decode(saleId, reply[i + 1] as string, swept);
    return answers;
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
