/**
 * Room records in Redis. The record is one JSON string (`{room:<id>}:record`), moderators a set
 * beside it so adding one is a single atomic SADD. Global sorted sets index rooms for listings.
 *
 * Redis Cluster: a room's keys share its slot, but each index is a key of its own in some other
 * slot, so the record and the indexes are never written in one MULTI (that would cross slots).
 * They are separate commands in a safe order instead: the record first, then the indexes, and a
 * room is added to its new index before it leaves the old one. So an index entry never points at
 * a record that was not written yet, and a room never drops out of every list; a crash between
 * the steps leaves at most a stale entry, which readers skip (and remove) by looking at the record.
 */
import type { RedisClient } from '../core/redis-client.js';
import type { Room, RoomStatus } from '../protocol/index.js';
import { notFound } from '../core/errors.js';
import { roomKey, roomStatsKey } from '../core/keys.js';
import type { RoomDirectory } from '../core/domain.js';

const INDEX = {
  all: 'rooms:by-created',
  live: 'rooms:live',
  scheduled: 'rooms:scheduled',
} as const;

type StoredRoom = Omit<Room, 'moderatorIds'>;

/** The rooms a user hosts that have not ended (a set, in the user's own Cluster slot). */
const hostedKey = (userId: string) => `{user:${userId}}:rooms-hosted`;

