/**
 * An independent audit of one flash sale, straight from Redis: it names the keys and parses the
 * records itself and shares no code with the server's ledger (src/commerce/sales/sale-ledger.ts),
 * so a bug there cannot hide a bug in the scripts. Layout (docs/PROTOCOL.md and sale-scripts.ts):
 * - `{room:R}:sale:S` hash: initial, added, available, held, offered, sold, limit, …
 * - `{room:R}:sale:S:holds` hash holdId → `state|userId|qty|expiresAt|orderId|at`; state
 *   `offered` is a waitlist offer (a one-unit hold made for the waitlist's head)
 * - `{room:R}:sale:S:waitlist` sorted set userId → join sequence
 * - `{room:R}:sale:S:quota` hash userId → units held + bought
 * - `{room:R}:orders` stream, one entry per order (saleId, orderId, holdId, userId, qty, requestId)
 */
import type { RedisClient as Redis } from '../../src/core/redis-client.js';

export interface AuditedOrder {
  orderId: string;
  holdId: string;
  userId: string;
  requestId: string;
  qty: number;
}

export interface SaleAudit {
  saleId: string;
  initial: number;
  added: number;
  available: number;
  held: number;
  /** Units in waitlist offers. */
  offered: number;
  sold: number;
  limit: number;
  /** Counted from the hold records. */
  records: { held: number; offered: number; sold: number; expired: number; released: number; holds: number };
  /** Users on the waitlist now. */
  waitlist: string[];
  orders: AuditedOrder[];
  /** Holds still held more than `lateMs` after their expiresAt (Redis clock). */
  overdue: { holdId: string; expiresAt: number; lateBy: number }[];
  /** The latest expiresAt of the holds that expired, for "back on time" checks. */
  lastExpiry: number;
  /** Every broken rule, in words; empty when the sale is consistent. */
  problems: string[];
}

