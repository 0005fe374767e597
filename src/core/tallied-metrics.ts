/**
 * Metrics for the hottest paths (every socket event, a flash-sale rush's thousands of taps a
 * second). prom-client's own inc and observe check and hash their labels and allocate on every
 * call; these keep plain tallies keyed by label value instead, and hand them to Prometheus when
 * scraped — the same series and values a prom-client Counter or Histogram would show.
 */
import { Counter, type Metric, type MetricValueWithName, type Registry } from 'prom-client';

/** A counter with labels: `add(...values)` counts one; the counts reach prom-client at scrape time. */
export class TalliedCounter<L extends string> {
  /** Label values joined by NUL (never part of a label value here: codes and event names). */
  private readonly pending = new Map<string, number>();

  constructor(registry: Registry, name: string, help: string, labelNames: readonly L[]) {
    const pending = this.pending;
    new Counter({
      name,
      help,
      labelNames: [...labelNames],
      registers: [registry],
      collect() {
        for (const [key, n] of pending) {
          const values = key.split('\0');
          this.inc(Object.fromEntries(labelNames.map((l, i) => [l, values[i]!])) as Record<L, string>, n);
        }
        pending.clear();
      },
    });
  }

  /** One more for these label values, in the order of labelNames. */
  add(...values: string[]): void {
    const key = values.length === 1 ? values[0]! : values.join('\0');
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
  }
}

interface Series {
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram with one label, registered as a prom-client metric: `observe` finds the bucket and
 * adds, nothing else; `get` gives prom-client's histogram values (cumulative `_bucket` series with
 * `le`, `_sum`, `_count`), so the exposition is the one a prom-client Histogram would give.
 */
export class OneLabelHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    private readonly label: L,
    private readonly buckets: readonly number[],
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  observe(labelValue: string, value: number): void {
    let s = this.series.get(labelValue);
    if (!s) {
      s = { counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(labelValue, s);
    }
    const b = this.buckets;
    let i = 0;
    while (i < b.length && value > b[i]!) i++; // `le`: a value equal to a bound is in its bucket
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** What prom-client's registry reads from a metric (a prom-client Histogram's get() shape). */
  async get() {
    const values: MetricValueWithName<string>[] = [];
    const bucket = `${this.name}_bucket`;
    for (const [labelValue, s] of this.series) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le, [this.label]: labelValue }, value: acc, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf', [this.label]: labelValue }, value: s.count, metricName: bucket });
      values.push({ labels: { [this.label]: labelValue }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.label]: labelValue }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.series.clear();
  }
}
