/**
 * The room's product bag (what the host may pin or put on sale) and the pinned product with its
 * history. Products are JSON values in a hash; a sorted set keeps the order they were added in.
 */
import type { RedisClient } from '../core/redis-client.js';
import type { PinState, Product } from '../protocol/index.js';
import type { PinHistoryEntry } from '../protocol/index.js';
import { roomKey } from '../core/keys.js';
import { streamFields } from '../core/redis-util.js';

const keys = (roomId: string) => ({
  products: roomKey(roomId, 'bag'),
  order: roomKey(roomId, 'bag:order'),
  pin: roomKey(roomId, 'pin'),
  pinHistory: roomKey(roomId, 'pin:history'),
  saves: roomKey(roomId, 'saves'),
});

const PIN_HISTORY_MAX = 1000;

// KEYS: products hash, order zset. ARGV: id, product JSON, now, max. 1 added, 0 id taken, -1 full.
const ADD_SCRIPT = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[1])
return 1`;

interface BagCommands {
  bagAdd(products: string, order: string, id: string, json: string, now: number, max: number): Promise<number>;
}

export class BagStore {
  constructor(private readonly redis: RedisClient) {
    redis.defineCommand('bagAdd', { numberOfKeys: 2, lua: ADD_SCRIPT });
  }

  /** Adds a product unless its id is taken ('taken', the bag unchanged) or the bag already holds
   * `max` products ('full'). One script, so two hosts' tabs adding at once can neither overwrite
   * each other nor overshoot the cap. */
  async add(roomId: string, product: Product, max: number): Promise<'added' | 'taken' | 'full'> {
    const k = keys(roomId);
    const reply = await (this.redis as unknown as BagCommands).bagAdd(k.products, k.order, product.id, JSON.stringify(product), Date.now(), max);
    return reply === 1 ? 'added' : reply === 0 ? 'taken' : 'full';
  }

  /** Replaces a product (adds it if it is not there). */
  async put(roomId: string, product: Product): Promise<void> {
    const k = keys(roomId);
    await this.redis
      .multi()
      .hset(k.products, product.id, JSON.stringify(product))
      .zadd(k.order, 'NX', Date.now(), product.id)
      .exec();
  }

  async get(roomId: string, productId: string): Promise<Product | null> {
    const raw = await this.redis.hget(keys(roomId).products, productId);
    return raw ? (JSON.parse(raw) as Product) : null;
  }

  async list(roomId: string): Promise<Product[]> {
    const k = keys(roomId);
    const [ids, all] = await Promise.all([this.redis.zrange(k.order, 0, -1), this.redis.hgetall(k.products)]);
    return ids.flatMap((id) => (all[id] ? [JSON.parse(all[id]) as Product] : []));
  }

  async remove(roomId: string, productId: string): Promise<boolean> {
    const k = keys(roomId);
    const [[, removed]] = (await this.redis.multi().hdel(k.products, productId).zrem(k.order, productId).exec()) as [
      [unknown, number],
      unknown,
    ];
    return removed === 1;
  }

  async pinned(roomId: string): Promise<PinState> {
    const pin = await this.redis.hgetall(keys(roomId).pin);
    if (!pin.productId) return { product: null, by: pin.by ?? null, at: pin.at ? Number(pin.at) : null };
    const product = await this.get(roomId, pin.productId);
    return { product, by: pin.by ?? null, at: Number(pin.at) };
  }

  /** Pin (productId) or unpin (null), recording who and when in the pin history. */
  async setPin(roomId: string, productId: string | null, by: string, now = Date.now()): Promise<void> {
    const k = keys(roomId);
    await this.redis
      .multi()
      .del(k.pin)
      .hset(k.pin, { productId: productId ?? '', by, at: now })
      .xadd(k.pinHistory, 'MAXLEN', '~', PIN_HISTORY_MAX, '*', 'productId', productId ?? '', 'by', by, 'at', now)
      .exec();
  }

  async pinHistory(roomId: string, limit: number): Promise<PinHistoryEntry[]> {
    const rows = await this.redis.xrevrange(keys(roomId).pinHistory, '+', '-', 'COUNT', limit);
    return rows.map(([, fields]) => {
      const f = streamFields(fields);
      return { productId: f.productId || null, by: f.by ?? '', at: Number(f.at ?? 0) };
    });
  }

  savesKey(roomId: string): string {
    return keys(roomId).saves;
  }
}
