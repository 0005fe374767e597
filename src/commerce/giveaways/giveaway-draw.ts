/**
 * The verifiable draw, pure (no Redis, no clock), so the server, the tests and the verifier agree
 * on one definition. It is documented in docs/PROTOCOL.md ("giveaway-draw-v1") and reimplemented
 * independently in scripts/verify-giveaway.mjs: a change here is a protocol change.
 *
 * - commitment = hex sha256(seed bytes), published at the start, before anyone can enter;
 * - an entry is hex HMAC-SHA256(key = salt bytes, message = UTF-8 user id): the list can be
 *   published without naming anyone, and after the salt is revealed each user can find their own;
 * - the entries are sorted ascending (as ASCII strings);
 * - a stream of 32-bit big-endian numbers is read from HMAC-SHA256(key = seed bytes,
 *   message = 4-byte big-endian counter) for counter = 0, 1, 2, … (8 numbers per block);
 * - winners are drawn without replacement by a partial Fisher–Yates shuffle: for i = 0 … k-1, with
 *   m = n − i, numbers ≥ floor(2^32 / m)·m are skipped (rejection sampling, so no index is more
 *   likely than another), then j = i + r mod m, entries i and j are swapped, entry i wins.
 * Neither the server nor an entrant can steer the result once the commitment is out: the seed is
 * fixed before the entries exist, and the entries cannot be chosen knowing the seed.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';

export const DRAW_ALGORITHM = 'giveaway-draw-v1';

export const newSeed = (): string => randomBytes(32).toString('hex');
export const newSalt = (): string => randomBytes(16).toString('hex');

export const commitmentOf = (seedHex: string): string => createHash('sha256').update(Buffer.from(seedHex, 'hex')).digest('hex');

export const entryHash = (saltHex: string, userId: string): string =>
  createHmac('sha256', Buffer.from(saltHex, 'hex')).update(userId, 'utf8').digest('hex');

/** Ascending ASCII order, the order the draw indexes (not locale order). */
export const sortEntries = (entries: Iterable<string>): string[] => [...entries].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** The seed's number stream: 32-bit unsigned integers from HMAC-SHA256(seed, counter). */
function* seedStream(seedHex: string): Generator<number> {
  const key = Buffer.from(seedHex, 'hex');
  const counter = Buffer.alloc(4);
  for (let c = 0; c <= 0xffffffff; c++) {
    counter.writeUInt32BE(c);
    const block = createHmac('sha256', key).update(counter).digest();
    for (let off = 0; off < 32; off += 4) yield block.readUInt32BE(off);
  }
  throw new Error('seed stream exhausted');
}

/**
 * The winners among `sortedEntries` (already sorted with sortEntries), in draw order:
 * min(winners, entries) distinct entries.
 */
export function drawWinners(seedHex: string, sortedEntries: readonly string[], winners: number): string[] {
  const pool = [...sortedEntries];
  const n = pool.length;
  const k = Math.min(winners, n);
  const stream = seedStream(seedHex);
  const out: string[] = [];
  for (let i = 0; i < k; i++) {
    const m = n - i;
    const limit = Math.floor(2 ** 32 / m) * m;
    let r = stream.next().value as number;
    while (r >= limit) r = stream.next().value as number;
    const j = i + (r % m);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    out.push(pool[i]!);
  }
  return out;
}
