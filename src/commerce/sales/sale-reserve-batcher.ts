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
import { roomVoucherClaimsKey } from '../vouchers/voucher-keys.js';
import { DUE_INDEX, saleKeys, saleRef, waitlistScriptKeys, type SaleKeys } from './sale-keys.js';
import { holdIdFor, INDEX_GUARD_MS } from './sale-model.js';
import { RESERVE_SCRIPT } from './sale-scripts.js';
import { INDEX_LOWER_SCRIPT } from './sale-index-scripts.js';

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

/**
 * The taps of one sale waiting for the end of this turn, kept as the script's own arguments (one
 * `qty requestId userId` string per request, see RESERVE_SCRIPT): nothing is copied per tap at
 * flush time, and a tap costs its promise and a few array slots.
 */
interface Batch<T> {
  roomId: string;
  saleId: string;
  keys: SaleKeys;
  requests: string[];
  resolve: ((value: T) => void)[];
  reject: ((err: unknown) => void)[];
}

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
  /** Sale ref → the batch filling up this turn (a full one is already in `full`). */
  private readonly open = new Map<string, Batch<T>>();
  private full: Batch<T>[] = [];
  /** The batch the previous tap went to: in a rush, nearly every tap goes to the same one. */
  private last: Batch<T> | null = null;
  private scheduled = false;
  /** Sale ref → the due-index score this node last saw after lowering it (Infinity: not indexed). */
  private readonly guards = new Map<string, number>();
  private readonly flushNow = () => this.flush();

  constructor(
    redis: RedisClient,
    private readonly decode: ReserveDecoder<T>,
    private readonly opts: ReserveBatcherOptions,
  ) {
    this.connection = duplicateClient(redis, { enableAutoPipelining: false });
    this.connection.on('error', (err: Error) => opts.log?.warn({ err: err.message }, 'redis (reserves) error'));
    this.connection.defineCommand('saleReserve', { numberOfKeys: 12, lua: RESERVE_SCRIPT });
    this.connection.defineCommand('saleIndexLower', { numberOfKeys: 1, lua: INDEX_LOWER_SCRIPT });
  }

  reserve(roomId: string, saleId: string, userId: string, requestId: string, qty: number): Promise<T> {
    let batch: Batch<T> | null | undefined = this.last;
    if (!batch || batch.saleId !== saleId || batch.roomId !== roomId) {
      const ref = saleRef(roomId, saleId);
      batch = this.open.get(ref);
      if (!batch) {
        batch = { roomId, saleId, keys: saleKeys(roomId, saleId), requests: [], resolve: [], reject: [] };
        this.open.set(ref, batch);
      }
      this.last = batch;
    }
    batch.requests.push(`${qty} ${requestId} ${userId}`);
    const b = batch;
    const promise = new Promise<T>((resolve, reject) => {
      b.resolve.push(resolve);
      b.reject.push(reject);
    });
    if (batch.requests.length >= RESERVE_BATCH_MAX) {
      this.full.push(batch);
      this.open.delete(saleRef(roomId, saleId));
      this.last = null;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
    return promise;
  }

  close(): void {
    this.connection.disconnect();
  }

  private flush(): void {
    this.scheduled = false;
    this.last = null;
    const batches = this.full;
    this.full = [];
    for (const batch of this.open.values()) batches.push(batch);
    this.open.clear();
    for (const batch of batches) void this.send(batch);
  }

  private async send(batch: Batch<T>): Promise<void> {
    const { roomId, saleId, keys: k, requests } = batch;
    const { reservesPerSecond, sweepBatch } = this.opts;
    let reply: [number, ...string[]];
    try {
      await this.guard(saleRef(roomId, saleId));
      reply = await (this.connection as unknown as ReserveCommand).saleReserve(
        k.sale, k.holds, k.quota, k.heldBy, k.expiries, k.requests, roomBansKey(roomId), k.rateLimits, ...waitlistScriptKeys(roomId, k), roomVoucherClaimsKey(roomId),
        this.opts.scriptNow(), reservesPerSecond, 1000, sweepBatch, holdIdFor(saleId, this.opts.holdTag), this.opts.takeSequence(requests.length),
        ...requests,
      );
    } catch (err) {
      for (const reject of batch.reject) reject(err);
      return;
    }
    const swept = Number(reply[0]);
    // Units that came back may have become waitlist offers (or dropped entries): once per batch.
    if (swept > 0) this.opts.onSwept?.(roomId, saleId);
    const { resolve } = batch;
    for (let i = 0; i < resolve.length; i++) resolve[i]!(this.decode(saleId, reply[i + 1] as string, swept));
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
