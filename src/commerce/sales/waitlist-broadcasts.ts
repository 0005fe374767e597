/**
 * What waitlisted users and the room hear about a sale's waitlist. After any change (a join or
 * leave, units back that became offers, a sale's end) one node — ClusterThrottle, at most twice a
 * second per sale cluster-wide — runs the positions pass (WaitlistStore.waitlistPass) and sends:
 * - `sale:offer` to each newly offered user's personal channel;
 * - `sale:waitlist-position` to each listed user whose place changed (0: no longer listed);
 * - `sale:waitlist-length` to the room when the length changed (batchable).
 * Personal channels (`user:<id>`, joined by every signed-in socket, server.ts) go through the
 * adapter, so the user's sockets on any node get them.
 */
import { roomChannel, roomKey, userChannel } from '../../core/keys.js';
import type { Logger } from '../../core/logger.js';
import type { RedisClient } from '../../core/redis-client.js';
import type { LiveServer } from '../../core/socket-kit.js';
import { ClusterThrottle } from '../../core/throttle.js';
import { parseSaleRef, saleRef } from './sale-keys.js';
import { NOTICES_PER_PASS, type WaitlistStore } from './waitlist-store.js';

export const WAITLIST_BROADCAST_MS = 500;

export class WaitlistBroadcasts {
  private readonly throttle: ClusterThrottle;

  constructor(io: LiveServer, redis: RedisClient, waitlist: WaitlistStore, log: Logger) {
    this.throttle = new ClusterThrottle(
      redis,
      (ref) => {
        const { roomId, saleId } = parseSaleRef(ref)!;
        return roomKey(roomId, `throttle:waitlist:${saleId}`);
      },
      WAITLIST_BROADCAST_MS,
      async (ref) => {
        const { roomId, saleId } = parseSaleRef(ref)!;
        const pass = await waitlist.waitlistPass(roomId, saleId);
        for (const o of pass.offers) io.to(userChannel(o.userId)).emit('sale:offer', { saleId, holdId: o.holdId, qty: 1, expiresAt: o.expiresAt });
        for (const p of pass.positions) io.to(userChannel(p.userId)).emit('sale:waitlist-position', { saleId, position: p.position, length: pass.length });
        if (pass.lengthChanged) io.to(roomChannel(roomId)).emit('sale:waitlist-length', { saleId, length: pass.length });
        // A pass announces at most NOTICES_PER_PASS offers: more wait for the next one.
        if (pass.offers.length >= NOTICES_PER_PASS) this.changed(roomId, saleId);
      },
      log,
    );
  }

  /** The sale's waitlist may have changed: a pass follows within one interval. */
  changed(roomId: string, saleId: string): void {
    this.throttle.mark(saleRef(roomId, saleId));
  }

  close(): void {
    this.throttle.close();
  }
}
