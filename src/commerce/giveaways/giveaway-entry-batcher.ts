/**
 * Giveaway entries come in a rush: the host says "enter now" and the whole room taps within a
 * second or two. As one script call each they queued in the Redis client and on Redis (ack p99
 * around a second at 2,500 entries/s, docs/BENCHMARKS.md "giveaway"). So, as reserves, bids and
 * heart taps do, the entries for one giveaway that arrive in the same event-loop turn go to Redis
 * as one call of the entry script (ENTER_SCRIPT), which decides them one after the other in
 * arrival order — the answers separate calls would give: one entry per user, each user's ban and
 * rule checked, caps, an entry retried answered as it was first. The batching itself is
 * core/turn-batcher.ts; the batch leaves at the end of the turn it arrived in, on a connection of
 * its own without auto-pipelining (which would hold it one more turn). The call carries a write
 * deadline, as heart taps do: run late by a stalled Redis, it enters nobody.
 */
import type { GiveawayRule, UserRef } from '../../protocol/index.js';
import { AppError, lateWrite, notFound } from '../../core/errors.js';
import { writeDeadline } from '../../core/redis-guard.js';
import type { Logger } from '../../core/logger.js';
import { roomBansKey, roomBuyersKey, roomCommentersKey, roomFollowersKey } from '../../core/keys.js';
import { duplicateClient, type RedisClient } from '../../core/redis-client.js';
import { Refusal, TurnBatcher, type TurnBatch } from '../../core/turn-batcher.js';
import { giveawayKeys } from './giveaway-keys.js';
import { notEligibleMessage } from './giveaway-rules.js';
import { ENTER_SCRIPT } from './giveaway-scripts.js';

/** Entries per script call: bounds how long one call keeps Redis busy. */
export const ENTRY_BATCH_MAX = 256;

export interface EntryAnswer {
  via: 'rule' | 'free';
  alreadyEntered: boolean;
}

interface EntryRequest {
  user: UserRef;
  free: boolean;
}

type EnterCommand = { giveawayEnter(...keysAndArgs: (string | number)[]): Promise<(string | number)[]> };

/** The four answers an entry can get, shared (callers only read them). */
const ENTERED: Record<string, EntryAnswer> = {
  rule0: Object.freeze({ via: 'rule', alreadyEntered: false }),
  rule1: Object.freeze({ via: 'rule', alreadyEntered: true }),
  free0: Object.freeze({ via: 'free', alreadyEntered: false }),
  free1: Object.freeze({ via: 'free', alreadyEntered: true }),
};

export class GiveawayEntryBatcher {
  private readonly connection: RedisClient;
  /** Per giveaway (scope: the room, id: the giveaway). */
  private readonly batcher: TurnBatcher<EntryRequest, EntryAnswer>;
  /** The refusals, one object each (a full giveaway refuses a crowd). */
  private readonly refusals: Record<string, Refusal>;

  constructor(
    redis: RedisClient,
    private readonly maxEntries: number,
    log?: Logger,
  ) {
    this.connection = duplicateClient(redis, { enableAutoPipelining: false });
    this.connection.on('error', (err: Error) => log?.warn({ err: err.message }, 'redis (giveaway entries) error'));
    this.connection.defineCommand('giveawayEnter', { numberOfKeys: 6, lua: ENTER_SCRIPT });
    const rules: Exclude<GiveawayRule, 'everyone'>[] = ['followers', 'commenters', 'buyers'];
    this.refusals = {
      NOT_FOUND: new Refusal(notFound('giveaway')),
      GIVEAWAY_CLOSED: new Refusal(new AppError('GIVEAWAY_CLOSED', 'this giveaway has closed its entries')),
      BANNED: new Refusal(new AppError('BANNED', 'you are banned from this room')),
      LIMIT_EXCEEDED: new Refusal(new AppError('LIMIT_EXCEEDED', `this giveaway is full (${maxEntries} entries)`)),
      ...Object.fromEntries(rules.map((rule) => [`NOT_ELIGIBLE:${rule}`, new Refusal(new AppError('NOT_ELIGIBLE', notEligibleMessage(rule)))])),
    };
    this.batcher = new TurnBatcher(ENTRY_BATCH_MAX, (batch) => this.send(batch));
  }

  /** Enters `user` (by the giveaway's rule, or free), decided with the giveaway's other entries of this turn. */
  enter(roomId: string, giveawayId: string, user: UserRef, free: boolean): Promise<EntryAnswer> {
    return this.batcher.add(roomId, giveawayId, { user, free });
  }

  close(): void {
    this.batcher.close();
    this.connection.disconnect();
  }

  private async send({ scope: roomId, id: giveawayId, items }: TurnBatch<EntryRequest, EntryAnswer>): Promise<(EntryAnswer | Refusal)[]> {
    const k = giveawayKeys(roomId, giveawayId);
    const args: (string | number)[] = [
      k.giveaway, k.entries, roomBansKey(roomId), roomFollowersKey(roomId), roomCommentersKey(roomId), roomBuyersKey(roomId),
      this.maxEntries,
      writeDeadline(this.connection),
    ];
    for (const { user, free } of items) args.push(user.id, user.name, free ? '1' : '0');
    const reply = await (this.connection as unknown as EnterCommand).giveawayEnter(...args);
    // Past the deadline (a stalled Redis ran it late): nothing was entered; the senders' own
    // timeouts may not have fired yet.
    if (reply.length === 2 && reply[1] === 'LATE') throw lateWrite();
    const answers: (EntryAnswer | Refusal)[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const value = String(reply[3 * i + 1]);
      const extra = reply[3 * i + 2];
      if (reply[3 * i] === 'OK') answers[i] = ENTERED[`${value === 'free' ? 'free' : 'rule'}${Number(extra)}`]!;
      // NOT_ELIGIBLE comes with the giveaway's rule (the message says how to qualify).
      else answers[i] = this.refusals[value === 'NOT_ELIGIBLE' ? `NOT_ELIGIBLE:${extra}` : value] ?? this.refusals.LIMIT_EXCEEDED!;
    }
    return answers;
  }
}
