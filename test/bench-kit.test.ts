/**
 * The statistics every benchmark reports through bench/bench-kit.ts: a wrong quantile or ratio
 * would silently misstate every figure in docs/BENCHMARKS.md.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Histogram, benchEnv, epochNow, median, openLoop, quantile, ratioStats } from '../bench/bench-kit.js';

describe('Histogram', () => {
  it('gives quantiles within its 1 % bucket width, never above the largest sample', () => {
    const h = new Histogram();
    for (let ms = 1; ms <= 1000; ms++) h.record(ms);
    expect(h.count).toBe(1000);
    expect(h.quantile(0.5)).toBeGreaterThanOrEqual(500);
    expect(h.quantile(0.5)).toBeLessThanOrEqual(505);
    expect(h.quantile(0.99)).toBeGreaterThanOrEqual(990);
    expect(h.quantile(0.99)).toBeLessThanOrEqual(1000);
    expect(h.quantile(1)).toBe(1000);
    expect(h.max).toBe(1000);
  });

  it('counts zero and negative samples in its first bucket and is NaN when empty', () => {
    const h = new Histogram();
    expect(h.quantile(0.5)).toBeNaN();
    h.record(0);
    h.record(-3);
    expect(h.quantile(1)).toBeLessThanOrEqual(0.01);
  });

  it('merges histograms from several processes into the pooled distribution', () => {
    const a = new Histogram();
    const b = new Histogram();
    const pooled = new Histogram();
    for (let i = 0; i < 900; i++) {
      a.record(10);
      pooled.record(10);
    }
    for (let i = 0; i < 100; i++) {
      b.record(500);
      pooled.record(500);
    }
    // Sent over IPC as JSON, then merged.
    const merged = Histogram.of(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
    expect(merged.count).toBe(1000);
    expect(merged.quantile(0.5)).toBe(pooled.quantile(0.5));
    expect(merged.quantile(0.95)).toBe(pooled.quantile(0.95));
    expect(merged.quantile(0.95)).toBeGreaterThan(490);
    expect(merged.max).toBe(500);
  });
});

describe('ratio statistics', () => {
  it('takes the median of per-pair ratios with their range, ignoring non-finite ones', () => {
    expect(ratioStats([1.2, 0.8, 1.0])).toEqual({ median: 1.0, min: 0.8, max: 1.2 });
    expect(ratioStats([1, 2, 3, 10])).toEqual({ median: 2.5, min: 1, max: 10 });
    expect(ratioStats([2, Number.NaN, Infinity, 4])).toEqual({ median: 3, min: 2, max: 4 });
    expect(ratioStats([]).median).toBeNaN();
    expect(median([5, 1, 3])).toBe(3);
  });

  it('keeps the nearest-rank quantile of sorted samples', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(xs, 0.99)).toBe(99);
    expect(quantile(xs, 0.5)).toBe(50);
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe('benchEnv', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });
  const shape = { VIEWERS: z.coerce.number().default(2000), RATE: z.coerce.number().default(20) };

  it('uses the defaults, the QUICK preset with QUICK=1, and an explicit value over both', () => {
    delete process.env.QUICK;
    delete process.env.VIEWERS;
    delete process.env.RATE;
    expect(benchEnv(shape, { VIEWERS: '200' })).toMatchObject({ VIEWERS: 2000, RATE: 20, QUICK: false });
    process.env.QUICK = '1';
    expect(benchEnv(shape, { VIEWERS: '200' })).toMatchObject({ VIEWERS: 200, RATE: 20, QUICK: true });
    process.env.VIEWERS = '50';
    expect(benchEnv(shape, { VIEWERS: '200' })).toMatchObject({ VIEWERS: 50, QUICK: true });
  });
});

describe('openLoop', () => {
  it('sends on the fixed schedule in order, catching up at once when behind, and records the lateness', async () => {
    const start = epochNow() - 100; // the first five are already due: sent at once, late
    const sent: number[] = [];
    const lateness = await openLoop({ count: 8, at: (i) => start + i * 25, send: (i) => sent.push(i), slice: 3 });
    expect(sent).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(lateness.count).toBe(8);
    expect(lateness.max).toBeGreaterThanOrEqual(100);
  });
});
