/**
 * Room records in Redis. The record is one JSON string (`{room:<id>}:record`), moderators a set
 * beside it so adding one is a single atomic SADD. Global sorted sets index rooms for listings.
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

export interface RoomCounters {
  hearts: number;
  engagement: number;
  peak: number;
  chatMessages: number;
  /** Last counted unique viewers (refreshed on every presence broadcast). */
  viewers: number;
}

export class RoomStore implements RoomDirectory {
  constructor(private readonly redis: RedisClient) {}

  async create(room: Room): Promise<void> {
    const { moderatorIds: _m, ...stored } = room;
    await this.redis
      .multi()
      .set(roomKey(room.id, 'record'), JSON.stringify(stored))
      .zadd(INDEX.all, room.createdAt, room.id)
      .zadd(INDEX.scheduled, room.scheduledStart ?? room.createdAt, room.id)
      .exec();
  }

  async get(roomId: string): Promise<Room | null> {
    const [rec, mods] = await this.redis
      .multi()
      .get(roomKey(roomId, 'record'))
      .smembers(roomKey(roomId, 'moderators'))
      .exec()
      .then((r) => (r ?? []).map(([err, v]) => {
        if (err) throw err;
        return v;
      }));
    if (typeof rec !== 'string') return null;
    return { ...(JSON.parse(rec) as StoredRoom), moderatorIds: (mods as string[]).sort() };
  }

  async require(roomId: string): Promise<Room> {
    const room = await this.get(roomId);
    if (!room) throw notFound('room');
    return room;
  }

  /** Persist a status change and move the room between the listing indexes. */
  async saveStatus(room: Room, from: RoomStatus): Promise<void> {
    const { moderatorIds: _m, ...stored } = room;
    const tx = this.redis.multi().set(roomKey(room.id, 'record'), JSON.stringify(stored));
    if (from === 'scheduled') tx.zrem(INDEX.scheduled, room.id);
    if (room.status === 'live') tx.zadd(INDEX.live, room.startedAt ?? Date.now(), room.id);
    if (room.status === 'ended') tx.zrem(INDEX.live, room.id);
    await tx.exec();
  }

  async addModerator(roomId: string, userId: string): Promise<void> {
    await this.redis.sadd(roomKey(roomId, 'moderators'), userId);
  }

  async removeModerator(roomId: string, userId: string): Promise<boolean> {
    return (await this.redis.srem(roomKey(roomId, 'moderators'), userId)) === 1;
  }

  async idsByStatus(status: 'live' | 'scheduled' | 'all', limit: number): Promise<string[]> {
    if (status === 'all') {
      const [live, scheduled] = await Promise.all([
        this.redis.zrevrange(INDEX.live, 0, limit - 1),
        this.redis.zrange(INDEX.scheduled, 0, limit - 1),
      ]);
      return [...live, ...scheduled];
    }
    return status === 'live'
      ? this.redis.zrevrange(INDEX.live, 0, limit - 1)
      : this.redis.zrange(INDEX.scheduled, 0, limit - 1);
  }

  async counters(roomIds: string[]): Promise<RoomCounters[]> {
    if (roomIds.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of roomIds) pipe.hmget(roomStatsKey(id), 'hearts', 'engagement', 'peak', 'chatMessages', 'viewers');
    const rows = (await pipe.exec()) ?? [];
    return rows.map(([err, v]) => {
      if (err) throw err;
      const [hearts = 0, engagement = 0, peak = 0, chatMessages = 0, viewers = 0] = (v as (string | null)[]).map((x) => Number(x ?? 0));
      return { hearts, engagement, peak, chatMessages, viewers };
    });
  }
}
