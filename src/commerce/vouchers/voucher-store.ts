/**
 * Vouchers in Redis: drop, stop, claim and apply go through the scripts in voucher-scripts.ts
 * (consuming and giving back happen inside the sale scripts, voucher-lua.ts); the reads build the
 * public views, a user's claims and the host's figures.
 */
import type { RedisClient } from '../../core/redis-client.js';
import type { ErrorCode, UserRef, Voucher, VoucherApplied, VoucherClaim, VoucherClaimState, VoucherFigures, VoucherKind, RoomVoucherTotals } from '../../protocol/index.js';
import { AppError, rateLimited } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { AUDIT_MAX, roomAuditKey, roomBansKey, roomFollowersKey } from '../../core/keys.js';
import { saleIdOfHold } from '../sales/sale-model.js';
import { saleKeys } from '../sales/sale-keys.js';
import { roomVoucherKeys, voucherRateKey } from './voucher-keys.js';
import { APPLY_SCRIPT, CLAIM_SCRIPT, DROP_SCRIPT, FRAME_SCRIPT, STOP_SCRIPT } from './voucher-scripts.js';

type Reply = (string | number)[];

/** A voucher's keys live this long after its last claim can expire (figures, claims for support). */
export const VOUCHER_KEEP_MS = 30 * 24 * 3600_000;
/** voucher:claim and voucher:apply count against one window of this length per user. */
const RATE_WINDOW_MS = 1000;

interface VoucherCommands {
  voucherDrop(...args: (string | number)[]): Promise<Reply>;
  voucherStop(...args: (string | number)[]): Promise<Reply>;
  voucherClaim(...args: (string | number)[]): Promise<Reply>;
  voucherApply(...args: (string | number)[]): Promise<Reply>;
  voucherFrame(...args: (string | number)[]): Promise<number | null>;
}

export interface VoucherLimits {
  /** Vouchers open for claiming at once in one room. */
  maxActive: number;
  /** Vouchers one room may drop over its life (bounds the room's keys and every list). */
  maxPerRoom: number;
  /** Most vouchers one drop may offer. */
  maxQuantity: number;
  /** Claims and applies per user per second. */
  actionsPerSecond: number;
}

export interface DropInput {
  kind: VoucherKind;
  value: number;
  minSpend: number;
  quantity: number;
  validSec: number;
  followersOnly: boolean;
  durationSec: number;
  requestId?: string;
}

/** The definition as stored (JSON in the room's vouchers hash). */
interface StoredVoucher {
  id: string;
  kind: VoucherKind;
  value: number;
  minSpend: number;
  quantity: number;
  validMs: number;
  followersOnly: boolean;
  startsAt: number;
  endsAt: number;
  status: 'open' | 'stopped';
  hostId: string;
}

export class VoucherStore {
  private readonly cmd: VoucherCommands;

  constructor(
    private readonly redis: RedisClient,
    private readonly limits: VoucherLimits,
    /** Virtual time for tests (the scripts' ARGV now); by default Redis TIME. */
    private readonly clock?: () => number,
  ) {
    redis.defineCommand('voucherDrop', { numberOfKeys: 3, lua: DROP_SCRIPT });
    redis.defineCommand('voucherStop', { numberOfKeys: 2, lua: STOP_SCRIPT });
    redis.defineCommand('voucherClaim', { numberOfKeys: 5, lua: CLAIM_SCRIPT });
    redis.defineCommand('voucherApply', { numberOfKeys: 7, lua: APPLY_SCRIPT });
    redis.defineCommand('voucherFrame', { numberOfKeys: 2, lua: FRAME_SCRIPT });
    this.cmd = redis as unknown as VoucherCommands;
  }

  now(): number {
    return this.clock?.() ?? Date.now();
  }

  private scriptNow(): string {
    return this.clock ? String(this.clock()) : '';
  }

