/**
 * What the room hears about its lot. `auction:state` is the high-rate frame: at most one per
 * AUCTION_STATE_MS per room across the cluster (ClusterThrottle, leading edge: a change when no
 * frame went out in the last window is sent at once, later ones in the next window with the
 * latest figures). A bid that moves the end takes the same path, so it too goes out at once
 * unless the room heard a frame less than AUCTION_STATE_MS ago, and then within that window
 * (flagged `extended`): in a lot's final seconds every accepted bid extends it, and a frame per
 * bid to every viewer would be the whole cost of the rush. Closes, cancels and settles go out at
 * once outside the throttle. Every room-wide frame leaves through `toRoom`, the room broadcast
 * path the other high-rate room events use, so room-level batching applies to it unchanged.
 */
import type { RedisClient } from '../../core/redis-client.js';
import type { AuctionLot, AuctionServerEvents, AuctionWin } from '../../protocol/index.js';
import { roomChannel, roomKey, userChannel } from '../../core/keys.js';
import type { Logger } from '../../core/logger.js';
import type { LiveServer } from '../../core/socket-kit.js';
import { ClusterThrottle } from '../../core/throttle.js';
import { stateOf } from './auction-model.js';
import type { AuctionStore } from './auction-store.js';

/** 10 frames per second per room at most (plus closes, cancels and settles). */
export const AUCTION_STATE_MS = 100;

type RoomEvent = 'auction:started' | 'auction:state';

export class AuctionBroadcasts {
  private readonly throttle: ClusterThrottle;
  /** Rooms whose next frame from this node must say `extended` (a bid here moved the end). */
  private readonly extendedRooms = new Set<string>();

  constructor(
    private readonly io: LiveServer,
    redis: RedisClient,
    private readonly store: AuctionStore,
    log: Logger,
  ) {
    this.throttle = new ClusterThrottle(redis, (roomId) => roomKey(roomId, 'throttle:auction'), AUCTION_STATE_MS, (roomId) => this.flush(roomId), log);
  }

  /** The one room-wide path of auction frames. */
  private toRoom<E extends RoomEvent>(roomId: string, event: E, payload: Parameters<AuctionServerEvents[E]>[0]): void {
    (this.io.to(roomChannel(roomId)).emit as (e: E, p: typeof payload) => void)(event, payload);
  }

  private async flush(roomId: string): Promise<void> {
    const extended = this.extendedRooms.delete(roomId);
    const rec = await this.store.current(roomId);
    if (rec) this.toRoom(roomId, 'auction:state', stateOf(rec.lot, extended));
  }

  /** The lot changed (a bid): a frame follows within one window. */
  changed(roomId: string): void {
    this.throttle.mark(roomId);
  }

  /** A frame now, outside the throttle (close, cancel, settle). */
  async now(roomId: string, lotId: string): Promise<void> {
    const rec = await this.store.record(roomId, lotId);
    if (rec) this.toRoom(roomId, 'auction:state', stateOf(rec.lot));
  }

  /** A bid moved the end: at once if the room's window is free, else in the next frame. */
  extended(roomId: string): void {
    this.extendedRooms.add(roomId);
    this.changed(roomId);
  }

  started(lot: AuctionLot, serverTime: number): void {
    this.toRoom(lot.roomId, 'auction:started', { lot, serverTime });
  }

  won(userId: string, win: AuctionWin): void {
    this.io.to(userChannel(userId)).emit('auction:won', win);
  }

  outbid(userId: string, p: { lotId: string; price: number; nextMin: number }): void {
    this.io.to(userChannel(userId)).emit('auction:outbid', p);
  }

  close(): void {
    this.throttle.close();
    this.extendedRooms.clear();
  }
}
