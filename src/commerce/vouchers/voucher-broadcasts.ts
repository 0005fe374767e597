/**
 * What the room hears of its vouchers. The remaining count is coalesced cluster-wide like a sale's
 * stock (sale-broadcasts.ts): at most one `voucher:stock` per 200 ms per voucher, trailing-edge,
 * skipped when it would repeat the last frame; the last claim is told at once (`voucher:claimed-out`).
 */
import type { RedisClient } from '../../core/redis-client.js';
import { roomChannel } from '../../core/keys.js';
import type { Logger } from '../../core/logger.js';
import type { LiveServer } from '../../core/socket-kit.js';
import { ClusterThrottle } from '../../core/throttle.js';
import { voucherThrottleKey } from './voucher-keys.js';
import type { VoucherStore } from './voucher-store.js';

export const VOUCHER_STOCK_BROADCAST_MS = 200;

const refOf = (roomId: string, voucherId: string) => `${roomId}/${voucherId}`;
function parseRef(ref: string): { roomId: string; voucherId: string } {
  const slash = ref.indexOf('/');
  return { roomId: ref.slice(0, slash), voucherId: ref.slice(slash + 1) };
}

export class VoucherBroadcasts {
  private readonly stock: ClusterThrottle;
  /** Vouchers with a change waiting out its first interval on this node. */
  private readonly delayed = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly io: LiveServer,
    redis: RedisClient,
    private readonly store: VoucherStore,
    private readonly log: Logger,
  ) {
    this.stock = new ClusterThrottle(
      redis,
      (ref) => {
        const { roomId, voucherId } = parseRef(ref);
        return voucherThrottleKey(roomId, voucherId);
      },
      VOUCHER_STOCK_BROADCAST_MS,
      async (ref) => {
        const { roomId, voucherId } = parseRef(ref);
        const remaining = await store.frame(roomId, voucherId);
        if (remaining !== null) io.to(roomChannel(roomId)).emit('voucher:stock', { voucherId, remaining });
      },
      log,
    );
  }

  stockChanged(roomId: string, voucherId: string): void {
    const ref = refOf(roomId, voucherId);
    if (this.delayed.has(ref)) return;
    const timer = setTimeout(() => {
      this.delayed.delete(ref);
      this.stock.mark(ref);
    }, VOUCHER_STOCK_BROADCAST_MS);
    timer.unref();
    this.delayed.set(ref, timer);
  }

  /** The last voucher was just claimed: tell the room now (recorded as its last frame, remaining 0). */
  claimedOut(roomId: string, voucherId: string): void {
    this.store.frame(roomId, voucherId, true).then(
      (remaining) => remaining !== null && this.io.to(roomChannel(roomId)).emit('voucher:claimed-out', { voucherId }),
      (err: unknown) => this.log.warn({ err }, 'claimed-out announcement failed'),
    );
  }

  close(): void {
    for (const timer of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.stock.close();
  }
}
