/**
 * The commerce domain (live-room part): the product bag over HTTP, pins and product saves over
 * the socket. Flash sales join this domain in their own files.
 */
import type { Router } from 'express';
import type { BagChange, Product, Room } from '../protocol/index.js';
import { productBody, productPatchBody, roomIdParams, roomProductParams } from '../protocol/index.js';
import type { Domain, DomainDeps } from '../core/domain.js';
import { EngagementCounter } from '../core/engagement-counter.js';
import { AppError, notFound } from '../core/errors.js';
import { parseBody, requireHttpUser } from '../core/http-kit.js';
import { newId } from '../core/ids.js';
import { ENGAGEMENT_WEIGHTS, roomChannel } from '../core/keys.js';
import { requireRole } from '../core/roles.js';
import { joinedRoom, requireUser, type EventRouter } from '../core/socket-kit.js';
import { BagStore } from './bag-store.js';
import { commerceMetrics } from './commerce-metrics.js';
import { countOutcomes } from '../core/metrics.js';

/**
 * Keeps what sells a product in step with the bag (buy-now/buy-now-domain.ts): called after a
 * product is saved or removed, before the room is told, so a buyer who sees the change can act.
 */
export interface ProductStockHook {
  /** `stock` as the request sent it (undefined: not part of this edit). */
  productSaved(room: Room, product: Product, stock: number | null | undefined, by: string): Promise<void>;
  productRemoved(roomId: string, product: Product): Promise<void>;
}

export class CommerceDomain implements Domain {
  readonly name = 'commerce';
  readonly bag: BagStore;
  private readonly engagement: EngagementCounter;
  private readonly metrics;

  constructor(
    private readonly deps: DomainDeps,
    private readonly stock?: ProductStockHook,
  ) {
    this.bag = new BagStore(deps.redis);
    this.engagement = new EngagementCounter(deps.redis);
    this.metrics = commerceMetrics(deps.metrics);
  }

  async snapshotPart(room: Room): Promise<Record<string, unknown>> {
    const [bag, pinned] = await Promise.all([this.bag.list(room.id), this.bag.pinned(room.id)]);
    return { commerce: { bag, pinned } };
  }

  /** Only what changed goes out: a whole bag per edit made every PATCH a broadcast of up to
   * ROOM_PRODUCTS_MAX products (and an entry that size in the adapter's stream). */
  private announceBag(roomId: string, change: BagChange): void {
    this.deps.io.to(roomChannel(roomId)).emit('bag:changed', change);
  }

  registerHttp(router: Router): void {
    const { rooms } = this.deps;

    router.get('/api/rooms/:roomId/products', async (req, res) => {
      const { roomId } = parseBody(roomIdParams, req.params);
      await this.deps.membership.requireReadable(roomId, req.user ?? null);
      res.json({ products: await this.bag.list(roomId) });
    });

    router.post('/api/rooms/:roomId/products', async (req, res) => {
      const { roomId } = parseBody(roomIdParams, req.params);
      const room = await rooms.require(roomId);
      requireRole(room, requireHttpUser(req), 'host', 'add products');
      const { id, ...fields } = parseBody(productBody, req.body);
      const product: Product = { id: id ?? newId('p_'), ...fields };
      const max = this.deps.config.ROOM_PRODUCTS_MAX;
      const added = await this.bag.add(roomId, product, max);
      if (added === 'taken') throw new AppError('CONFLICT', `product ${product.id} is already in the bag; PATCH it instead`);
      if (added === 'full') throw new AppError('LIMIT_EXCEEDED', `a room's bag holds at most ${max} products; remove one first`);
      await this.stock?.productSaved(room, product, product.stock, requireHttpUser(req).id);
      this.metrics.bagChanges.inc({ change: 'add' });
      this.announceBag(roomId, { change: 'added', product });
      res.status(201).json({ product });
    });

    router.patch('/api/rooms/:roomId/products/:productId', async (req, res) => {
      const { roomId, productId } = parseBody(roomProductParams, req.params);
      const room = await rooms.require(roomId);
      requireRole(room, requireHttpUser(req), 'host', 'edit products');
      const patch = parseBody(productPatchBody, req.body);
      const current = await this.bag.get(roomId, productId);
      if (!current) throw notFound('product');
      const product: Product = { ...current, ...patch };
      await this.bag.put(roomId, product);
      await this.stock?.productSaved(room, product, patch.stock, requireHttpUser(req).id);
      this.metrics.bagChanges.inc({ change: 'edit' });
      this.announceBag(roomId, { change: 'updated', product });
      const pinned = await this.bag.pinned(roomId);
      if (pinned.product?.id === productId) this.deps.io.to(roomChannel(roomId)).emit('pin:changed', pinned);
      res.json({ product });
    });

    router.delete('/api/rooms/:roomId/products/:productId', async (req, res) => {
      const { roomId, productId } = parseBody(roomProductParams, req.params);
      const user = requireHttpUser(req);
      requireRole(await rooms.require(roomId), user, 'host', 'remove products');
      const wasPinned = (await this.bag.pinned(roomId)).product?.id === productId;
      const removed = await this.bag.get(roomId, productId);
      if (!(await this.bag.remove(roomId, productId))) throw notFound('product');
      if (removed) await this.stock?.productRemoved(roomId, removed);
      this.metrics.bagChanges.inc({ change: 'remove' });
      if (wasPinned) {
        // A product that left the bag can't stay on screen: unpin it for everyone.
        await this.bag.setPin(roomId, null, user.id);
        this.deps.io.to(roomChannel(roomId)).emit('pin:changed', await this.bag.pinned(roomId));
      }
      this.announceBag(roomId, { change: 'removed', productId });
      res.status(204).end();
    });
  }

  registerEvents(router: EventRouter): void {
    const { rooms, io } = this.deps;

    router.on('pin:set', async (socket, { productId }) => {
      const roomId = joinedRoom(socket);
      requireRole(await rooms.require(roomId), socket.data.user, 'host', 'pin products');
      if (!(await this.bag.get(roomId, productId))) throw notFound('product');
      await this.bag.setPin(roomId, productId, socket.data.user!.id);
      this.metrics.pins.inc({ change: 'set' });
      const pinned = await this.bag.pinned(roomId);
      io.to(roomChannel(roomId)).emit('pin:changed', pinned);
      return pinned;
    });

    router.on('pin:clear', async (socket) => {
      const roomId = joinedRoom(socket);
      requireRole(await rooms.require(roomId), socket.data.user, 'host', 'unpin products');
      await this.bag.setPin(roomId, null, socket.data.user!.id);
      this.metrics.pins.inc({ change: 'clear' });
      const pinned = await this.bag.pinned(roomId);
      io.to(roomChannel(roomId)).emit('pin:changed', pinned);
      return pinned;
    });

    router.on('pin:history', async (socket, { limit }) => {
      const roomId = joinedRoom(socket);
      return this.bag.pinHistory(roomId, limit);
    });

    router.on('engage:save', countOutcomes(this.metrics.saves, async (socket, { productId }) => {
      const roomId = joinedRoom(socket);
      const user = requireUser(socket, 'save products');
      if (!(await this.bag.get(roomId, productId))) throw notFound('product');
      const { engagement, already } = await this.engagement.once(
        roomId,
        this.bag.savesKey(roomId),
        `${user.id}|${productId}`,
        ENGAGEMENT_WEIGHTS.save,
      );
      return { engagement, alreadySaved: already };
    }));
  }
}
