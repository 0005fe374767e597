/**
 * The ledger of one sale: its counters next to a recount from the individual hold and purchase
 * records, and the invariants checked on both: initial + added = available + held + offered + sold
 * (offered: units in waitlist offers, waitlist-lua.ts). Pure, so the same function serves the operators'
 * route and the tests.
 */
import type { SaleLedger } from '../../protocol/index.js';
import { parseHoldRecord } from './sale-model.js';

export interface LedgerRecords {
  sale: Record<string, string>;
  holds: Record<string, string>;
  quota: Record<string, string>;
  bought: Record<string, string>;
}

export function computeLedger(saleId: string, r: LedgerRecords): SaleLedger {
  const n = (v: string | undefined) => Number(v ?? 0);
  const initial = n(r.sale.initial);
  const added = n(r.sale.added);
  const available = n(r.sale.available);
  const held = n(r.sale.held);
  const offered = n(r.sale.offered);
  const sold = n(r.sale.sold);
  const perUserLimit = n(r.sale.limit);

  let heldRecount = 0;
  let offeredRecount = 0;
  let soldRecount = 0;
  let activeHolds = 0;
  let recordsParse = true;
  const heldByUser = new Map<string, number>();
  for (const raw of Object.values(r.holds)) {
    const h = parseHoldRecord(raw);
    if (!h) {
      recordsParse = false;
      continue;
    }
    if (h.state === 'held' || h.state === 'offered') {
      // A waitlist offer is a hold the server made: it counts in the user's quota like one.
      if (h.state === 'held') heldRecount += h.qty;
      else offeredRecount += h.qty;
      activeHolds += 1;
      heldByUser.set(h.userId, (heldByUser.get(h.userId) ?? 0) + h.qty);
    } else if (h.state === 'sold') {
      soldRecount += h.qty;
    }
  }
  const boughtRecount = Object.values(r.bought).reduce((sum, v) => sum + Number(v), 0);

  // Each user's quota must be exactly what they hold plus what they bought.
  const users = new Set([...Object.keys(r.quota), ...heldByUser.keys(), ...Object.keys(r.bought)]);
  let quotasMatch = true;
  let maxUnitsPerUser = 0;
  for (const u of users) {
    const quota = n(r.quota[u]);
    maxUnitsPerUser = Math.max(maxUnitsPerUser, quota);
    if (quota !== (heldByUser.get(u) ?? 0) + n(r.bought[u])) quotasMatch = false;
  }

  const checks = {
    balanced: initial + added === available + held + offered + sold,
    availableNonNegative: available >= 0 && held >= 0 && offered >= 0 && sold >= 0,
    countersMatchRecords:
      recordsParse && quotasMatch && heldRecount === held && offeredRecount === offered && soldRecount === sold && boughtRecount === sold,
    withinLimit: maxUnitsPerUser <= perUserLimit,
  };
  return {
    saleId,
    initial,
    added,
    available,
    held,
    offered,
    sold,
    perUserLimit,
    recount: { held: heldRecount, offered: offeredRecount, sold: soldRecount, bought: boughtRecount, activeHolds },
    maxUnitsPerUser,
    checks,
    ok: Object.values(checks).every(Boolean),
  };
}
