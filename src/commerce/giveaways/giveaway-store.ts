/**
 * Giveaways in Redis: start, enter (batched per event-loop turn, giveaway-entry-batcher.ts) and
 * the exactly-once draw (giveaway-scripts.ts), the public view of a giveaway and its published
 * entry list.
 */
import { randomUUID } from 'node:crypto';
import type { Giveaway, GiveawayPrize, GiveawayRule, GiveawayWinner, UserRef } from '../../protocol/index.js';
import { GIVEAWAY_DURATION_MAX_SEC } from '../../protocol/index.js';
import { AppError, notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { AUDIT_MAX, roomAuditKey, roomBansKey } from '../../core/keys.js';
import type { Logger } from '../../core/logger.js';
import type { RedisClient } from '../../core/redis-client.js';
import { shortenName } from '../sales/sale-model.js';
import { commitmentOf, drawWinners, entryHash, newSalt, newSeed, sortEntries } from './giveaway-draw.js';
import { GIVEAWAY_DUE, giveawayKeys, giveawayRef, giveawayRoomKey, roomGiveawayRequestsKey, roomGiveawaysKey } from './giveaway-keys.js';
import { AWARDED_SCRIPT, CLAIM_SCRIPT, FINISH_SCRIPT, START_SCRIPT } from './giveaway-scripts.js';
import { GiveawayEntryBatcher, type EntryAnswer } from './giveaway-entry-batcher.js';

type Reply = (string | number)[];

/** A drawn giveaway and its entry list stay downloadable (for verifying) this long, then expire. */
export const GIVEAWAY_KEEP_MS = 30 * 24 * 3600_000;

interface GiveawayCommands {
  giveawayStart(...args: (string | number)[]): Promise<Reply>;
  giveawayClaim(...args: (string | number)[]): Promise<Reply>;
  giveawayFinish(...args: (string | number)[]): Promise<Reply>;
  giveawayAwarded(...args: (string | number)[]): Promise<Reply>;
}

/** A winner's prize hold as the giveaway records it (GiveawayWin without the giveaway's part). */
export interface GiveawayAward {
  userId: string;
  saleId: string;
  holdId: string;
  expiresAt: number;
}

/**
 * Gives the winners of a drawn giveaway their prize holds, idempotently per giveaway + winner (a
 * second call for the same giveaway answers the same holds). Without one, winners get no prize.
 */
export type PrizeAwarder = (giveaway: Giveaway, hostId: string) => Promise<GiveawayAward[]>;

export interface GiveawayLimits {
  maxPerRoom: number;
  maxEntries: number;
  /** How long a claimed draw is left to the claiming node before another may redo it. */
  drawLeaseMs: number;
  /** Gives the winners their prizes (the domain's: SaleStore.award); none: no prizes. */
  awardPrizes?: PrizeAwarder;
  log?: Logger;
}

export interface StartInput {
  prize: GiveawayPrize;
  durationSec: number;
  winners: number;
  rule: GiveawayRule;
  /** With a requestId a repeat by the same host answers the first giveaway (`fresh: false`). */
  requestId?: string;
}

/** What one draw attempt did: `drawn` is set only for the one call that recorded the result and
 * its prizes (so it alone announces them). */
export type DrawOutcome =
  | { kind: 'drawn'; giveaway: Giveaway; awards: GiveawayAward[] }
  | { kind: 'done' | 'gone' | 'busy' | 'lost' }
  | { kind: 'early'; endsAt: number };

export class GiveawayStore {
  private readonly cmd: GiveawayCommands;
  private readonly entries: GiveawayEntryBatcher;

  constructor(
    private readonly redis: RedisClient,
    private readonly limits: GiveawayLimits,
  ) {
    redis.defineCommand('giveawayStart', { numberOfKeys: 4, lua: START_SCRIPT });
    redis.defineCommand('giveawayAwarded', { numberOfKeys: 1, lua: AWARDED_SCRIPT });
    redis.defineCommand('giveawayClaim', { numberOfKeys: 3, lua: CLAIM_SCRIPT });
    redis.defineCommand('giveawayFinish', { numberOfKeys: 3, lua: FINISH_SCRIPT });
    this.cmd = redis as unknown as GiveawayCommands;
    this.entries = new GiveawayEntryBatcher(redis, limits.maxEntries, limits.log);
  }

  async start(roomId: string, host: UserRef, input: StartInput): Promise<{ giveaway: Giveaway; fresh: boolean }> {
    const id = newId('g_');
    const seed = newSeed();
    const commitment = commitmentOf(seed);
    // The global indexes first: a giveaway that exists is always found by the sweepers and the
    // entries route. An index entry whose giveaway was never made is dropped at its first sweep (GONE).
    await Promise.all([
      this.redis.set(giveawayRoomKey(id), roomId, 'PX', input.durationSec * 1000 + GIVEAWAY_KEEP_MS),
      this.redis.zadd(GIVEAWAY_DUE, Date.now() + input.durationSec * 1000, giveawayRef(roomId, id)),
    ]);
    const k = giveawayKeys(roomId, id);
    const reply = await this.cmd.giveawayStart(
      k.giveaway, roomGiveawaysKey(roomId), roomAuditKey(roomId), roomGiveawayRequestsKey(roomId),
      id, JSON.stringify(input.prize), input.rule, input.winners, input.durationSec * 1000,
      commitment, seed, newSalt(), host.id, host.name, this.limits.maxPerRoom, AUDIT_MAX,
      input.requestId ? `${host.id}|${input.requestId}` : '', GIVEAWAY_KEEP_MS + GIVEAWAY_DURATION_MAX_SEC * 1000,
    );
    if (reply[0] !== 'OK') {
      // Nothing made under this id: its index entries go (the sweeper would drop them anyway).
      await Promise.all([this.redis.del(giveawayRoomKey(id)), this.redis.zrem(GIVEAWAY_DUE, giveawayRef(roomId, id))]).catch(() => undefined);
    }
    if (reply[0] === 'REPLAY') {
      // A start older than its request memory is gone (30 days): a retry that late finds nothing.
      const first = await this.get(roomId, String(reply[1]));
      if (!first) throw notFound('giveaway');
      return { giveaway: first, fresh: false };
    }
    if (reply[0] !== 'OK') {
      throw new AppError('LIMIT_EXCEEDED', `a room holds at most ${this.limits.maxPerRoom} giveaways`);
    }
    return { giveaway: (await this.get(roomId, id))!, fresh: true };
  }

  /** Decided in a batch with the giveaway's other entries of this event-loop turn (see
   * GiveawayEntryBatcher); refused with NOT_FOUND, GIVEAWAY_CLOSED, BANNED, NOT_ELIGIBLE or LIMIT_EXCEEDED. */
  enter(roomId: string, giveawayId: string, user: UserRef, free: boolean): Promise<EntryAnswer> {
    return this.entries.enter(roomId, giveawayId, user, free);
  }

  close(): void {
    this.entries.close();
  }

  /**
   * Try to draw: safe to call from every node at any time. Exactly one call in the giveaway's life
   * answers `drawn` (see giveaway-scripts.ts), and only its caller announces the winners.
   */
  async draw(roomId: string, giveawayId: string): Promise<DrawOutcome> {
    const k = giveawayKeys(roomId, giveawayId);
    const token = randomUUID();
    const claim = await this.cmd.giveawayClaim(k.giveaway, k.entries, roomBansKey(roomId), token, this.limits.drawLeaseMs);
    if (claim[0] === 'EARLY') return { kind: 'early', endsAt: Number(claim[1]) };
    // Drawn by a node that died (or stalled past its lease) before recording the prizes.
    if (claim[0] === 'AWARD') return this.givePrizes(roomId, giveawayId);
    if (claim[0] !== 'OK') return { kind: String(claim[0]).toLowerCase() as 'done' | 'gone' | 'busy' };
    const [, seed, salt, wanted, ...flat] = claim.map(String) as string[];
    const byHash = new Map<string, { userId: string; name: string }>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const userId = flat[i]!;
      const value = flat[i + 1]!;
      byHash.set(entryHash(salt!, userId), { userId, name: value.slice(value.indexOf('|') + 1) });
    }
    const picked = drawWinners(seed!, sortEntries(byHash.keys()), Number(wanted));
    const winners: GiveawayWinner[] = picked.map((entry) => {
      const who = byHash.get(entry)!;
      return { userId: who.userId, name: shortenName(who.name), entry };
    });
    const finish = await this.cmd.giveawayFinish(
      k.giveaway, roomAuditKey(roomId), k.entries, token, JSON.stringify(winners), AUDIT_MAX, GIVEAWAY_KEEP_MS, this.limits.drawLeaseMs,
    );
    if (finish[0] !== 'OK') return { kind: finish[0] === 'DONE' ? 'done' : 'lost' };
    return this.givePrizes(roomId, giveawayId);
  }

  /**
   * The winners' prize holds (replayed if an earlier attempt made some), recorded once. A failure
   * here leaves the awards pending under the lease: once it ends, some node's claim answers AWARD.
   */
  private async givePrizes(roomId: string, giveawayId: string): Promise<DrawOutcome> {
    const k = giveawayKeys(roomId, giveawayId);
    const [giveaway, hostId] = await Promise.all([this.get(roomId, giveawayId), this.redis.hget(k.giveaway, 'hostId')]);
    if (!giveaway) return { kind: 'gone' };
    const awards = this.limits.awardPrizes && giveaway.winners.length > 0 ? await this.limits.awardPrizes(giveaway, hostId ?? '') : [];
    const recorded = await this.cmd.giveawayAwarded(k.giveaway, JSON.stringify(awards));
    if (recorded[0] !== 'OK') return { kind: 'done' };
    return { kind: 'drawn', giveaway, awards };
  }

  /** The prize holds recorded for each of these giveaways (empty until the draw is complete). */
  async awards(roomId: string, giveawayIds: string[]): Promise<Map<string, GiveawayAward[]>> {
    const out = new Map<string, GiveawayAward[]>();
    if (giveawayIds.length === 0) return out;
    const pipe = this.redis.pipeline();
    for (const id of giveawayIds) pipe.hget(giveawayKeys(roomId, id).giveaway, 'awards');
    const rows = (await pipe.exec()) ?? [];
    giveawayIds.forEach((id, i) => {
      const [err, raw] = rows[i] ?? [null, null];
      if (err) throw err;
      out.set(id, raw ? (JSON.parse(String(raw)) as GiveawayAward[]) : []);
    });
    return out;
  }

  /** Entries by route: `free` is kept by the entry script (and recounted when the draw drops the banned). */
  async entryCounts(roomId: string, giveawayId: string): Promise<{ entries: number; free: number }> {
    const [entries, free] = await this.redis.hmget(giveawayKeys(roomId, giveawayId).giveaway, 'entries', 'entriesFree');
    return { entries: Number(entries ?? 0), free: Number(free ?? 0) };
  }

  /** The public view: the seed and salt only once drawn. */
  async get(roomId: string, giveawayId: string): Promise<Giveaway | null> {
    const h = await this.redis.hgetall(giveawayKeys(roomId, giveawayId).giveaway);
    if (!h.id) return null;
    const drawn = h.status === 'drawn';
    return {
      id: h.id,
      roomId,
      prize: JSON.parse(h.prize ?? '{}') as GiveawayPrize,
      rule: h.rule as GiveawayRule,
      winnersWanted: Number(h.winnersWanted),
      startedAt: Number(h.startedAt),
      endsAt: Number(h.endsAt),
      commitment: h.commitment ?? '',
      status: drawn ? 'drawn' : 'open',
      entries: Number(h.entries ?? 0),
      seed: drawn ? (h.seed ?? null) : null,
      salt: drawn ? (h.salt ?? null) : null,
      winners: drawn ? (JSON.parse(h.winners ?? '[]') as GiveawayWinner[]) : [],
      drawnAt: drawn ? Number(h.drawnAt) : null,
    };
  }

  /** How many times a result was recorded (1 once drawn; the tests' exactly-once check). */
  async drawCount(roomId: string, giveawayId: string): Promise<number> {
    return Number((await this.redis.hget(giveawayKeys(roomId, giveawayId).giveaway, 'draws')) ?? 0);
  }

  async roomOf(giveawayId: string): Promise<string | null> {
    return this.redis.get(giveawayRoomKey(giveawayId));
  }

  /** The published list: every entry's salted hash, sorted (the salt is secret until the draw). */
  async entryList(roomId: string, giveawayId: string): Promise<string[]> {
    const k = giveawayKeys(roomId, giveawayId);
    const [salt, userIds] = await Promise.all([this.redis.hget(k.giveaway, 'salt'), this.redis.hkeys(k.entries)]);
    if (!salt) return [];
    return sortEntries(userIds.map((id) => entryHash(salt, id)));
  }

  /** The room's most recent giveaways, newest first (the join snapshot's part). */
  async recent(roomId: string, count: number): Promise<Giveaway[]> {
    const ids = await this.redis.zrevrange(roomGiveawaysKey(roomId), 0, count - 1);
    const all = await Promise.all(ids.map((id) => this.get(roomId, id)));
    return all.filter((g): g is Giveaway => g !== null);
  }

  /** Up to `max` refs whose deadline has passed by this node's clock (the claim checks Redis's). */
  async due(max: number): Promise<string[]> {
    return this.redis.zrangebyscore(GIVEAWAY_DUE, '-inf', Date.now(), 'LIMIT', 0, max);
  }

  async reschedule(ref: string, at: number | null): Promise<void> {
    if (at === null) await this.redis.zrem(GIVEAWAY_DUE, ref);
    else await this.redis.zadd(GIVEAWAY_DUE, at, ref);
  }
}
