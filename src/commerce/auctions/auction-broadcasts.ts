/**
 * What the room hears about its lot. `auction:state` is the high-rate frame: at most one per
 * AUCTION_STATE_MS per room across the cluster (ClusterThrottle, leading edge: the first change
 * goes out at once, the rush's later ones in the next window with the latest figures), plus a
 * frame at once when a late bid moves the end (gated to one per AUCTION_STATE_MS per lot on each
 * node, so a rush in the last seconds, where every bid extends, cannot flood the room) and on
 * close. Every room-wide frame leaves through `toRoom`, the room broadcast path the other
 * high-rate room events use, so room-level batching applies to it unchanged.
 */
import type { RedisClient } from '../../core/redis-client.js';
import type { AuctionLot, AuctionServerEvents, AuctionWin } from '../../protocol/index.js';
import { roomChannel, roomKey, userChannel } from '../../core/keys.js';
import type { Logger } from '../../core/logger.js';
import type { LiveServer } from '../../core/socket-kit.js';
import { ClusterThrottle } from '../../core/throttle.js';
import { lotRef } from './auction-keys.js';
import { stateOf } from './auction-model.js';
import type { AuctionStore } from './auction-store.js';

/** 10 frames per second per room at most (plus extensions and closes). */
export const AUCTION_STATE_MS = 100;

type RoomEvent = 'auction:started' | 'auction:state';

export class AuctionBroadcasts {
  private readonly throttle: ClusterThrottle;
  /** Per lot on this node: when the last at-once extension frame left. */
  private readonly lastExtensionFrame = new Map<string, number>();

  constructor(
    private readonly io: LiveServer,
    redis: RedisClient,
    private readonly store: AuctionStore,
    private readonly log: Logger,
  ) {
    this.throttle = new ClusterThrottle(redis, (roomId) => roomKey(roomId, 'throttle:auction'), AUCTION_STATE_MS, (roomId) => this.flush(roomId), log);
  }

  /** The one room-wide path of auction frames. */
  private toRoom<E extends RoomEvent>(roomId: string, event: E, payload: Parameters<AuctionServerEvents[E]>[0]): void {
    (this.io.to(roomChannel(roomId)).emit as (e: E, p: typeof payload) => void)(event, payload);
  }

  private async flush(roomId: string): Promise<void> {
    const rec = await this.store.current(roomId);
    if (rec) this.toRoom(roomId, 'auction:state', stateOf(rec.lot));
  }

  /** The lot changed (a bid): a frame follows within one window. */
  changed(roomId: string): void {
    this.throttle.mark(roomId);
  }

  /** A frame now, outside the throttle (close, cancel, settle). */
  async now(roomId: string, lotId: string, extended = false): Promise<void> {
    const rec = await this.store.record(roomId, lotId);
    if (rec) this.toRoom(roomId, 'auction:state', stateOf(rec.lot, extended));
  }

  /** A bid moved the end: the room hears at once, unless this node just told it (then the
   * throttled frame carries the later end). */
  extended(roomId: string, lotId: string): void {
    const ref = lotRef(roomId, lotId);
    const at = Date.now();
    if (at - (this.lastExtensionFrame.get(ref) ?? 0) < AUCTION_STATE_MS) return this.changed(roomId);
    this.lastExtensionFrame.set(ref, at);
    if (this.lastExtensionFrame.size > 10_000) this.lastExtensionFrame.clear();
    this.now(roomId, lotId, true).catch((err: unknown) => this.log.warn({ err }, 'auction extension frame failed'));
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
    this.lastExtensionFrame.clear();
  }
}
