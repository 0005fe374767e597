/**
 * Hearts are the busiest event of a live: thousands of taps a second in one room. As one script
 * call each, they queued in the Redis client and on Redis itself (ack p99 1.37 s at 10,000 taps/s
 * where a bare Socket.IO ack server answers in 46 ms, docs/BENCHMARKS.md). So, as the flash-sale
 * reserve path does (commerce/sales/sale-reserve-batcher.ts), the taps of one room that arrive
 * in the same event-loop turn go to Redis as one call of the heart script (heart-tap-script.ts; the batching itself is core/turn-batcher.ts),
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
import { Refusal, TurnBatcher, type TurnBatch } from '../core/turn-batcher.js';
import { HEART_TAP_KEYS, HEART_TAP_SCRIPT } from './heart-tap-script.js';

/** Taps per script call: bounds how long one call keeps Redis busy (a room's turn can bring more). */
export const HEART_BATCH_MAX = 512;

/** The rate-limit window, as the per-user keys had it: HEART_RATE_PER_SEC taps per second. */
export const HEART_RATE_WINDOW_MS = 1000;

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
  /** Per room (the key's scope; its id is ''), the taps as the script's own arguments:
   * `count userId` each, so a tap costs its promise and a few array slots. */
  private readonly batcher: TurnBatcher<string, T>;
  /** What a rate-limited tap is refused with: one object for every such tap. */
  private readonly refused: Refusal;

  constructor(
    redis: RedisClient,
    private readonly decode: HeartTapDecoder<T>,
    private readonly opts: HeartTapBatcherOptions,
  ) {
    this.connection = duplicateClient(redis, { enableAutoPipelining: false });
    this.connection.on('error', (err: Error) => opts.log?.warn({ err: err.message }, 'redis (hearts) error'));
    this.connection.defineCommand('heartTapBatch', { numberOfKeys: HEART_TAP_KEYS, lua: HEART_TAP_SCRIPT });
    this.refused = new Refusal(opts.rateLimited);
    this.batcher = new TurnBatcher(HEART_BATCH_MAX, (batch) => this.send(batch));
  }

  /** Count `count` hearts from `userId` in the room, decided with the room's other taps of this turn. */
  tap(roomId: string, userId: string, count: number): Promise<T> {
    return this.batcher.add(roomId, '', `${count} ${userId}`);
  }

  close(): void {
    this.batcher.close();
    this.connection.disconnect();
  }

  private async send(batch: TurnBatch<string, T>): Promise<(T | Refusal)[]> {
    const { scope: roomId, items: taps } = batch;
    const reply = await (this.connection as unknown as HeartTapCommand).heartTapBatch(
      roomStatsKey(roomId), roomKey(roomId, 'rl:hearts'), roomKey(roomId, 'rl:hearts:previous'),
      writeDeadline(this.connection), this.opts.weight, this.opts.rlMax, this.opts.rlWindowMs ?? HEART_RATE_WINDOW_MS,
      ...taps,
    );
    // Past the deadline: nothing was counted (the senders' own timeouts may not have fired yet).
    if (reply[0] === 'ERR') throw lateWrite();
    const answers: (T | Refusal)[] = new Array(taps.length);
    let hearts = 0;
    for (let i = 0; i < taps.length; i++) {
      const total = reply[i];
      if (typeof total === 'number') {
        const count = parseInt(taps[i]!, 10); // the tap's leading `count`
        hearts += count;
        answers[i] = this.decode(count, total);
      } else {
        answers[i] = this.refused;
      }
    }
    if (hearts > 0) this.opts.onCounted?.(roomId, hearts);
    return answers;
  }
}
