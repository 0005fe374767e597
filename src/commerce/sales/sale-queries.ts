/**
 * Reads of flash sales: the room's sales, the join snapshot's part, the staff figures and the
 * ledger. Writes never happen here; they all go through the scripts in sale-store.ts.
 */
import type { RedisClient } from '../../core/redis-client.js';
import type { FlashSale, RoomSaleFigures, SaleFigures, SaleHold, SaleLedger, SalesSnapshot } from '../../protocol/index.js';
import { computeLedger } from './sale-ledger.js';
import { roomSalesKeys, saleKeys } from './sale-keys.js';
import { roomVoucherKeys } from '../vouchers/voucher-keys.js';
import { conversionOf, parseHoldRecord, saleFromHash, type HoldRecord } from './sale-model.js';

type Results = [Error | null, unknown][] | null;
function values<T>(results: Results): T[] {
  return (results ?? []).map(([err, v]) => {
    if (err) throw err;
    return v as T;
  });
}

// KEYS: viewers set, guest joins per address (hash). ARGV: address, guests counted per address.
// The n-th guest join from an address is viewer `guest:<address>#n`, up to the limit.
const ADD_GUEST_VIEWER_SCRIPT = `
local n = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if n > tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  return 0
end
redis.call('SADD', KEYS[1], 'guest:' .. ARGV[1] .. '#' .. n)
return 1`;

interface GuestViewerCommand {
  salesAddGuestViewer(viewers: string, guestIps: string, ip: string, perIp: number): Promise<number>;
}

export class SaleQueries {
  constructor(
    private readonly redis: RedisClient,
    private readonly now: () => number,
  ) {
    redis.defineCommand('salesAddGuestViewer', { numberOfKeys: 2, lua: ADD_GUEST_VIEWER_SCRIPT });
  }

  /** One hold's record (held, sold, released or expired), or null if there is none. */
  async hold(roomId: string, holdId: string): Promise<HoldRecord | null> {
    const dot = holdId.lastIndexOf('.');
    if (dot <= 0) return null;
    const raw = await this.redis.hget(saleKeys(roomId, holdId.slice(0, dot)).holds, holdId);
    return raw ? parseHoldRecord(raw) : null;
  }

  /** The ledger's kind ('auction', 'giveaway' for the one-unit award sales; null for a flash sale). */
  async kindOf(roomId: string, saleId: string): Promise<string | null> {
    return this.redis.hget(saleKeys(roomId, saleId).sale, 'kind');
  }

  /** Many holds' records in one round trip (null for each that is gone). */
  async holds(roomId: string, holdIds: string[]): Promise<(HoldRecord | null)[]> {
    if (holdIds.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const holdId of holdIds) {
      const dot = holdId.lastIndexOf('.');
      pipe.hget(saleKeys(roomId, dot > 0 ? holdId.slice(0, dot) : holdId).holds, holdId);
    }
    return values<string | null>(await pipe.exec()).map((raw) => (raw ? parseHoldRecord(raw) : null));
  }

  /** Every sale of the room, oldest first (sales past their retention are gone). */
  async list(roomId: string): Promise<FlashSale[]> {
    return this.load(roomId, await this.redis.zrange(roomSalesKeys(roomId).all, 0, -1));
  }

  /** Sales counting down or open, oldest first. */
  async active(roomId: string): Promise<FlashSale[]> {
    const sales = await this.load(roomId, await this.redis.smembers(roomSalesKeys(roomId).active));
    // The sweeper may not have noticed an end yet; the clock decides.
    return sales.filter((s) => s.status !== 'ended').sort((a, b) => a.createdAt - b.createdAt);
  }

  private async load(roomId: string, saleIds: string[]): Promise<FlashSale[]> {
    if (saleIds.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of saleIds) pipe.hgetall(saleKeys(roomId, id).sale);
    const now = this.now();
    return values<Record<string, string>>(await pipe.exec()).flatMap((h) => saleFromHash(h, now) ?? []);
  }

  /** The user's holds (and waitlist offers, `offer: true`) that are still live and unexpired, in the given sales. */
  async holdsOf(roomId: string, userId: string, saleIds: string[]): Promise<SaleHold[]> {
    const now = this.now();
    const perSale = await Promise.all(
      saleIds.map(async (saleId) => {
        const k = saleKeys(roomId, saleId);
        const members = await this.redis.zrangebylex(k.heldBy, `[${userId}|`, `[${userId}|\x7f`);
        const holdIds = members.map((m) => m.slice(userId.length + 1));
        if (holdIds.length === 0) return [];
        const raws = await this.redis.hmget(k.holds, ...holdIds);
        return holdIds.flatMap((holdId, i): SaleHold[] => {
          const h = raws[i] ? parseHoldRecord(raws[i]!) : null;
          if (!h || h.expiresAt <= now) return [];
          if (h.state === 'held') return [{ holdId, saleId, qty: h.qty, expiresAt: h.expiresAt }];
          return h.state === 'offered' ? [{ holdId, saleId, qty: h.qty, expiresAt: h.expiresAt, offer: true as const }] : [];
        });
      }),
    );
    return perSale.flat().sort((a, b) => a.expiresAt - b.expiresAt);
  }