function fieldsOf(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

export async function redisNow(redis: Redis): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

export async function auditSale(redis: Redis, roomId: string, saleId: string, lateMs: number): Promise<SaleAudit> {
  const base = `{room:${roomId}}:sale:${saleId}`;
  // One MULTI: counters, records and the stream at the same instant.
  const replies = await redis
    .multi()
    .hgetall(base)
    .hgetall(`${base}:holds`)
    .hgetall(`${base}:quota`)
    .xrange(`{room:${roomId}}:orders`, '-', '+')
    .time()
    .zrange(`${base}:waitlist`, 0, -1)
    .exec();
  if (!replies) throw new Error('audit transaction aborted');
  for (const [err] of replies) if (err) throw err;
  const sale = replies[0]![1] as Record<string, string>;
  const holds = replies[1]![1] as Record<string, string>;
  const quota = replies[2]![1] as Record<string, string>;
  const stream = replies[3]![1] as [string, string[]][];
  const [sec, usec] = replies[4]![1] as [string, string];
  const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
  const waitlist = replies[5]![1] as string[];

  const n = (v: string | undefined) => Number(v ?? NaN);
  const a: SaleAudit = {
    saleId,
    initial: n(sale.initial),
    added: n(sale.added),
    available: n(sale.available),
    held: n(sale.held),
    // Sales that never had a waitlist offer have no `offered` field.
    offered: Number(sale.offered ?? 0),
    sold: n(sale.sold),
    limit: n(sale.limit),
    records: { held: 0, offered: 0, sold: 0, expired: 0, released: 0, holds: 0 },
    waitlist,
    orders: [],
    overdue: [],
    lastExpiry: 0,
    problems: [],
  };
  const problem = (p: string) => a.problems.push(p);
  if (!sale.id) problem('sale hash missing');

  const unitsByUser = new Map<string, number>();
  const soldHolds = new Map<string, { orderId: string; userId: string; qty: number }>();
  for (const [holdId, raw] of Object.entries(holds)) {
    const m = /^(held|offered|sold|released|expired)\|([^|]+)\|(\d+)\|(\d+)\|([^|]*)\|(\d*)$/.exec(raw);
    if (!m) {
      problem(`unreadable hold ${holdId}: ${raw}`);
      continue;
    }
    const [, state, userId, qtyText, expText, orderId] = m as unknown as [string, string, string, string, string, string];
    const qty = Number(qtyText);
    const expiresAt = Number(expText);
    a.records.holds += 1;
    if (!holdId.startsWith(`${saleId}.`)) problem(`hold ${holdId} does not name its sale`);
    if (state === 'held' || state === 'offered' || state === 'sold') unitsByUser.set(userId, (unitsByUser.get(userId) ?? 0) + qty);
    if (state === 'held' || state === 'offered') {
      if (state === 'held') a.records.held += qty;
      else {
        a.records.offered += qty;
        if (qty !== 1) problem(`offer ${holdId} of ${qty} units (a waitlist seat is for one)`);
      }
      if (now - expiresAt > lateMs) a.overdue.push({ holdId, expiresAt, lateBy: now - expiresAt });
    } else if (state === 'sold') {
      a.records.sold += qty;
      soldHolds.set(holdId, { orderId, userId, qty });
    } else if (state === 'expired') {
      a.records.expired += qty;
      a.lastExpiry = Math.max(a.lastExpiry, expiresAt);
    } else a.records.released += qty;
  }

  // Units: every unit is in exactly one place, counted two ways.
  if (a.initial + a.added !== a.available + a.held + a.offered + a.sold) {
    problem(`initial ${a.initial} + added ${a.added} != available ${a.available} + held ${a.held} + offered ${a.offered} + sold ${a.sold}`);
  }
  if (a.available < 0 || a.held < 0 || a.offered < 0 || a.sold < 0) problem('a negative counter');
  if (a.records.held !== a.held) problem(`held counter ${a.held} but hold records hold ${a.records.held}`);
  if (a.records.offered !== a.offered) problem(`offered counter ${a.offered} but offer records hold ${a.records.offered}`);
  // Nobody waits while units are on sale (they would have been offered to the waitlist's head).
  if (a.available > 0 && waitlist.length > 0) problem(`${a.available} units available while ${waitlist.length} wait`);
  if (a.records.sold !== a.sold) problem(`sold counter ${a.sold} but sold hold records ${a.records.sold}`);

  // The per-person limit, from the records, and the quota the scripts check against.
  for (const [userId, units] of unitsByUser) {
    if (units > a.limit) problem(`user ${userId} has ${units} units, over the limit ${a.limit}`);
    if (n(quota[userId] ?? '0') !== units) problem(`user ${userId}: quota ${quota[userId]} but records say ${units}`);
  }
  for (const [userId, q] of Object.entries(quota)) {
    if (!unitsByUser.has(userId) && Number(q) !== 0) problem(`user ${userId}: quota ${q} without holds`);
  }

  // Orders: the stream has exactly the sold holds, once each, and one order per requestId.
  const byRequest = new Set<string>();
  for (const [, flat] of stream) {
    const f = fieldsOf(flat);
    if (f.saleId !== saleId) continue;
    const order: AuditedOrder = { orderId: f.orderId ?? '', holdId: f.holdId ?? '', userId: f.userId ?? '', requestId: f.requestId ?? '', qty: Number(f.qty) };
    a.orders.push(order);
    const reqKey = `${order.userId}|${order.requestId}`;
    if (byRequest.has(reqKey)) problem(`two orders for request ${reqKey}`);
    byRequest.add(reqKey);
    const hold = soldHolds.get(order.holdId);
    if (!hold) problem(`order ${order.orderId} for hold ${order.holdId}, which is not sold`);
    else if (hold.orderId !== order.orderId || hold.userId !== order.userId || hold.qty !== order.qty) {
      problem(`order ${order.orderId} does not match its hold record`);
    }
  }
  if (new Set(a.orders.map((o) => o.orderId)).size !== a.orders.length) problem('duplicate orderId in the stream');
  if (new Set(a.orders.map((o) => o.holdId)).size !== a.orders.length) problem('two orders for one hold');
  if (a.orders.length !== soldHolds.size) problem(`${a.orders.length} orders in the stream but ${soldHolds.size} sold holds`);
  const unitsOrdered = a.orders.reduce((s, o) => s + o.qty, 0);
  if (unitsOrdered !== a.sold) problem(`${unitsOrdered} units in the stream but ${a.sold} sold`);
  if (a.overdue.length) problem(`${a.overdue.length} holds overdue (worst ${Math.max(...a.overdue.map((o) => o.lateBy))} ms)`);
  return a;
}
