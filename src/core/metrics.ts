/**
 * Prometheus plumbing shared by every domain. Each server has its own registry (tests run several
 * servers in one process), holding prom-client's default process metrics (event-loop lag, heap,
 * GC, CPU), the process-wide Redis command metrics, and what each domain registers beside its code
 * (`<domain>-metrics.ts`).
 *
 * Labels stay bounded whatever clients send: event names come from the protocol's list, outcomes
 * from the error-code list, commands from the code's own calls. Room and user ids never become
 * labels; the per-room view is the admin route (metrics-endpoint.ts).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ErrorCode } from '../protocol/index.js';
import { toErrorBody } from './errors.js';
import { registerRedisMetrics } from './redis-metrics.js';
import { TalliedCounter } from './tallied-metrics.js';

/**
 * `redisCommands`: time every Redis command. It costs a few µs of CPU per command (ioredis builds
 * a trace context for each once anyone listens), so it is on only when metrics are served.
 */
export function createMetricsRegistry(opts: { redisCommands: boolean }): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  if (opts.redisCommands) registerRedisMetrics(registry);
  return registry;
}

/** What came of a request: 'ok', or the error code its client was answered with. */
export type Outcome = 'ok' | ErrorCode;

export const outcomeOf = (err: unknown): Outcome => toErrorBody(err).code;

export const counter = <L extends string = never>(registry: Registry, name: string, help: string, labelNames: L[] = []): Counter<L> =>
  new Counter({ name, help, labelNames, registers: [registry] });

export const histogram = <L extends string = never>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
  buckets: number[],
): Histogram<L> => new Histogram({ name, help, labelNames, buckets, registers: [registry] });

/** A gauge read when scraped, so nothing is sampled while nobody looks. */
export const sampledGauge = (registry: Registry, name: string, help: string, read: () => number | Promise<number>): Gauge =>
  new Gauge({
    name,
    help,
    registers: [registry],
    async collect() {
      this.set(await read());
    },
  });

/** Latency buckets (seconds) for answers that usually take a Redis round trip or a few. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A counter by outcome for paths taken thousands of times a second (see tallied-metrics.ts). */
export class OutcomeCounter extends TalliedCounter<'outcome'> {
  constructor(registry: Registry, name: string, help: string) {
    super(registry, name, help, ['outcome']);
  }
}

/**
 * Wraps a handler so each call counts once under its outcome. Refusals are thrown (AppError), so
 * counting at the handler's edge sees them without each handler catching its own errors. No
 * closure or async frame per call: one promise step on top of the handler's.
 */
export function countOutcomes<A extends unknown[], R>(
  outcomes: Counter<'outcome'> | OutcomeCounter,
  fn: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  const count = outcomes instanceof OutcomeCounter ? (o: Outcome) => outcomes.add(o) : (o: Outcome) => outcomes.inc({ outcome: o });
  const ok = (result: R): R => {
    count('ok');
    return result;
  };
  const fail = (err: unknown): never => {
    count(outcomeOf(err));
    throw err;
  };
  return (...args: A) => {
    let work: Promise<R>;
    try {
      work = fn(...args);
    } catch (err) {
      count(outcomeOf(err));
      return Promise.reject(err);
    }
    return work.then(ok, fail);
  };
}

/** A promise that rejects after `ms`: a scrape must never hang on a stalled Redis. */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_ok, fail) => {
    timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
