/**
 * Redis command latency and errors, from ioredis's own tracing channel (`ioredis:command`, a
 * node:diagnostics_channel TracingChannel published around every command it writes): no wrapper
 * around the client, no patched methods, and every store, script and the adapter are covered.
 *
 * What is measured: from the moment ioredis writes the command until its reply settles, so it
 * includes queueing behind earlier commands on the same connection (auto-pipelining) — what a
 * handler actually waits for. Blocking reads (the Streams adapter's XREAD BLOCK) wait by design
 * and are left out of the latency.
 *
 * The channel is per process, not per client, so these metrics count every Redis command of the
 * process. In production a process is one server; tests that run several servers in one process
 * see their sum in each server's registry (the same metric objects are registered in each).
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { Counter, Histogram, type Registry } from 'prom-client';
import { isRedisUnavailable } from './errors.js';

interface CommandContext {
  command?: string;
  args?: string[];
  error?: unknown;
  [STARTED]?: number;
}
const STARTED = Symbol('started');

const BLOCKING = new Set(['blpop', 'brpop', 'blmove', 'bzpopmin', 'bzpopmax', 'blmpop', 'bzmpop', 'brpoplpush', 'wait']);

let metrics: { latency: Histogram<'command'>; errors: Counter<'command' | 'kind'> } | null = null;

function processMetrics() {
  if (metrics) return metrics;
  const latency = new Histogram({
    name: 'redis_command_duration_seconds',
    help: 'Redis commands of this process, from write to reply (blocking reads left out), by command',
    labelNames: ['command'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [],
  });
  const errors = new Counter({
    name: 'redis_command_errors_total',
    help: 'Redis commands of this process that failed, by command and kind (timeout, connection, reply)',
    labelNames: ['command', 'kind'],
    registers: [],
  });
  metrics = { latency, errors };
  tracingChannel<unknown, CommandContext>('ioredis:command').subscribe({
    start(ctx) {
      ctx[STARTED] = performance.now();
    },
    end() {},
    asyncStart() {},
    asyncEnd(ctx) {
      const command = (ctx.command ?? 'unknown').toLowerCase();
      if (ctx.error !== undefined) errors.inc({ command, kind: errorKind(ctx.error) });
      if (ctx[STARTED] === undefined || isBlocking(command, ctx.args)) return;
      latency.observe({ command }, (performance.now() - ctx[STARTED]) / 1000);
    },
    error() {},
  });
  return metrics;
}

function isBlocking(command: string, args: string[] | undefined): boolean {
  if (BLOCKING.has(command)) return true;
  return (command === 'xread' || command === 'xreadgroup') && (args ?? []).some((a) => a.toUpperCase() === 'BLOCK');
}

function errorKind(err: unknown): 'timeout' | 'connection' | 'reply' {
  const message = err instanceof Error ? err.message : String(err);
  if (/timed out/i.test(message)) return 'timeout';
  return isRedisUnavailable(err) ? 'connection' : 'reply';
}

/** Registers the process's Redis metrics in a server's registry (subscribing once per process). */
export function registerRedisMetrics(registry: Registry): void {
  const { latency, errors } = processMetrics();
  registry.registerMetric(latency);
  registry.registerMetric(errors);
}
