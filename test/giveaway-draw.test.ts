/**
 * The draw function on its own, and the verifier script against it: the server's implementation
 * (src/commerce/giveaways/giveaway-draw.ts) and the independent one in scripts/verify-giveaway.mjs
 * must pick the same winners, and the verifier must say FAIL when anything published is altered.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { commitmentOf, drawWinners, entryHash, newSalt, newSeed, sortEntries } from '../src/commerce/giveaways/giveaway-draw.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'giveaway-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function published(n: number, wanted: number) {
  const seed = newSeed();
  const salt = newSalt();
  const entries = sortEntries(Array.from({ length: n }, (_, i) => entryHash(salt, `u_${i}`)));
  const winners = drawWinners(seed, entries, wanted).map((entry) => ({ userId: '?', name: '?', entry }));
  return {
    algorithm: 'giveaway-draw-v1',
    entries,
    giveaway: { id: 'g_test', status: 'drawn', seed, salt, commitment: commitmentOf(seed), entries: n, winnersWanted: wanted, winners, endsAt: 0 },
  };
}

async function verify(data: unknown, ...extra: string[]): Promise<{ code: number; out: string }> {
  const file = join(dir, `${Math.random()}.json`);
  writeFileSync(file, JSON.stringify(data));
  try {
    const { stdout } = await run(process.execPath, ['scripts/verify-giveaway.mjs', file, ...extra]);
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, out: e.stdout };
  }
}

describe('giveaway-draw-v1', () => {
  it('is deterministic, draws distinct entries, and at most as many as entered', () => {
    const seed = newSeed();
    const entries = sortEntries(Array.from({ length: 50 }, (_, i) => entryHash('00', String(i))));
    const a = drawWinners(seed, entries, 10);
    expect(drawWinners(seed, entries, 10)).toEqual(a);
    expect(new Set(a).size).toBe(10);
    for (const w of a) expect(entries).toContain(w);
    expect(drawWinners(seed, entries.slice(0, 3), 10)).toHaveLength(3);
    expect(drawWinners(seed, [], 5)).toEqual([]);
    // The first k winners of a larger draw are the winners of a smaller one (prefix property).
    expect(drawWinners(seed, entries, 4)).toEqual(a.slice(0, 4));
    expect(drawWinners(newSeed(), entries, 10)).not.toEqual(a);
  });

  it('gives every entry the same chance (χ² over 20,000 single-winner draws of 10 entries)', () => {
    const entries = sortEntries(Array.from({ length: 10 }, (_, i) => `e${i}`));
    const counts = new Map<string, number>();
    const draws = 20_000;
    for (let i = 0; i < draws; i++) {
      const [w] = drawWinners(newSeed(), entries, 1);
      counts.set(w!, (counts.get(w!) ?? 0) + 1);
    }
    const expected = draws / 10;
    const chi2 = entries.reduce((s, e) => s + ((counts.get(e) ?? 0) - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(27.9); // p = 0.001 at 9 degrees of freedom
  });

  it('the verifier script agrees with the server, and finds a user in the list', async () => {
    const data = published(1000, 7);
    const res = await verify(data, 'u_5');
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^PASS /m);
    expect(res.out).toMatch(/user u_5: entry [0-9a-f]{64} is in the list/);
  });

  it('the verifier says FAIL for a wrong seed, a swapped winner, a dropped entry or an unsorted list', async () => {
    const base = published(200, 3);
    const wrongSeed = structuredClone(base);
    wrongSeed.giveaway.seed = newSeed();
    const swapped = structuredClone(base);
    swapped.giveaway.winners[0]!.entry = base.entries.find((e) => !base.giveaway.winners.some((w) => w.entry === e))!;
    const dropped = structuredClone(base);
    dropped.entries.splice(dropped.entries.indexOf(base.giveaway.winners[0]!.entry), 1);
    const unsorted = structuredClone(base);
    unsorted.entries.reverse();
    for (const data of [wrongSeed, swapped, dropped, unsorted]) {
      const res = await verify(data);
      expect(res.code).toBe(1);
      expect(res.out).toMatch(/^FAIL /m);
    }
  });
});