  /** Drops a voucher, or — for a requestId this host already used in the room — finds the first one (`fresh: false`). */
  async drop(roomId: string, host: UserRef, input: DropInput): Promise<{ voucher: Voucher; fresh: boolean }> {
    if (input.quantity > this.limits.maxQuantity) {
      throw new AppError('LIMIT_EXCEEDED', `a voucher drop offers at most ${this.limits.maxQuantity} vouchers`);
    }
    const k = roomVoucherKeys(roomId);
    const id = newId('v_');
    const def = {
      id, kind: input.kind, value: input.value, minSpend: input.minSpend, quantity: input.quantity,
      validMs: input.validSec * 1000, followersOnly: input.followersOnly, hostId: host.id,
    };
    const keepMs = input.durationSec * 1000 + input.validSec * 1000 + VOUCHER_KEEP_MS;
    const reply = await this.cmd.voucherDrop(
      k.vouchers, k.list, roomAuditKey(roomId),
      id, JSON.stringify(def), this.scriptNow(), input.durationSec * 1000, this.limits.maxActive, this.limits.maxPerRoom,
      input.requestId ? `r|${host.id}|${input.requestId}` : '', host.id, host.name, AUDIT_MAX, keepMs,
    );
    if (reply[0] === 'ERR') {
      throw new AppError('LIMIT_EXCEEDED', reply[1] === 'ACTIVE_LIMIT'
        ? `at most ${this.limits.maxActive} vouchers may be open for claiming at once in a room`
        : `a room drops at most ${this.limits.maxPerRoom} vouchers`);
    }
    const voucher = await this.get(roomId, String(reply[1]));
    if (!voucher) throw voucherNotFound();
    return { voucher, fresh: reply[0] === 'OK' };
  }

  async stop(roomId: string, voucherId: string, by: UserRef): Promise<Voucher> {
    const reply = await this.cmd.voucherStop(roomVoucherKeys(roomId).vouchers, roomAuditKey(roomId), voucherId, this.scriptNow(), by.id, by.name, AUDIT_MAX);
    if (reply[0] === 'ERR') throw voucherError(String(reply[1]));
    return (await this.get(roomId, voucherId))!;
  }

  async claim(roomId: string, voucherId: string, userId: string, requestId: string): Promise<{ claim: VoucherClaim; remaining: number; fresh: boolean }> {
    const k = roomVoucherKeys(roomId);
    const reply = await this.cmd.voucherClaim(
      k.vouchers, k.claims, roomBansKey(roomId), roomFollowersKey(roomId), voucherRateKey(roomId, userId),
      voucherId, userId, requestId, this.scriptNow(), this.limits.actionsPerSecond, RATE_WINDOW_MS, VOUCHER_KEEP_MS,
    );
    if (reply[0] === 'ERR') throw voucherError(String(reply[1]));
    return { claim: claimView(voucherId, String(reply[1]), this.now()), remaining: Math.max(0, Number(reply[2])), fresh: reply[0] === 'NEW' };
  }

  async apply(roomId: string, voucherId: string, userId: string, holdId: string): Promise<VoucherApplied> {
    const k = roomVoucherKeys(roomId);
    const s = saleKeys(roomId, saleIdOfHold(holdId));
    const reply = await this.cmd.voucherApply(
      k.vouchers, k.claims, s.sale, s.holds, s.prices, roomBansKey(roomId), voucherRateKey(roomId, userId),
      voucherId, userId, holdId, this.scriptNow(), this.limits.actionsPerSecond, RATE_WINDOW_MS,
    );
    if (reply[0] === 'ERR') throw voucherError(String(reply[1]));
    const [, amount, discount, currency, holdExpiresAt] = reply;
    return {
      voucherId, holdId, amount: Number(amount), discount: Number(discount), paid: Number(amount) - Number(discount),
      currency: String(currency), holdExpiresAt: Number(holdExpiresAt),
    };
  }

  /** The remaining count to tell the room, or null when it would repeat the last frame (FRAME_SCRIPT). */
  async frame(roomId: string, voucherId: string, onlyIfClaimedOut = false): Promise<number | null> {
    const k = roomVoucherKeys(roomId);
    const r = await this.cmd.voucherFrame(k.vouchers, k.frame, voucherId, VOUCHER_KEEP_MS, onlyIfClaimedOut ? '1' : '0');
    return r === null ? null : Number(r);
  }

  async get(roomId: string, voucherId: string): Promise<Voucher | null> {
    const [raw, claimed] = await this.redis.hmget(roomVoucherKeys(roomId).vouchers, voucherId, `${voucherId}|claimed`);
    return raw ? voucherView(roomId, JSON.parse(raw) as StoredVoucher, Number(claimed ?? 0), this.now()) : null;
  }

  /** Every voucher of the room, newest first (at most maxPerRoom). */
  async list(roomId: string): Promise<Voucher[]> {
    const k = roomVoucherKeys(roomId);
    const ids = await this.redis.zrevrange(k.list, 0, -1);
    if (ids.length === 0) return [];
    const raws = await this.redis.hmget(k.vouchers, ...ids.flatMap((id) => [id, `${id}|claimed`]));
    const now = this.now();
    return ids.flatMap((id, i) => {
      const raw = raws[2 * i];
      return raw ? [voucherView(roomId, JSON.parse(raw) as StoredVoucher, Number(raws[2 * i + 1] ?? 0), now)] : [];
    });
  }

