/**
 * The rules of a lot, as written in docs/PROTOCOL.md, on the pure module (auction-rules.ts) that
 * the bid script mirrors: the default increment bands and their edges, the minimum bid, proxy
 * bidding with the price at the second-highest maximum + one increment capped at the top one,
 * ties to the earlier maximum, no outbidding oneself, extensions, and a history replay that
 * refuses a bid the rules would not have taken.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_INCREMENTS } from '../src/protocol/index.js';
import { decideBid, incrementAt, minNextBid, openingState, replayHistory, type HistoryEntry, type LotRules, type LotState } from '../src/commerce/auctions/auction-rules.js';

const rules: LotRules = { startPrice: 1000, increments: DEFAULT_INCREMENTS, mode: 'extend', extendMs: 10_000 };
const END = 100_000;

function bid(s: LotState, user: string, amount: number, max = false, now = 0) {
  const d = decideBid(rules, s, { user, amount, max }, now);
  if (!d.ok) throw new Error(`${user} ${amount}: ${d.code} (min ${d.min})`);
  return d;
}

describe('auction rules', () => {
  it('default increments: $1 below $20, $2 from $20 below $100, $5 from $100 (cents)', () => {
    expect([0, 1999, 2000, 9999, 10_000, 1e9].map((p) => incrementAt(DEFAULT_INCREMENTS, p))).toEqual([100, 100, 200, 200, 500, 500]);
  });

  it('the first bid is at least the start price; later ones at least price + increment', () => {
    let s = openingState(rules, END);
    expect(decideBid(rules, s, { user: 'a', amount: 999, max: false }, 0)).toEqual({ ok: false, code: 'BID_TOO_LOW', min: 1000 });
    s = bid(s, 'a', 1000).state;
    expect(minNextBid(rules, s)).toBe(1100);
    expect(decideBid(rules, s, { user: 'b', amount: 1099, max: false }, 0)).toMatchObject({ ok: false, code: 'BID_TOO_LOW', min: 1100 });
    expect(bid(s, 'b', 1100).state).toMatchObject({ price: 1100, leader: 'b' });
  });

  it('nobody outbids themself, but the leader may raise their maximum (nothing visible moves)', () => {
    let s = bid(openingState(rules, END), 'a', 1000).state;
    expect(decideBid(rules, s, { user: 'a', amount: 1500, max: false }, 0)).toMatchObject({ ok: false, code: 'ALREADY_LEADING' });
    s = bid(s, 'a', 5000, true).state;
    expect(s).toMatchObject({ price: 1000, leader: 'a', leaderMax: 5000, bidCount: 2 });
    expect(decideBid(rules, s, { user: 'a', amount: 5000, max: true }, 0)).toMatchObject({ ok: false, code: 'BID_TOO_LOW', min: 5001 });
  });

  it('maximums: the price is the second-highest maximum + one increment, capped at the top; ties go to the earlier', () => {
    let s = bid(openingState(rules, END), 'a', 3000, true).state; // alone: the start price
    expect(s).toMatchObject({ price: 1000, leader: 'a' });
    let d = bid(s, 'b', 2000); // answered by a's maximum: 2000 + $2
    expect(d).toMatchObject({ leading: false, state: { price: 2200, leader: 'a' } });
    d = bid(d.state, 'c', 3000, true); // tie: a was first
    expect(d).toMatchObject({ leading: false, state: { price: 3000, leader: 'a' } });
    d = bid(d.state, 'b', 5000, true); // beats 3000: 3000 + $2, not 5000
    expect(d).toMatchObject({ leading: true, previousLeader: 'a', state: { price: 3200, leader: 'b', leaderMax: 5000 } });
    d = bid(d.state, 'c', 5100, true); // capped at the top maximum
    expect(d.state).toMatchObject({ price: 5100, leader: 'c' });
    s = bid(d.state, 'a', 20_000).state; // a plain bid over every maximum is its own amount
    expect(s).toMatchObject({ price: 20_000, leader: 'a' });
  });

  it('extend: a bid with less than extendSec left sets the end to its time + extendSec; sudden death never moves it', () => {
    const s = openingState(rules, END);
    expect(bid(s, 'a', 1000, false, END - 10_001)).toMatchObject({ extended: false, state: { endsAt: END } });
    expect(bid(s, 'a', 1000, false, END - 2000)).toMatchObject({ extended: true, state: { endsAt: END + 8000 } });
    const sd = decideBid({ ...rules, mode: 'sudden-death' }, s, { user: 'a', amount: 1000, max: false }, END - 1);
    expect(sd).toMatchObject({ ok: true, extended: false, state: { endsAt: END } });
    expect(decideBid(rules, s, { user: 'a', amount: 1000, max: false }, END)).toMatchObject({ ok: false, code: 'AUCTION_ENDED' });
  });

  it('a replayed history gives the same lot, and one the rules would refuse is caught', () => {
    let s = openingState(rules, END);
    const entries: HistoryEntry[] = [];
    for (const [i, [user, amount, max]] of ([['a', 1000, false], ['b', 4000, true], ['c', 2500, false], ['a', 6000, false]] as const).entries()) {
      s = bid(s, user, amount, max, i * 10).state;
      entries.push({ seq: i + 1, user, amount, max, at: i * 10, price: s.price, leader: s.leader! });
    }
    expect(replayHistory(rules, entries, END)).toEqual(s);
    expect(() => replayHistory(rules, [...entries, { ...entries[0]!, seq: 5, amount: 6100, user: 'a', at: 50 }], END)).toThrow(/ALREADY_LEADING/);
  });
});
