/** Pure rules of flash sales: shortened buyer names, hold ids, answers, and the ledger checks. */
import { describe, expect, it } from 'vitest';
import { computeLedger } from '../src/commerce/sales/sale-ledger.js';
import { conversionOf, holdIdFor, parseReserveAnswer, saleIdOfHold, saleStatus, shortenName } from '../src/commerce/sales/sale-model.js';

describe('sale model', () => {
  it('shortens buyer names to first and last character, by code point', () => {
    expect(shortenName('Alice')).toBe('A***e');
    expect(shortenName('  Bo ')).toBe('B***o');
    expect(shortenName('Z')).toBe('Z***');
    expect(shortenName('')).toBe('***');
    expect(shortenName('李小龍')).toBe('李***龍');
    expect(shortenName('😀abc😎')).toBe('😀***😎');
  });

  it('hold ids carry their sale', () => {
    const holdId = holdIdFor('s_abc-DEF_1', 'hXYZ1');
    expect(saleIdOfHold(holdId)).toBe('s_abc-DEF_1');
    for (const bad of ['nodot', '.h1', 's_1.']) expect(() => saleIdOfHold(bad)).toThrow('hold not found');
  });

  it('reads script answers and computes status and conversion', () => {
    expect(parseReserveAnswer('s1', 'OK|s1.h1|2|1700000000000|5')).toEqual({
      ok: true, holdId: 's1.h1', saleId: 's1', qty: 2, expiresAt: 1700000000000, remaining: 5,
    });
    expect(parseReserveAnswer('s1', 'ERR|SOLD_OUT|1')).toEqual({ ok: false, code: 'SOLD_OUT', available: 1 });
    expect([saleStatus(9, 10, 20), saleStatus(10, 10, 20), saleStatus(20, 10, 20)]).toEqual(['scheduled', 'live', 'ended']);
    expect(conversionOf(1, 3)).toBe(0.3333);
    expect(conversionOf(5, 0)).toBe(0);
  });

  it('the ledger catches every kind of imbalance', () => {
    const sale = { initial: '10', added: '2', available: '7', held: '3', sold: '2', limit: '3' };
    // hold records as the scripts write them: state|userId|qty|expiresAt|orderId|at
    const holds: Record<string, string> = {
      h1: 'held|u1|2|99||1',
      h2: 'held|u2|1|99||1',
      h3: 'sold|u1|1|99|o1|1',
      h4: 'sold|u3|1|99|o2|1',
      h5: 'expired|u2|4|50||1',
    };
    const good = { sale, holds, quota: { u1: '3', u2: '1', u3: '1' }, bought: { u1: '1', u3: '1' } };
    const ok = computeLedger('s1', good);
    expect(ok.checks).toEqual({ balanced: true, availableNonNegative: true, countersMatchRecords: true, withinLimit: true });
    expect(ok.recount).toEqual({ held: 3, offered: 0, sold: 2, bought: 2, activeHolds: 2 });
    expect(ok.ok).toBe(true);

    const broken = (patch: Partial<typeof good>) => computeLedger('s1', { ...good, ...patch }).checks;
    expect(broken({ sale: { ...sale, available: '8' } }).balanced).toBe(false);
    expect(broken({ sale: { ...sale, available: '-1', held: '11' } }).availableNonNegative).toBe(false);
    expect(broken({ quota: { u1: '2', u2: '1', u3: '1' } }).countersMatchRecords).toBe(false);
    expect(broken({ quota: { u1: '4', u2: '1', u3: '1' }, holds: { ...holds, h6: 'held|u1|1|99||1' }, sale: { ...sale, held: '4', available: '6' } }).withinLimit).toBe(false);

    // A waitlist offer is a one-unit hold of its own: counted in `offered` and the user's quota.
    const offeredSale = { ...sale, available: '6', offered: '1' };
    const withOffer = { ...good, sale: offeredSale, holds: { ...holds, h7: 'offered|u3|1|99||1' }, quota: { ...good.quota, u3: '2' } };
    const offered = computeLedger('s1', withOffer);
    expect(offered.ok).toBe(true);
    expect(offered.recount).toMatchObject({ held: 3, offered: 1, activeHolds: 3 });
    expect(computeLedger('s1', { ...withOffer, sale: { ...offeredSale, available: '7' } }).checks.balanced).toBe(false);
    expect(computeLedger('s1', { ...withOffer, sale: { ...offeredSale, offered: '0', available: '7' } }).checks.countersMatchRecords).toBe(false);
  });
});
