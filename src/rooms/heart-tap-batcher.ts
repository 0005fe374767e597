/**
 * Hearts are the busiest event of a live: thousands of taps a second in one room. As one script
 * call each, they queued in the Redis client and on Redis itself (ack p99 1.37 s at 10,000 taps/s
 * where a bare Socket.IO ack server answers in 46 ms, docs/BENCHMARKS.md). So, as the flash-sale
 * reserve path does (commerce/sales/sale-reserve-batcher.ts), the taps of one room that arrive
 * in the same event-loop turn go to Redis as one call of the heart script (heart-tap-script.ts),
 * which decides them one after the other in arrival order — the answers N separate calls would
 * give, the per-user rate limit exact inside a batch — and counts the accepted ones with one
 * HINCRBY. No tap waits for another: the batch leaves at the end of the turn it arrived in
 * (setImmediate), on a connection of its own without auto-pipelining (which would hold it one
 * more turn). Each tap still gets its own answer.
 *
 * Late effects: the call carries a deadline on Redis's clock, computed when it is sent (when its
 * timeout is armed). A batch that reaches a stalled Redis after its senders were told UNAVAILABLE
 * counts nothing and limits no one — the total stays what was acknowledged.
 */
import { duplicateClient, type RedisClient } from '../core/redis-client.js';
import type { AppError } from '../core/errors.js';
import { lateWrite } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { roomKey, roomStatsKey } from '../core/keys.js';
import { writeDeadline } from '../core/redis-guard.js';
import { HEART_TAP_KEYS, HEART_TAP_SCRIPT } from './heart-tap-script.js';

/** Taps per script call: bounds how long one call keeps Redis busy (a room's turn can bring more). */
export const HEART_BATCH_MAX = 512;

/** The rate-limit window, as the per-user keys had it: HEART_RATE_PER_SEC taps per second. */
export const HEART_RATE_WINDOW_MS = 1000;

/**
 * The taps of one room waiting for the end of this turn, kept as the script's own arguments
 * (`count userId` per tap): a tap costs its promise and a few array slots.
 */
interface Batch<T> {
  roomId: string;
  taps: string[];
  counts: number[];
  resolve: ((value: T) => void)[];
  reject: ((err: unknown) => void)[];
}

type HeartTapCommand = {
  heartTapBatch(...keysAndArgs: (string | number)[]): Promise<(number | string)[]>;
};

export interface HeartTapBatcherOptions {
  /** Taps per user per window (HEART_RATE_PER_SEC). */
  rlMax: number;
  /** The window, HEART_RATE_WINDOW_MS unless a test needs to see windows roll over sooner or later. */
  rlWindowMs?: number;
  /** Engagement points per heart. */
  weight: number;
  /** What a rate-limited tap is refused with (one shared error: its ack is built once). */
  rateLimited: AppError;
  /** A batch counted `hearts` hearts in the room: once per script call, not per tap. */
  onCounted?: (roomId: string, hearts: number) => void;
  log?: Logger;
}

/**
 * Turns a counted tap into what its caller gets (`total`: the room's hearts just after it), so a
 * caller that answers a socket event can hand the result on as it is, without a step of its own.
 */
export type HeartTapDecoder<T> = (count: number, total: number) => T;

export class HeartTapBatcher<T> {
  private readonly connection: RedisClient;
  /** Room → the batch filling up this turn (a full one is already in `full`). */
  private readonly open = new Map<string, Batch<T>>();
  private full: Batch<T>[] = [];
  /** The batch the previous tap went to: in a rush, nearly every tap goes to the same room's. */
  private last: Batch<T> | null = null;
  private scheduled = false;
  private readonly flushNow = () => this.flush();

  constructor(
    redis: RedisClient,
    private readonly decode: HeartTapDecoder<T>,
    private readonly opts: HeartTapBatcherOptions,
  ) {
    this.connection = duplicateClient(redis, { enableAutoPipelining: false });
    this.connection.on('error', (err: Error) => opts.log?.warn({ err: err.message }, 'redis (hearts) error'));
    this.connection.defineCommand('heartTapBatch', { numberOfKeys: HEART_TAP_KEYS, lua: HEART_TAP_SCRIPT });
  }

  /** Count `count` hearts from `userId` in the room, decided with the room's other taps of this turn. */
  tap(roomId: string, userId: string, count: number): Promise<T> {
    let batch: Batch<T> | null | undefined = this.last;
    if (!batch || batch.roomId !== roomId) {
      batch = this.open.get(roomId);
      if (!batch) {
        batch = { roomId, taps: [], counts: [], resolve: [], reject: [] };
        this.open.set(roomId, batch);
      }
      this.last = batch;
    }
    batch.taps.push(`${count} ${userId}`);
    batch.counts.push(count);
    const b = batch;
    const promise = new Promise<T>((resolve, reject) => {
      b.resolve.push(resolve);
      b.reject.push(reject);
    });
    if (batch.taps.length >= HEART_BATCH_MAX) {
      this.full.push(batch);
      this.open.delete(roomId);
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
    const { roomId, taps, counts, resolve, reject } = batch;
    let reply: (number | string)[];
    try {
      reply = await (this.connection as unknown as HeartTapCommand).heartTapBatch(
        roomStatsKey(roomId), roomKey(roomId, 'rl:hearts'), roomKey(roomId, 'rl:hearts:previous'),
        writeDeadline(this.connection), this.opts.weight, this.opts.rlMax, this.opts.rlWindowMs ?? HEART_RATE_WINDOW_MS,
        ...taps,
      );
    } catch (err) {
      for (const fail of reject) fail(err);
      return;
    }
    if (reply[0] === 'ERR') {
      // Past the deadline: nothing was counted (the senders' own timeouts may not have fired yet).
      const late = lateWrite();
      for (const fail of reject) fail(late);
      return;
    }
    let hearts = 0;
    for (let i = 0; i < resolve.length; i++) {
      const answer = reply[i];
      if (typeof answer === 'number') {
        hearts += counts[i]!;
        resolve[i]!(this.decode(counts[i]!, answer));
      } else {
        reject[i]!(this.opts.rateLimited);
      }
    }
    if (hearts > 0) this.opts.onCounted?.(roomId, hearts);
  }
}
