/**
 * Bids are the rush path: in a lot's final seconds thousands of taps arrive within a second. As
 * with flash-sale reserves (sale-reserve-batcher.ts), the bids of one lot that arrive in the same
 * event-loop turn go to Redis as one call of the bid script (the batching itself:
 * core/turn-batcher.ts), which decides them one after the
 * other in arrival order: the same answers N separate calls would give, each bid still atomic and
 * idempotent, the lot read and written once per call instead of once per bid. No bid waits for
 * another: the batch leaves at the end of the turn it arrived in (setImmediate), on a connection
 * of its own without auto-pipelining (which would hold it one more turn).
 */
import { duplicateClient, type RedisClient } from '../../core/redis-client.js';
import type { Logger } from '../../core/logger.js';
import { roomBansKey, roomMutesKey } from '../../core/keys.js';
import { bidRateKey, lotKeys } from './auction-keys.js';
import { BID_SCRIPT } from './auction-scripts.js';
import { TurnBatcher, type TurnBatch } from '../../core/turn-batcher.js';

/** Bids per script call: bounds how long one call keeps Redis busy. */
export const BID_BATCH_MAX = 256;

export interface BidRequest {
  userId: string;
  requestId: string;
  amount: number;
  max: boolean;
  maskedName: string;
  name: string;
}

/** NEW / REPLAY: `text` is the (stored) answer; ERR: `text` is the code, nothing recorded. */
export interface BidOutcome {
  kind: 'NEW' | 'REPLAY' | 'ERR';
  text: string;
  min: number;
}

type BidCommand = { auctionBids(numberOfKeys: number, ...args: (string | number)[]): Promise<string[]> };

export interface BidBatcherOptions {
  bidsPerSecond: number;
  mutedMayBid: boolean;
  maxBidsPerLot: number;
  scriptNow: () => string;
  log?: Logger;
}

export class BidBatcher {
  private readonly connection: RedisClient;
  /** Per lot (scope: the room, id: the lot). */
  private readonly batcher: TurnBatcher<BidRequest, BidOutcome>;

  constructor(
    redis: RedisClient,
    private readonly opts: BidBatcherOptions,
  ) {
    this.connection = duplicateClient(redis, { enableAutoPipelining: false });
    this.connection.on('error', (err: Error) => opts.log?.warn({ err: err.message }, 'redis (bids) error'));
    this.connection.defineCommand('auctionBids', { lua: BID_SCRIPT });
    this.batcher = new TurnBatcher(BID_BATCH_MAX, (batch) => this.send(batch));
  }

  bid(roomId: string, lotId: string, request: BidRequest): Promise<BidOutcome> {
    return this.batcher.add(roomId, lotId, request);
  }

  close(): void {
    this.batcher.close();
    this.connection.disconnect();
  }

  private async send({ scope: roomId, id: lotId, items }: TurnBatch<BidRequest, BidOutcome>): Promise<BidOutcome[]> {
    const k = lotKeys(roomId, lotId);
    const keys = [k.lot, k.bids, k.requests, roomBansKey(roomId), roomMutesKey(roomId), ...items.map((it) => bidRateKey(k, it.userId))];
    const args: (string | number)[] = [this.opts.scriptNow(), this.opts.bidsPerSecond, 1000, this.opts.mutedMayBid ? 1 : 0, this.opts.maxBidsPerLot];
    for (const it of items) args.push(it.userId, it.requestId, it.amount, it.max ? 1 : 0, it.maskedName, it.name);
    const reply = await (this.connection as unknown as BidCommand).auctionBids(keys.length, ...keys, ...args);
    return items.map((_, i) => ({ kind: String(reply[3 * i]) as BidOutcome['kind'], text: String(reply[3 * i + 1]), min: Number(reply[3 * i + 2]) }));
  }
}
