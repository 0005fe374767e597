/**
 * What waitlisted users and the room hear about a waitlist. After any change (a join or leave,
 * units back that became offers, a sale's end) one node — ClusterThrottle, at most twice a second
 * per ledger cluster-wide — runs the positions pass (WaitlistStore.waitlistPass) and tells:
 * - each newly offered user, on their personal channel: `sale:offer`;
 * - each user in the told window (the first WAITLIST_POSITIONS_TOLD entries) whose place changed,
 *   or who just entered the window, personally: `sale:waitlist-position` (0: no longer listed);
 * - the room, when the length or the head's ticket changed: `sale:waitlist-length` (batchable),
 *   from which anyone behind the window bounds their own place (waitlist-lua.ts).
 * So one pass sends at most (offers + window + 1) messages, whatever the list's length.
 * Personal channels (`user:<id>`, joined by every signed-in socket, server.ts) go through the
 * adapter, so the user's sockets on any node get them.
 *
 * Another selling path on standing ledgers (buy-now) says the same in its own events: its
 * `WaitlistTeller` (SalesDomain.listenToLedgers) gets the pass instead.
 */
import { roomChannel, roomKey, userChannel } from '../../core/keys.js';
import type { Logger } from '../../core/logger.js';
import type { RedisClient } from '../../core/redis-client.js';
import type { LiveServer } from '../../core/socket-kit.js';
import { ClusterThrottle } from '../../core/throttle.js';
import { parseSaleRef, saleRef } from './sale-keys.js';
import { NOTICES_PER_PASS, type WaitlistPass, type WaitlistStore } from './waitlist-store.js';

export const WAITLIST_BROADCAST_MS = 500;

/** Tells one pass of a ledger's waitlist to its users and its room. */
export type WaitlistTeller = (roomId: string, ledgerId: string, pass: WaitlistPass) => Promise<void> | void;

export class WaitlistBroadcasts {
  private readonly throttle: ClusterThrottle;

  constructor(
    io: LiveServer,
    redis: RedisClient,
    waitlist: WaitlistStore,
    log: Logger,
    /** The teller of a ledger that is not a flash sale (undefined: a sale, told with sale:*). */
    tellerOf: (ledgerId: string) => WaitlistTeller | undefined = () => undefined,
  ) {
    const tellSale: WaitlistTeller = (roomId, saleId, pass) => {
      for (const o of pass.offers) io.to(userChannel(o.userId)).emit('sale:offer', { saleId, holdId: o.holdId, qty: 1, expiresAt: o.expiresAt });
      for (const p of pass.positions) io.to(userChannel(p.userId)).emit('sale:waitlist-position', { saleId, position: p.position, length: pass.length });
      if (pass.frameChanged) io.to(roomChannel(roomId)).emit('sale:waitlist-length', { saleId, length: pass.length, headTicket: pass.headTicket });
    };
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
        await (tellerOf(saleId) ?? tellSale)(roomId, saleId, pass);
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
