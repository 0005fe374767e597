/**
 * Flash sales, the money-making part of the commerce domain: a Domain of its own so it can be
 * wired, tested and closed on its own, reusing the commerce bag to check what may go on sale.
 */
import { clientIp } from '../../core/client-ip.js';
import type { Router } from 'express';
import type { Role, Room, UserRef } from '../../protocol/index.js';
import type { Domain, DomainDeps } from '../../core/domain.js';
import { atLeast, roleOf } from '../../core/roles.js';
import type { EventRouter, LiveSocket } from '../../core/socket-kit.js';
import { BagStore } from '../bag-store.js';
import { SaleBroadcasts } from './sale-broadcasts.js';
import { SaleQueries } from './sale-queries.js';
import { SaleStore } from './sale-store.js';
import { SaleSweeper } from './sale-sweeper.js';
import { WaitlistBroadcasts, type WaitlistTeller } from './waitlist-broadcasts.js';
import { WaitlistStore } from './waitlist-store.js';
import { registerSaleRoutes } from './sales-http.js';
import { registerSaleEvents } from './sales-socket.js';
import { salesMetrics } from './sales-metrics.js';

/**
 * Another selling path on standing ledgers (standing-ledger.ts: buy-now, auction lots) whose
 * stock changes the shared sweeper finds (expired holds): it announces them its own way, and its
 * ledgers' waitlists too when it has them (`tellWaitlist`, in its own events).
 */
export interface LedgerStockListener {
  owns(ledgerId: string): boolean;
  stockChanged(roomId: string, ledgerId: string): void;
  tellWaitlist?: WaitlistTeller;
}

export class SalesDomain implements Domain {
  readonly name = 'sales';
  readonly store: SaleStore;
  readonly queries: SaleQueries;
  readonly broadcasts: SaleBroadcasts;
  readonly sweeper: SaleSweeper;
  readonly waitlist: WaitlistStore;
  readonly waitlistBroadcasts: WaitlistBroadcasts;
  private readonly bag: BagStore;
  private readonly ledgerListeners: LedgerStockListener[] = [];

  /** `onOrder`: told of every order made here (the orders domain's webhook note). */
  constructor(
    private readonly deps: DomainDeps,
    hooks: { onOrder?: (roomId: string) => void } = {},
  ) {
    const { redis, config, io, log } = deps;
    this.store = new SaleStore(redis, {
      reservesPerSecond: config.SALE_RESERVE_RATE_PER_SEC,
      ordersGroup: config.SALE_ORDERS_GROUP,
      extraOrderGroups: config.WEBHOOK_URL ? [config.WEBHOOK_GROUP] : [],
      onOrder: hooks.onOrder,
      maxRunningPerRoom: config.SALE_MAX_RUNNING_PER_ROOM,
      log,
    });
    this.queries = new SaleQueries(redis, () => this.store.now());
    this.broadcasts = new SaleBroadcasts(io, redis, this.store, this.queries, log);
    this.waitlist = new WaitlistStore(redis, this.store, {
      max: config.WAITLIST_MAX,
      offerMs: config.WAITLIST_OFFER_SEC * 1000,
      told: config.WAITLIST_POSITIONS_TOLD,
    });
    this.waitlistBroadcasts = new WaitlistBroadcasts(io, redis, this.waitlist, log, (ledgerId) => this.ledgerListeners.find((l) => l.owns(ledgerId))?.tellWaitlist);
    this.store.onWaitlist = (roomId, saleId) => {
      this.waitlistBroadcasts.changed(roomId, saleId);
      this.broadcasts.statsChanged(roomId);
    };
    this.sweeper = new SaleSweeper(this.store, {
      stockChanged: (roomId, saleId) => (this.ledgerListeners.find((l) => l.owns(saleId)) ?? this.broadcasts).stockChanged(roomId, saleId),
      opened: (roomId, saleId) => this.broadcasts.opened(roomId, saleId),
      ended: (roomId, saleId, reason, sold) => this.broadcasts.ended(roomId, saleId, reason, sold),
    }, config.SALE_SWEEP_MS, log);
    this.bag = new BagStore(redis);
  }

  listenToLedgers(listener: LedgerStockListener): void {
    this.ledgerListeners.push(listener);
  }

  /** Sales indexed by an older version of the server join the due index. */
  async start(): Promise<void> {
    const moved = await this.store.migrateLegacyIndex();
    if (moved > 0) this.deps.log.info({ sales: moved }, 'moved sales into the due index');
  }

  async snapshotPart(room: Room, user: UserRef | null): Promise<Record<string, unknown>> {
    return { sales: await this.queries.snapshot(room.id, user?.id ?? null) };
  }

  /** Non-staff joiners are the audience that conversion divides by. */
  async onJoined(socket: LiveSocket, room: Room): Promise<void> {
    const role: Role = roleOf(room, socket.data.user);
    if (atLeast(role, 'moderator')) return;
    if (socket.data.user) await this.queries.addViewer(room.id, socket.data.user.id);
    else {
      const { GUESTS_PER_IP_COUNTED, TRUST_PROXY_HOPS } = this.deps.config;
      const ip = clientIp(socket.handshake.address, socket.handshake.headers['x-forwarded-for'], TRUST_PROXY_HOPS);
      await this.queries.addGuestViewer(room.id, ip, GUESTS_PER_IP_COUNTED);
    }
  }

  /** A sale can't outlive its live: stop every running one so no hold or order lands after. */
  async onRoomEnded(room: Room): Promise<void> {
    for (const sale of await this.queries.active(room.id)) {
      const stopped = await this.store.stop(room.id, sale.id, 'room-ended');
      this.broadcasts.ended(room.id, sale.id, 'room-ended', stopped.sold);
    }
  }

  registerEvents(router: EventRouter): void {
    const { rooms } = this.deps;
    registerSaleEvents(router, {
      rooms, bag: this.bag, store: this.store, queries: this.queries, broadcasts: this.broadcasts, waitlist: this.waitlist, metrics: salesMetrics(this.deps.metrics),
    });
  }

  registerHttp(router: Router): void {
    registerSaleRoutes(router, this.deps.rooms, this.deps.membership, this.queries);
  }

  async close(): Promise<void> {
    this.sweeper.close();
    this.broadcasts.close();
    this.waitlistBroadcasts.close();
    this.store.close();
  }
}
