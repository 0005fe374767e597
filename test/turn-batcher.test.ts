/**
 * core/turn-batcher.ts on its own (the Redis-backed batchers have their own tests: heart taps,
 * bids, reserves, giveaway entries): one call per key per turn in arrival order, at most
 * maxPerCall requests a call, each caller answered from its own slot, a Refusal rejecting only its
 * caller, a failed call rejecting only its own callers, and close().
 */
import { describe, expect, it } from 'vitest';
import { isRedisUnavailable } from '../src/core/errors.js';
import { Refusal, TurnBatcher, type TurnBatch } from '../src/core/turn-batcher.js';

/** A sender that records each call and answers `<key>:<item>`; items starting with '!' are refused. */
function recording() {
  const calls: { scope: string; id: string; items: string[] }[] = [];
  const refused = new Refusal(new Error('refused'));
  const send = async (b: TurnBatch<string, string>) => {
    calls.push({ scope: b.scope, id: b.id, items: [...b.items] });
    if (b.items.includes('fail')) throw new Error(`call for ${b.id} failed`);
    return b.items.map((it) => (it.startsWith('!') ? refused : `${b.scope}/${b.id}:${it}`));
  };
  return { calls, send };
}

const settle = async (ps: Promise<string>[]) =>
  (await Promise.allSettled(ps)).map((r) => (r.status === 'fulfilled' ? r.value : `rejected: ${(r.reason as Error).message}`));

describe('turn batcher', () => {
  it('makes one call per key per turn, at most maxPerCall requests each, in arrival order, each caller answered from its slot', async () => {
    const { calls, send } = recording();
    const batcher = new TurnBatcher(3, send);
    const keys: [string, string][] = [['r1', 'a'], ['r1', 'b'], ['r2', 'a'], ['r1', 'a']];
    const ps: Promise<string>[] = [];
    for (let i = 0; i < 12; i++) {
      const [scope, id] = keys[i % 4]!;
      ps.push(batcher.add(scope, id, `${i}`));
    }
    const answers = await settle(ps);
    expect(answers).toEqual(ps.map((_, i) => `${keys[i % 4]![0]}/${keys[i % 4]![1]}:${i}`));
    // r1/a got 6 (two full calls), r1/b and r2/a 3 each (full): full batches leave in the order they filled.
    expect(calls).toEqual([
      { scope: 'r1', id: 'a', items: ['0', '3', '4'] },
      { scope: 'r1', id: 'b', items: ['1', '5', '9'] },
      { scope: 'r2', id: 'a', items: ['2', '6', '10'] },
      { scope: 'r1', id: 'a', items: ['7', '8', '11'] },
    ]);
    // The next turn starts new batches.
    expect(await batcher.add('r1', 'a', 'next')).toBe('r1/a:next');
    expect(calls).toHaveLength(5);
  });

  it('rejects a refused request alone, and every caller of a failed call but no other', async () => {
    const { send } = recording();
    const batcher = new TurnBatcher(100, send);
    const answers = await settle([
      batcher.add('r', 'ok', 'x'), batcher.add('r', 'ok', '!no'), batcher.add('r', 'ok', 'y'),
      batcher.add('r', 'bad', 'x'), batcher.add('r', 'bad', 'fail'),
    ]);
    expect(answers).toEqual(['r/ok:x', 'rejected: refused', 'r/ok:y', 'rejected: call for bad failed', 'rejected: call for bad failed']);
  });

  it('close() refuses what has not been sent and everything after, as UNAVAILABLE; calls made still answer', async () => {
    const { calls, send } = recording();
    const batcher = new TurnBatcher(2, send);
    const sentBefore = batcher.add('r', 'a', '1');
    await new Promise((ok) => setImmediate(ok)); // that turn's batch has been sent
    const waiting = batcher.add('r', 'a', '2');
    batcher.close();
    const after = batcher.add('r', 'a', '3');
    const [s, w, a] = await Promise.allSettled([sentBefore, waiting, after]);
    expect(s).toEqual({ status: 'fulfilled', value: 'r/a:1' });
    for (const r of [w, a]) {
      expect(r!.status).toBe('rejected');
      expect(isRedisUnavailable((r as PromiseRejectedResult).reason)).toBe(true);
    }
    await new Promise((ok) => setImmediate(ok));
    expect(calls).toHaveLength(1);
  });
});