// KEYS: a set. ARGV: member, max. SADD unless the set already holds `max` others:
// 1 added (or already there), 0 full. Atomic, so parallel requests cannot overshoot the cap.
const ADD_CAPPED_SCRIPT = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 1`;

// KEYS: the room's record, its moderators set. Both read at one instant: one command instead of
// MULTI, GET, SMEMBERS, EXEC (every socket event of a room reads its record; a join-storm profile
// had a sixth of a node's CPU in that transaction's client-side machinery).
const READ_ROOM_SCRIPT = `
local rec = redis.call('GET', KEYS[1])
if not rec then return false end
return {rec, redis.call('SMEMBERS', KEYS[2])}`;

interface StoreCommands {
  saddCapped(key: string, member: string, max: number): Promise<number>;
  readRoom(recordKey: string, moderatorsKey: string): Promise<[string, string[]] | null>;
}

export interface RoomCounters {
  hearts: number;
  engagement: number;
  peak: number;
  chatMessages: number;
  /** Last counted unique viewers (refreshed on every presence broadcast). */
  viewers: number;
}

export class RoomStore implements RoomDirectory {
  private readonly cmd: StoreCommands;

  constructor(private readonly redis: RedisClient) {
    redis.defineCommand('saddCapped', { numberOfKeys: 1, lua: ADD_CAPPED_SCRIPT });
    redis.defineCommand('readRoom', { numberOfKeys: 2, lua: READ_ROOM_SCRIPT });
    this.cmd = redis as unknown as StoreCommands;
  }

  /** Count `roomId` among the rooms `userId` hosts; false when they already host `max`. */
  async claimHosted(userId: string, roomId: string, max: number): Promise<boolean> {
    return (await this.cmd.saddCapped(hostedKey(userId), roomId, max)) === 1;
  }

  async releaseHosted(userId: string, roomId: string): Promise<void> {
    await this.redis.srem(hostedKey(userId), roomId);
  }

  async create(room: Room): Promise<void> {
    const { moderatorIds: _m, ...stored } = room;
    await this.redis.set(roomKey(room.id, 'record'), JSON.stringify(stored));
    await Promise.all([
      this.redis.zadd(INDEX.all, room.createdAt, room.id),
      this.redis.zadd(INDEX.scheduled, room.scheduledStart ?? room.createdAt, room.id),
    ]);
  }

  async get(roomId: string): Promise<Room | null> {
    const read = await this.cmd.readRoom(roomKey(roomId, 'record'), roomKey(roomId, 'moderators'));
    if (!read) return null;
    return { ...(JSON.parse(read[0]) as StoredRoom), moderatorIds: read[1].sort() };
  }

  async require(roomId: string): Promise<Room> {
    const room = await this.get(roomId);
    if (!room) throw notFound('room');
    return room;
  }

  /** Persist a status change, then move the room between the listing indexes (add, then remove). */
  async saveStatus(room: Room, from: RoomStatus): Promise<void> {
    const { moderatorIds: _m, ...stored } = room;
    await this.redis.set(roomKey(room.id, 'record'), JSON.stringify(stored));
    if (room.status === 'live') await this.redis.zadd(INDEX.live, room.startedAt ?? Date.now(), room.id);
    if (from === 'scheduled') await this.redis.zrem(INDEX.scheduled, room.id);
    if (room.status === 'ended') await this.redis.zrem(INDEX.live, room.id);
    // An ended room no longer counts against its host's cap (ROOMS_PER_USER).
    if (room.status === 'ended') await this.releaseHosted(room.hostId, room.id);
  }

  /** Rooms live now (the live listing's size). */
  liveCount(): Promise<number> {
    return this.redis.zcard(INDEX.live);
  }

  /** Appoint a moderator unless the room already has `max` (then false; re-appointing is fine). */
  async addModerator(roomId: string, userId: string, max: number): Promise<boolean> {
    return (await this.cmd.saddCapped(roomKey(roomId, 'moderators'), userId, max)) === 1;
  }

  /** Scheduled rooms whose start (or creation, when unscheduled) is before `before`, oldest first. */
  staleScheduled(before: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(INDEX.scheduled, '-inf', `(${before}`, 'LIMIT', 0, limit);
  }

  /** Drop a room from the scheduled index (it is gone or no longer scheduled). */
  async unschedule(roomId: string): Promise<void> {
    await this.redis.zrem(INDEX.scheduled, roomId);
  }

  async removeModerator(roomId: string, userId: string): Promise<boolean> {
    return (await this.redis.srem(roomKey(roomId, 'moderators'), userId)) === 1;
  }

  /**
   * Rooms listed under `status` (live newest first, scheduled soonest first; `all` = both), as
   * their records say. An entry whose record is missing, or whose record has moved on to another
   * status, is a leftover of an interrupted write (see the header): skipped, and removed.
   */
  async listed(status: 'live' | 'scheduled' | 'all', limit: number): Promise<Room[]> {
    const [live, scheduled] = await Promise.all([
      status === 'scheduled' ? [] : this.redis.zrevrange(INDEX.live, 0, limit - 1),
      status === 'live' ? [] : this.redis.zrange(INDEX.scheduled, 0, limit - 1),
    ]);
    const load = async (ids: string[], index: string, belongs: RoomStatus) => {
      const rooms = await Promise.all(ids.map((id) => this.get(id)));
      const stale = ids.filter((_, i) => rooms[i]?.status !== belongs);
      if (stale.length) await this.redis.zrem(index, ...stale);
      return rooms.filter((r): r is Room => r?.status === belongs);
    };
    const [l, s] = await Promise.all([load(live, INDEX.live, 'live'), load(scheduled, INDEX.scheduled, 'scheduled')]);
    return [...l, ...s];
  }

  /** One HMGET per room, not a pipeline: on a Cluster a pipeline must stay in one slot, and
   * auto-pipelining still sends the reads of rooms on the same node together. */
  async counters(roomIds: string[]): Promise<RoomCounters[]> {
    return Promise.all(
      roomIds.map(async (id) => {
        const row = await this.redis.hmget(roomStatsKey(id), 'hearts', 'engagement', 'peak', 'chatMessages', 'viewers');
        const [hearts = 0, engagement = 0, peak = 0, chatMessages = 0, viewers = 0] = row.map((x) => Number(x ?? 0));
        return { hearts, engagement, peak, chatMessages, viewers };
      }),
    );
  }
}
