/**
 * Giveaways, a part of the commerce domain with its own Domain so it can be wired, tested and
 * closed on its own. The host starts one on a bag product or a short text; signed-in viewers
 * enter once (by the entry rule, or free); every node's sweeper races to draw it at the deadline
 * and exactly one announces `giveaway:drawn` with the revealed seed.
 */
import type { Router } from 'express';
import type { Giveaway, GiveawaysSnapshot, Room, UserRef } from '../../protocol/index.js';
import { giveawayParams } from '../../protocol/index.js';
import type { Domain, DomainDeps } from '../../core/domain.js';
import { AppError, notFound } from '../../core/errors.js';
import { parseBody } from '../../core/http-kit.js';
import { roomChannel, userChannel } from '../../core/keys.js';
import { atLeast, requireRole, roleOf } from '../../core/roles.js';
import { joinedRoom, requireUser, type EventRouter } from '../../core/socket-kit.js';
import { BagStore } from '../bag-store.js';
import { DRAW_ALGORITHM } from './giveaway-draw.js';
import { GiveawayPrizes, type SalesDesk } from './giveaway-prizes.js';
import { GiveawayStore, type GiveawayAward } from './giveaway-store.js';
import { GiveawaySweeper } from './giveaway-sweeper.js';
import { giveawaysMetrics, type GiveawaysMetrics } from './giveaways-metrics.js';
import { countOutcomes } from '../../core/metrics.js';

/** Giveaways listed in the join snapshot. */
const SNAPSHOT_RECENT = 5;
/** Drawn entry lists kept per node for the entries route. */
const DRAWN_LISTS_KEPT = 8;
/** Giveaways in the host's figures (giveaway:stats), newest first. */
const FIGURES_RECENT = 10;

export class GiveawaysDomain implements Domain {
  readonly name = 'giveaways';
  readonly store: GiveawayStore;
  readonly sweeper: GiveawaySweeper;
  private readonly bag: BagStore;
  private readonly prizes: GiveawayPrizes;
  private readonly metrics: GiveawaysMetrics;
  /** Drawn giveaways' published lists, oldest first (see publishedEntries). */
  private readonly drawnLists = new Map<string, Promise<string[]>>();

  /** `sales`: the winners' prizes are one-unit sales at price 0 (giveaway-prizes.ts). */
  constructor(
    private readonly deps: DomainDeps,
    sales: SalesDesk,
  ) {
    const { redis, config, log } = deps;
    this.store = new GiveawayStore(redis, {
      maxPerRoom: config.GIVEAWAY_MAX_PER_ROOM,
      maxEntries: config.GIVEAWAY_MAX_ENTRIES,
      drawLeaseMs: 10_000,
      awardPrizes: (giveaway, hostId) => this.prizes.award(giveaway, hostId),
      log,
    });
    this.bag = new BagStore(redis);
    this.prizes = new GiveawayPrizes(sales, this.bag, this.store, config.GIVEAWAY_PRIZE_HOLD_SEC);
    this.metrics = giveawaysMetrics(deps.metrics);
    this.sweeper = new GiveawaySweeper(this.store, (g, awards) => this.announceDrawn(g, awards), config.GIVEAWAY_SWEEP_MS, log);
  }

  /** Once per giveaway (the node that recorded the prizes): the room, then each winner's own channel. */
  private announceDrawn(giveaway: Giveaway, awards: GiveawayAward[]): void {
    this.metrics.draws.inc();
    const { io } = this.deps;
    io.to(roomChannel(giveaway.roomId)).emit('giveaway:drawn', { giveaway });
    for (const a of awards) {
      io.to(userChannel(a.userId)).emit('giveaway:won', { giveawayId: giveaway.id, prize: giveaway.prize, saleId: a.saleId, holdId: a.holdId, expiresAt: a.expiresAt });
    }
  }

  async snapshotPart(room: Room, user: UserRef | null): Promise<Record<string, unknown>> {
    const recent = await this.store.recent(room.id, SNAPSHOT_RECENT);
    const myPrizes = user ? await this.prizes.prizesOf(room.id, user.id, recent) : [];
    const giveaways: GiveawaysSnapshot = { recent, myPrizes };
    return { giveaways };
  }