  async snapshot(roomId: string, userId: string | null): Promise<SalesSnapshot> {
    const active = await this.active(roomId);
    const ids = active.map((s) => s.id);
    if (!userId) return { active, myHolds: [], myWaitlist: [] };
    const [myHolds, places] = await Promise.all([this.holdsOf(roomId, userId, ids), this.waitlistPlaces(roomId, userId, ids)]);
    return { active, myHolds, myWaitlist: places.map(({ ledgerId, position, length }) => ({ saleId: ledgerId, position, length })) };
  }

  /** Where the user stands on each of these ledgers' waitlists (those they are on): a rejoining
   * client learns its place without joining again. Position 1 is the head. */
  async waitlistPlaces(roomId: string, userId: string, ledgerIds: string[]): Promise<{ ledgerId: string; position: number; length: number }[]> {
    if (ledgerIds.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ledgerIds) pipe.zrank(saleKeys(roomId, id).waitlist, userId).zcard(saleKeys(roomId, id).waitlist);
    const replies = values<number | null>(await pipe.exec());
    return ledgerIds.flatMap((ledgerId, i) => {
      const rank = replies[2 * i];
      return rank === null || rank === undefined ? [] : [{ ledgerId, position: rank + 1, length: Number(replies[2 * i + 1]) }];
    });
  }

  /** Counts a signed-in non-staff viewer once for conversion. */
  async addViewer(roomId: string, userId: string): Promise<void> {
    await this.redis.sadd(roomSalesKeys(roomId).viewers, userId);
  }

  /** Counts a guest's join for conversion: at most `perIp` guests per address (GUESTS_PER_IP_COUNTED),
   * so a thousand guest sockets from one machine cannot dilute the conversion rate. */
  async addGuestViewer(roomId: string, ip: string, perIp: number): Promise<void> {
    const k = roomSalesKeys(roomId);
    await (this.redis as unknown as GuestViewerCommand).salesAddGuestViewer(k.viewers, k.guestIps, ip, perIp);
  }

  async figures(roomId: string): Promise<RoomSaleFigures> {
    const room = roomSalesKeys(roomId);
    const saleIds = await this.redis.zrange(room.all, 0, -1);
    const pipe = this.redis.pipeline().scard(room.viewers).scard(room.buyers)
      .hmget(roomVoucherKeys(roomId).vouchers, 't|claims', 't|redemptions', 't|discount');
    for (const id of saleIds) {
      const k = saleKeys(roomId, id);
      pipe.hmget(k.sale, 'orders', 'sold', 'gmv', 'buyers', 'waitlistOffers', 'waitlistConversions', 'waitlistLapsed');
      pipe.zcard(k.waitlist);
    }
    const [viewers, buyers, voucherTotals, ...replies] = values<unknown>(await pipe.exec());
    const [claims, redemptions, discount] = (voucherTotals as (string | null)[]).map((v) => Number(v ?? 0));
    const uniqueViewers = Number(viewers);
    const sales: SaleFigures[] = saleIds.flatMap((saleId, i) => {
      const row = replies[2 * i] as (string | null)[];
      if (row[0] === null) return []; // past its retention
      const saleBuyers = Number(row[3]);
      return [{
        saleId,
        orders: Number(row[0]),
        unitsSold: Number(row[1]),
        gmv: Number(row[2]),
        buyers: saleBuyers,
        conversion: conversionOf(saleBuyers, uniqueViewers),
        waitlist: { length: Number(replies[2 * i + 1]), offers: Number(row[4] ?? 0), conversions: Number(row[5] ?? 0), lapsed: Number(row[6] ?? 0) },
      }];
    });
    const sum = (f: (s: SaleFigures) => number) => sales.reduce((acc, s) => acc + f(s), 0);
    return {
      roomId,
      uniqueViewers,
      orders: sum((s) => s.orders),
      unitsSold: sum((s) => s.unitsSold),
      gmv: sum((s) => s.gmv),
      buyers: Number(buyers),
      conversion: conversionOf(Number(buyers), uniqueViewers),
      sales,
      vouchers: { claims: claims!, redemptions: redemptions!, discount: discount! },
    };
  }

  /** Counters and records read in one MULTI, so the recount sees a consistent moment. */
  async ledger(roomId: string, saleId: string): Promise<SaleLedger | null> {
    const k = saleKeys(roomId, saleId);
    const [sale, holds, quota, bought] = values<Record<string, string>>(
      await this.redis.multi().hgetall(k.sale).hgetall(k.holds).hgetall(k.quota).hgetall(k.bought).exec(),
    );
    if (!sale?.id) return null;
    return computeLedger(saleId, { sale, holds: holds ?? {}, quota: quota ?? {}, bought: bought ?? {} });
  }
}
