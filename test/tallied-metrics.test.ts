/**
 * The hot-path metrics (src/core/tallied-metrics.ts) must expose exactly what prom-client's own
 * Counter and Histogram would for the same observations: dashboards and alerts read these series.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { OneLabelHistogram, TalliedCounter } from '../src/core/tallied-metrics.js';

describe('tallied metrics', () => {
  it('expose the same text as prom-client for the same observations, scrape after scrape', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const buckets = [0.001, 0.005, 0.01, 0.1, 1];
    const hist = new OneLabelHistogram(ours, 'x_duration_seconds', 'latency', 'event', buckets);
    const refHist = new Histogram({ name: 'x_duration_seconds', help: 'latency', labelNames: ['event'], buckets, registers: [theirs] });
    const count = new TalliedCounter(ours, 'x_errors_total', 'errors', ['event', 'code']);
    const refCount = new Counter({ name: 'x_errors_total', help: 'errors', labelNames: ['event', 'code'], registers: [theirs] });

    const events = ['sale:reserve', 'chat:send', 'unknown'];
    const codes = ['SOLD_OUT', 'RATE_LIMITED'];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 500; i++) {
        const event = events[i % 3]!;
        // Bucket edges exactly, and values between and beyond them.
        const value = i % 7 === 0 ? buckets[i % buckets.length]! : ((i * 7919) % 2000) / 1000;
        hist.observe(event, value);
        refHist.observe({ event }, value);
        if (i % 4 === 0) {
          count.add(event, codes[i % 2]!);
          refCount.inc({ event, code: codes[i % 2]! });
        }
      }
      expect(await ours.metrics()).toBe(await theirs.metrics());
    }
  });
});
