/**
 * A room's producers across nodes, in Redis: `{room:<id>}:media:producers`, a hash producer id →
 * `{ node, info }`, in the room's slot. The node is the producer's origin: the one an edge asks to
 * pipe it. Written by the origin when it announces a producer (before the announcement, so a
 * viewer who hears of it finds it) and on pause/resume; removed when it closes, and by survivors
 * when its origin dies. The hash expires a day after its last write, so a room whose nodes all
 * died leaves nothing behind for long.
 */
import { z } from 'zod';
import type { MediaProducerInfo } from '../protocol/index.js';
import { roomKey } from '../core/keys.js';
import type { RedisClient } from '../core/redis-client.js';

const TTL_MS = 24 * 3600_000;
const producersKey = (roomId: string) => roomKey(roomId, 'media:producers');

const entrySchema = z.object({
  node: z.string().min(1).max(200),
  info: z.object({
    id: z.string(),
    kind: z.enum(['audio', 'video']),
    userId: z.string(),
    source: z.enum(['webrtc', 'ingest']),
    paused: z.boolean(),
    appData: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  }),
});
export type RegisteredProducer = z.infer<typeof entrySchema>;

function parse(raw: string): RegisteredProducer | null {
  try {
    return entrySchema.parse(JSON.parse(raw));
  } catch {
    return null;
  }
}

export class ProducerRegistry {
  constructor(private readonly redis: RedisClient) {}

  async put(roomId: string, node: string, info: MediaProducerInfo): Promise<void> {
    const key = producersKey(roomId);
    const replies = await this.redis.multi().hset(key, info.id, JSON.stringify({ node, info })).pexpire(key, TTL_MS).exec();
    for (const [err] of replies ?? []) if (err) throw err;
  }

  async remove(roomId: string, producerIds: string[]): Promise<void> {
    if (producerIds.length) await this.redis.hdel(producersKey(roomId), ...producerIds);
  }

  async get(roomId: string, producerId: string): Promise<RegisteredProducer | null> {
    const raw = await this.redis.hget(producersKey(roomId), producerId);
    return raw ? parse(raw) : null;
  }

  async all(roomId: string): Promise<RegisteredProducer[]> {
    const rows = await this.redis.hgetall(producersKey(roomId));
    return Object.values(rows)
      .map(parse)
      .filter((e): e is RegisteredProducer => e !== null);
  }
}
