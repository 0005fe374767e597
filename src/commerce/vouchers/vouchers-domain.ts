/**
 * Live vouchers, a part of the commerce domain with its own Domain (wired, tested and closed on
 * its own). The host drops a voucher; signed-in viewers claim one each; a claimed voucher is
 * applied to a hold (voucher:apply) or named at checkout, and consumed inside the sale checkout
 * script (sales/sale-scripts.ts with voucher-lua.ts), which is also where a hold that ends unpaid
 * gives it back. docs/PROTOCOL.md, "Vouchers".
 */
import type { Router } from 'express';
import type { Room, UserRef } from '../../protocol/index.js';
import { roomIdParams } from '../../protocol/index.js';
import type { Domain, DomainDeps } from '../../core/domain.js';
import { AppError } from '../../core/errors.js';
import { parseBody, requireHttpUser } from '../../core/http-kit.js';
import { roomChannel } from '../../core/keys.js';
import { countOutcomes } from '../../core/metrics.js';
import { atLeast, requireRole, roleOf } from '../../core/roles.js';
import { joinedRoom, requireUser, type EventRouter } from '../../core/socket-kit.js';
import { VoucherBroadcasts } from './voucher-broadcasts.js';
import { VoucherStore } from './voucher-store.js';
import { vouchersMetrics, type VouchersMetrics } from './vouchers-metrics.js';

export class VouchersDomain implements Domain {
  readonly name = 'vouchers';
  readonly store: VoucherStore;
  private readonly broadcasts: VoucherBroadcasts;
  private readonly metrics: VouchersMetrics;

  constructor(private readonly deps: DomainDeps) {
    const { redis, config, io, log } = deps;
    this.store = new VoucherStore(redis, {
      maxActive: config.VOUCHER_MAX_ACTIVE_PER_ROOM,
      maxPerRoom: config.VOUCHER_MAX_PER_ROOM,
      maxQuantity: config.VOUCHER_MAX_QUANTITY,
      actionsPerSecond: config.VOUCHER_ACTIONS_PER_SEC,
    });
    this.broadcasts = new VoucherBroadcasts(io, redis, this.store, log);
    this.metrics = vouchersMetrics(deps.metrics);
  }

  /** Vouchers open for claiming, and the joining user's claims (a room has at most VOUCHER_MAX_PER_ROOM). */
  async snapshotPart(room: Room, user: UserRef | null): Promise<Record<string, unknown>> {
    const all = await this.store.list(room.id);
    const mine = user ? await this.store.claimsOf(room.id, user.id, all) : [];
    return { vouchers: { active: all.filter((v) => v.status === 'open'), mine } };
  }

  registerEvents(router: EventRouter): void {
    const { rooms, io } = this.deps;

    router.on('voucher:drop', countOutcomes(this.metrics.drops, async (socket, input) => {
      const roomId = joinedRoom(socket);
      const room = await rooms.require(roomId);
      const user = requireUser(socket, 'drop vouchers');
      // Host only, as for flash sales: the discount is the merchant's to give.
      requireRole(room, user, 'host', 'drop vouchers');
      if (room.status !== 'live') throw new AppError('ROOM_NOT_LIVE', 'go live before dropping a voucher');
      const { voucher, fresh } = await this.store.drop(roomId, user, input);
      // A retry announces again while it is open: the first answer may have been lost with its broadcast.
      if (fresh || voucher.status === 'open') io.to(roomChannel(roomId)).emit('voucher:dropped', { voucher, serverTime: voucher.startsAt });
      return { voucher };
    }));

    router.on('voucher:stop', async (socket, { voucherId }) => {
      const roomId = joinedRoom(socket);
      const room = await rooms.require(roomId);
      const user = requireUser(socket, 'stop vouchers');
      requireRole(room, user, 'moderator', 'stop vouchers');
      const voucher = await this.store.stop(roomId, voucherId, user);
      io.to(roomChannel(roomId)).emit('voucher:stopped', { voucher });
      return { voucher };
    });

    router.on('voucher:claim', countOutcomes(this.metrics.claims, async (socket, { voucherId, requestId }) => {
      const roomId = joinedRoom(socket);
      const user = requireUser(socket, 'claim vouchers');
      // The host and moderators run the live: its vouchers are for the audience (as giveaways).
      const role = socket.data.role ?? roleOf(await rooms.require(roomId), user);
      if (atLeast(role, 'moderator')) throw new AppError('FORBIDDEN', 'the host and moderators may not claim their own vouchers');
      const { claim, remaining, fresh } = await this.store.claim(roomId, voucherId, user.id, requestId);
      if (fresh) {
        if (remaining === 0) this.broadcasts.claimedOut(roomId, voucherId);
        else this.broadcasts.stockChanged(roomId, voucherId);
      }
      return { claim, remaining };
    }));

    router.on('voucher:apply', countOutcomes(this.metrics.applies, async (socket, { voucherId, holdId }) => {
      const roomId = joinedRoom(socket);
      const user = requireUser(socket, 'apply vouchers');
      return this.store.apply(roomId, voucherId, user.id, holdId);
    }));
  }

  registerHttp(router: Router): void {
    // The host's dashboard: every voucher of the room with its claims, redemptions and discount.
    router.get('/api/rooms/:roomId/vouchers', async (req, res) => {
      const { roomId } = parseBody(roomIdParams, req.params);
      const user = requireHttpUser(req);
      requireRole(await this.deps.rooms.require(roomId), user, 'moderator', 'see the voucher figures');
      res.json(await this.store.figures(roomId));
    });
  }

  /** Claiming can't outlive the live (as sales and lots): every open voucher stops, audited as
   * the host's. Claims already made stay usable until they lapse. */
  async onRoomEnded(room: Room): Promise<void> {
    const host = { id: room.hostId, name: room.hostName };
    for (const open of (await this.store.list(room.id)).filter((v) => v.status === 'open')) {
      try {
        const voucher = await this.store.stop(room.id, open.id, host);
        this.deps.io.to(roomChannel(room.id)).emit('voucher:stopped', { voucher });
      } catch (err) {
        // Its claiming time ran out a moment ago, or the host stopped it meanwhile.
        if ((err as { code?: string }).code !== 'VOUCHER_CLOSED') throw err;
      }
    }
  }

  async close(): Promise<void> {
    this.broadcasts.close();
  }
}