  /** The user's claims of the given vouchers, with each voucher. */
  async claimsOf(roomId: string, userId: string, vouchers: Voucher[]): Promise<(VoucherClaim & { voucher: Voucher })[]> {
    if (vouchers.length === 0) return [];
    const raws = await this.redis.hmget(roomVoucherKeys(roomId).claims, ...vouchers.map((v) => `${v.id}|${userId}`));
    const now = this.now();
    return vouchers.flatMap((voucher, i) => (raws[i] ? [{ ...claimView(voucher.id, raws[i]!, now), voucher }] : []));
  }

  async figures(roomId: string): Promise<{ totals: RoomVoucherTotals; vouchers: (Voucher & VoucherFigures)[] }> {
    const k = roomVoucherKeys(roomId);
    const vouchers = await this.list(roomId);
    const fields = ['t|claims', 't|redemptions', 't|discount', ...vouchers.flatMap((v) => [`${v.id}|redeemed`, `${v.id}|discount`])];
    const values = (await this.redis.hmget(k.vouchers, ...fields)).map((v) => Number(v ?? 0));
    return {
      totals: { claims: values[0]!, redemptions: values[1]!, discount: values[2]! },
      vouchers: vouchers.map((v, i) => ({ ...v, voucherId: v.id, claims: v.claimed, redemptions: values[3 + 2 * i]!, discount: values[4 + 2 * i]! })),
    };
  }
}

function voucherView(roomId: string, d: StoredVoucher, claimed: number, now: number): Voucher {
  return {
    id: d.id,
    roomId,
    kind: d.kind,
    value: d.value,
    minSpend: d.minSpend,
    quantity: d.quantity,
    claimed,
    remaining: Math.max(0, d.quantity - claimed),
    validSec: d.validMs / 1000,
    followersOnly: d.followersOnly,
    startsAt: d.startsAt,
    endsAt: d.endsAt,
    status: d.status === 'open' && now < d.endsAt ? 'open' : 'ended',
  };
}

/** A stored claim (voucher-lua.ts) as the client sees it; "expired" is read from the times here. */
export function claimView(voucherId: string, raw: string, now: number): VoucherClaim {
  const [stored, claimedAt, expiresAt, holdId, holdExp, orderId] = raw.split('|');
  let state = stored as VoucherClaimState;
  // Applied to a hold whose time is over: given back (the sweep may not have run yet).
  if (state === 'applied' && Number(holdExp) <= now) state = 'claimed';
  if (state === 'claimed' && Number(expiresAt) <= now) state = 'expired';
  return {
    voucherId,
    state,
    claimedAt: Number(claimedAt),
    expiresAt: Number(expiresAt),
    holdId: state === 'applied' || state === 'used' ? holdId || null : null,
    orderId: orderId || null,
  };
}

const voucherNotFound = () => new AppError('VOUCHER_NOT_FOUND', 'voucher not found');

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  VOUCHER_NOT_FOUND: 'voucher not found (claim it first)',
  VOUCHER_CLOSED: 'claiming this voucher has ended',
  VOUCHER_CLAIMED_OUT: 'every voucher of this drop has been claimed',
  ALREADY_CLAIMED: 'you already claimed this voucher (one per person)',
  NOT_ELIGIBLE: 'this voucher is for viewers who follow the host: follow first',
  VOUCHER_EXPIRED: 'this voucher has expired',
  VOUCHER_USED: 'this voucher was already used by an order',
  VOUCHER_IN_USE: 'this voucher is applied to another of your holds',
  VOUCHER_MIN_SPEND: 'this hold is below the voucher’s minimum spend',
  BANNED: 'you are banned from this room',
  RATE_LIMITED: 'too many voucher actions; slow down',
  NOT_FOUND: 'hold not found',
  CONFLICT: 'this hold was already checked out',
  HOLD_EXPIRED: 'the hold expired: reserve again',
};

function voucherError(code: string): AppError {
  const c = code as ErrorCode;
  if (c === 'RATE_LIMITED') return rateLimited(MESSAGES.RATE_LIMITED!, RATE_WINDOW_MS);
  return new AppError(c, MESSAGES[c] ?? c.toLowerCase().replace(/_/g, ' '));
}