  registerEvents(router: EventRouter): void {
    const { rooms, io } = this.deps;

    router.on('giveaway:start', countOutcomes(this.metrics.starts, async (socket, input) => {
      const roomId = joinedRoom(socket);
      const room = await rooms.require(roomId);
      const user = requireUser(socket, 'start giveaways');
      // Host only, as for flash sales: the prize is the merchant's to give.
      requireRole(room, user, 'host', 'start giveaways');
      if (room.status !== 'live') throw new AppError('ROOM_NOT_LIVE', 'go live before starting a giveaway');
      let prize: Giveaway['prize'];
      if (input.productId !== undefined) {
        const product = await this.bag.get(roomId, input.productId);
        if (!product) throw notFound('product');
        prize = { kind: 'product', productId: product.id, title: product.title };
      } else prize = { kind: 'text', text: input.text! };
      const { giveaway, fresh } = await this.store.start(roomId, user, {
        prize, durationSec: input.durationSec, winners: input.winners, rule: input.rule, requestId: input.requestId,
      });
      // A retry announces again while entries are open: the first answer may have been lost with
      // its announcement (clients keep one entry per giveaway id).
      if (fresh || giveaway.status === 'open') {
        io.to(roomChannel(roomId)).emit('giveaway:started', { giveaway, serverTime: fresh ? giveaway.startedAt : Date.now() });
      }
      return giveaway;
    }));

    router.on('giveaway:stats', async (socket) => {
      const roomId = joinedRoom(socket);
      requireRole(await rooms.require(roomId), socket.data.user, 'moderator', 'see giveaway figures');
      return { giveaways: await this.prizes.figures(roomId, await this.store.recent(roomId, FIGURES_RECENT)) };
    });

    router.on('giveaway:enter', countOutcomes(this.metrics.entries, async (socket, { giveawayId, free }) => {
      const roomId = joinedRoom(socket);
      const user = requireUser(socket, 'enter giveaways');
      // The host and moderators run the live: they may not win its prizes. The connection's role
      // (set by the rooms domain at join and on every role change, on every node) saves a read
      // of the room record on the one hot path of a giveaway.
      const role = socket.data.role ?? roleOf(await rooms.require(roomId), user);
      if (atLeast(role, 'moderator')) {
        throw new AppError('FORBIDDEN', 'the host and moderators may not enter their own giveaways');
      }
      const { via, alreadyEntered } = await this.store.enter(roomId, giveawayId, user, free);
      return { giveawayId, entered: true as const, via, alreadyEntered };
    }));
  }

  registerHttp(router: Router): void {
    // The published data of a draw: anyone who may read the room may check it.
    router.get('/api/giveaways/:giveawayId/entries', async (req, res) => {
      const { giveawayId } = parseBody(giveawayParams, req.params);
      const roomId = await this.store.roomOf(giveawayId);
      if (!roomId) throw notFound('giveaway');
      await this.deps.membership.requireReadable(roomId, req.user ?? null);
      const giveaway = await this.store.get(roomId, giveawayId);
      if (!giveaway) throw notFound('giveaway');
      res.json({ giveaway, algorithm: DRAW_ALGORITHM, entries: await this.publishedEntries(giveaway) });
    });
  }

  /**
   * The sorted entry hashes. A drawn list never changes, and hashing up to GIVEAWAY_MAX_ENTRIES
   * ids costs real CPU, so right after a draw (when the whole room may check it) each node
   * computes it once and keeps the last few.
   */
  private async publishedEntries(giveaway: Giveaway): Promise<string[]> {
    if (giveaway.status !== 'drawn') return this.store.entryList(giveaway.roomId, giveaway.id);
    let list = this.drawnLists.get(giveaway.id);
    if (!list) {
      list = this.store.entryList(giveaway.roomId, giveaway.id);
      if (this.drawnLists.size >= DRAWN_LISTS_KEPT) this.drawnLists.delete(this.drawnLists.keys().next().value!);
      this.drawnLists.set(giveaway.id, list);
      list.catch(() => this.drawnLists.delete(giveaway.id));
    }
    return list;
  }

  async close(): Promise<void> {
    this.sweeper.close();
    this.store.close();
  }
}
