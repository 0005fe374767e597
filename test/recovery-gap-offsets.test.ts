/**
 * Stream offsets compared without allocating (src/core/recovery-gap.ts runs it for every message
 * the stream reader hands over): the same order as comparing both parts as numbers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareOffsets } from '../src/core/recovery-gap.js';

const byNumbers = (a: string, b: string): number => {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return Math.sign(am - bm || as - bs);
};
const offset = fc.oneof(
  fc.tuple(fc.nat(2 ** 44), fc.nat(1000)).map(([ms, seq]) => `${ms}-${seq}`),
  fc.tuple(fc.constantFrom(1796061407480, 999, 1000), fc.nat(12)).map(([ms, seq]) => `${ms}-${seq}`),
  fc.constantFrom('0-0', '0', '1796061407480'),
);

describe('compareOffsets', () => {
  it('orders stream ids as their numbers do (ms, then seq; a missing seq is 0)', () => {
    fc.assert(fc.property(offset, offset, (a, b) => Math.sign(compareOffsets(a, b)) === byNumbers(a, b)), { numRuns: 5000 });
    expect(compareOffsets('999-5', '1000-0')).toBeLessThan(0);
    expect(compareOffsets('1000-10', '1000-9')).toBeGreaterThan(0);
    expect(compareOffsets('1796061407480-0', '1796061407480-0')).toBe(0);
    expect(compareOffsets('5', '5-0')).toBe(0);
  });
});
