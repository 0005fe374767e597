/**
 * Reads of orders: a room's orders newest first, page by page, and one order by id. The room's
 * orders stream is the record (the checkout script appends to it atomically with the sale of the
 * hold); an order id names its room and the room's order index gives its stream entry, so both
 * reads stay in the room's slot.
 */
import type { RedisClient } from '../../core/redis-client.js';
import { streamFields } from '../../core/redis-util.js';
import type { Order, OrdersPage } from '../../protocol/index.js';
import { orderIndexKey, orderStreamKey } from '../sales/sale-keys.js';
import { roomOfOrderId } from '../sales/sale-model.js';
import { orderFromEntry } from './order-model.js';

export class OrderQueries {
  constructor(private readonly redis: RedisClient) {}

  /** Up to `limit` orders older than `cursor` (a stream entry id; none: from the newest). */
  async page(roomId: string, limit: number, cursor?: string): Promise<OrdersPage> {
    const rows = await this.redis.xrevrange(orderStreamKey(roomId), cursor ? `(${cursor}` : '+', '-', 'COUNT', limit + 1);
    const more = rows.length > limit;
    const shown = more ? rows.slice(0, limit) : rows;
    return {
      orders: shown.map(([, fields]) => orderFromEntry(streamFields(fields))),
      nextCursor: more ? shown[shown.length - 1]![0] : null,
    };
  }

  /** The order, or null (unknown, or its stream entry trimmed by the merchant). */
  async get(orderId: string): Promise<Order | null> {
    const roomId = roomOfOrderId(orderId);
    if (!roomId) return null;
    const entry = await this.redis.hget(orderIndexKey(roomId), orderId);
    if (!entry) return null;
    const [row] = await this.redis.xrange(orderStreamKey(roomId), entry, entry);
    return row ? orderFromEntry(streamFields(row[1])) : null;
  }
}
