/**
 * HTTP routes of orders, for the merchant: a room's orders for its host and moderators, one order
 * for its buyer and the room's host. Anyone else gets 404 for an order, as if it did not exist:
 * order ids are not secrets (they name their room and a counter), so existence is not confirmed.
 */
import type { Router } from 'express';
import { orderParams, roomIdParams, roomOrdersQuery } from '../../protocol/index.js';
import type { RoomDirectory } from '../../core/domain.js';
import { notFound } from '../../core/errors.js';
import { parseBody, requireHttpUser } from '../../core/http-kit.js';
import { requireRole } from '../../core/roles.js';
import { mayReadOrder } from './order-model.js';
import type { OrderQueries } from './order-queries.js';
import type { WebhookFailures } from './webhook-failures.js';
import type { WebhookTarget } from './webhook-post.js';

export function registerOrderRoutes(router: Router, rooms: RoomDirectory, queries: OrderQueries): void {
  router.get('/api/rooms/:roomId/orders', async (req, res) => {
    const { roomId } = parseBody(roomIdParams, req.params);
    const { limit, cursor } = parseBody(roomOrdersQuery, req.query);
    requireRole(await rooms.require(roomId), req.user ?? null, 'moderator', "see the room's orders");
    res.json(await queries.page(roomId, limit, cursor));
  });

  router.get('/api/orders/:orderId', async (req, res) => {
    const user = requireHttpUser(req);
    const { orderId } = parseBody(orderParams, req.params);
    const order = await queries.get(orderId);
    const room = order ? await rooms.get(order.roomId) : null;
    if (!order || !room || !mayReadOrder(order, room, user.id)) throw notFound('order');
    res.json({ order });
  });
}

/** The room's orders the webhook gave up on, for its host: the list, and a redelivery by hand. */
export function registerWebhookFailureRoutes(router: Router, rooms: RoomDirectory, failures: WebhookFailures, target: WebhookTarget): void {
  router.get('/api/rooms/:roomId/webhooks/failed', async (req, res) => {
    const { roomId } = parseBody(roomIdParams, req.params);
    requireRole(await rooms.require(roomId), requireHttpUser(req), 'host', 'see failed webhook deliveries');
    res.json({ failed: await failures.list(roomId) });
  });

  router.post('/api/rooms/:roomId/webhooks/failed/:orderId/redeliver', async (req, res) => {
    const { roomId } = parseBody(roomIdParams, { roomId: req.params.roomId });
    const { orderId } = parseBody(orderParams, { orderId: req.params.orderId });
    requireRole(await rooms.require(roomId), requireHttpUser(req), 'host', 'redeliver webhooks');
    const { order } = await failures.redeliver(roomId, orderId, target);
    res.json({ delivered: true, orderId: order.orderId });
  });
}
