/**
 * What every benchmark shares, so the rules a sceptic checks are written once (docs/BENCHMARKS.md,
 * "Method"):
 *   - an open-loop schedule: every event has a scheduled send time fixed before the run, latency
 *     is measured from it, and how late the generator was to that schedule is reported;
 *   - load generators forked as their own processes, each reporting how busy it was, with a flag
 *     when one was over BUSY_LIMIT (its latencies then include its own queueing);
 *   - ours and the baseline interleaved A B A B … and the median of the per-pair ratios with
 *     min–max, instead of per-column medians that mix runs;
 *   - sizes from env vars with a QUICK=1 preset, and a final `RESULT {json}` line.
 * Pure pieces (histogram, ratio statistics, env parsing) have a unit test: test/bench-kit.test.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';

/** Above this share a load generator's own queueing shows up in the latencies it measures. */
export const BUSY_LIMIT = 0.7;

/** Wall-clock milliseconds with sub-ms resolution, comparable across the bench's processes. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

/** The q-quantile (nearest rank) of ascending samples; NaN when there are none. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function median(xs: number[]): number {
  const finite = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

export interface RatioStats {
  median: number;
  min: number;
  max: number;
}

/** Median and range of per-pair ratios (each pair: ours and the baseline measured back to back). */
export function ratioStats(ratios: number[]): RatioStats {
  const finite = ratios.filter(Number.isFinite);
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite) };
}

const HIST_MIN_MS = 0.01;
const HIST_GROWTH = 1.01; // 1 % resolution
const HIST_BUCKETS = Math.ceil(Math.log(600_000 / HIST_MIN_MS) / Math.log(HIST_GROWTH)) + 2; // up to 10 min

/**
 * A latency histogram with 1 % wide log buckets from 0.01 ms to 10 min: O(1) to record, no
 * allocation per sample, small enough to send between processes, and histograms from several
 * generators merge exactly (quantiles of the merged counts, not medians of quantiles).
 */
export class Histogram {
  private readonly counts = new Float64Array(HIST_BUCKETS);
  count = 0;
  max = Number.NEGATIVE_INFINITY;

  record(ms: number): void {
    const i = ms <= HIST_MIN_MS ? 0 : Math.min(HIST_BUCKETS - 1, 1 + Math.floor(Math.log(ms / HIST_MIN_MS) / Math.log(HIST_GROWTH)));
    this.counts[i]!++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  merge(other: Histogram | HistogramJson): this {
    const o = other instanceof Histogram ? other.toJSON() : other;
    for (const [i, c] of o.buckets) this.counts[i]! += c;
    this.count += o.count;
    if (o.max > this.max) this.max = o.max;
    return this;
  }

  /** Upper edge of the bucket holding the q-quantile (never above the largest sample); NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < HIST_BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, i === 0 ? HIST_MIN_MS : HIST_MIN_MS * HIST_GROWTH ** i);
    }
    return this.max;
  }

  toJSON(): HistogramJson {
    const buckets: [number, number][] = [];
    for (let i = 0; i < HIST_BUCKETS; i++) if (this.counts[i]) buckets.push([i, this.counts[i]!]);
    return { buckets, count: this.count, max: this.count ? this.max : 0 };
  }

  static of(...parts: (Histogram | HistogramJson)[]): Histogram {
    const h = new Histogram();
    for (const p of parts) h.merge(p);
    return h;
  }
}

export interface HistogramJson {
  buckets: [number, number][];
  count: number;
  max: number;
}

export interface Busy {
  /** Event-loop utilisation over the window (1 = the loop never waited for I/O). */
  elu: number;
  /** CPU time (user + system) ÷ wall time: share of one core. */
  cpu: number;
}

/** Starts measuring how busy this process is; the returned function reads the window so far. */
export function busyMeter(): () => Busy {
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const cpu = process.cpuUsage(cpu0);
    const wallMs = Math.max(1e-3, performance.now() - t0);
    return { elu: performance.eventLoopUtilization(elu0).utilization, cpu: (cpu.user + cpu.system) / 1000 / wallMs };
  };
}

/** A generator's busy figure: the larger of its event-loop and CPU shares. */
export const busyOf = (b: Busy): number => Math.max(b.elu, b.cpu);

/**
 * Calls `send(i, scheduledAt)` for i in [0, count) at epoch times `at(i)` (ascending), fixed
 * before the run: a late timer sends everything due at once rather than shifting the schedule,
 * and how late each send was is recorded. At most `slice` sends per macrotask, so a burst does not
 * keep the process from reading answers until the whole burst has gone out.
 */
export function openLoop(opts: { count: number; at: (i: number) => number; send: (i: number, scheduledAt: number) => void; slice?: number }): Promise<Histogram> {
  const lateness = new Histogram();
  const slice = opts.slice ?? 500;
  let i = 0;
  return new Promise((done) => {
    const tick = () => {
      let sent = 0;
      for (let now = epochNow(); i < opts.count && opts.at(i) <= now && sent < slice; sent++, i++) {
        const scheduled = opts.at(i);
        lateness.record(now - scheduled);
        opts.send(i, scheduled);
        now = epochNow();
      }
      if (i >= opts.count) return done(lateness);
      if (sent >= slice) setImmediate(tick);
      else setTimeout(tick, Math.max(0, opts.at(i) - epochNow()));
    };
    if (opts.count === 0) return done(lateness);
    setTimeout(tick, Math.max(0, opts.at(0) - epochNow()));
  });
}

/** Lateness of a generator to its schedule, as reported. */
export function latenessOf(h: Histogram): { p99Ms: number; maxMs: number } {
  return { p99Ms: h.quantile(0.99), maxMs: h.count ? h.max : 0 };
}

/**
 * Parses the bench's env vars. With QUICK=1 the `quick` values replace the defaults (a run under a
 * minute, for checking the bench works); a variable set explicitly always wins.
 */
export function benchEnv<S extends z.ZodRawShape>(shape: S, quick: Partial<Record<keyof S, string>>): z.infer<z.ZodObject<S>> & { QUICK: boolean } {
  const given = Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined && v !== ''));
  const isQuick = given.QUICK === '1';
  const merged = isQuick ? { ...quick, ...given } : given;
  return { ...z.object(shape).parse(merged), QUICK: isQuick } as z.infer<z.ZodObject<S>> & { QUICK: boolean };
}

// ---- Processes ----

const CLOCK_TICKS_PER_SEC = 100; // Linux USER_HZ; /proc/<pid>/stat times are in these ticks

/** user+system CPU seconds of a process from /proc (read from outside: a saturated process
 * would answer a question late and over a skewed window), or null when unreadable. */
export function procCpuSeconds(pid: number | null | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC;
  } catch {
    return null;
  }
}

/** Pids of a process's direct children (for a server: its embedded redis-server). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

let exitHooked = false;

/**
 * Kills these processes when the bench exits, however it exits (an error, Ctrl-C, a timeout's
 * SIGTERM): server processes spawned without an IPC channel would otherwise outlive it, orphaned.
 */
export function killOnExit(...children: ChildProcess[]): void {
  process.once('exit', () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  if (exitHooked) return;
  exitHooked = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
}

type Typed = { type: string };

/** The parent's handle on a forked process speaking typed messages over IPC. */
export interface Forked<In extends Typed, Out extends Typed> {
  child: ChildProcess;
  name: string;
  send(m: In): void;
  /** The next message of this type (queued if it came already); rejects if the child reports an error or dies. */
  next<T extends Out['type']>(type: T): Promise<Extract<Out, { type: T }>>;
  stop(): Promise<void>;
}

const STOP_TIMEOUT_MS = 15_000;

/**
 * Forks `script` (TypeScript, through tsx) with `config` as JSON in BENCH_CONFIG. The child uses
 * `childSide()`. It exits when told `{ type: 'stop' }` or when this process goes away.
 */
export function forkTs<In extends Typed, Out extends Typed>(script: string, name: string, config: unknown, opts: { cwd: string; nodeArgs?: string[]; env?: Record<string, string> } ): Forked<In, Out> {
  const child = fork(script, [], {
    cwd: opts.cwd,
    execArgv: ['--import', 'tsx', ...(opts.nodeArgs ?? [])],
    env: { ...process.env, ...opts.env, BENCH_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: Out[] = [];
  const waiting: { type: string; ok: (m: Out) => void; fail: (e: Error) => void }[] = [];
  let dead: Error | null = null;
  const failAll = (e: Error) => {
    dead = e;
    for (const w of waiting.splice(0)) w.fail(e);
  };
  child.on('message', (m: Out | { type: 'error'; message: string }) => {
    if (m.type === 'error') return failAll(new Error(`${name}: ${(m as { message: string }).message}`));
    const i = waiting.findIndex((w) => w.type === m.type);
    if (i >= 0) waiting.splice(i, 1)[0]!.ok(m as Out);
    else inbox.push(m as Out);
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.once('exit', (code, signal) => failAll(new Error(`${name} exited (${code ?? signal})`)));
  return {
    child,
    name,
    send: (m) => {
      if (child.connected) child.send(m);
    },
    next: (type) =>
      new Promise((ok, fail) => {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return ok(inbox.splice(i, 1)[0] as never);
        if (dead) return fail(dead);
        waiting.push({ type, ok: ok as (m: Out) => void, fail });
      }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ type: 'stop' });
      const killer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** The forked side: its config, typed send, and a handler per message type. */
export function childSide<Cfg, In extends Typed, Out extends Typed>(): {
  cfg: Cfg;
  send(m: Out): void;
  on<T extends In['type']>(type: T, handler: (m: Extract<In, { type: T }>) => void | Promise<void>): void;
  fail(err: unknown): never;
} {
  const handlers = new Map<string, (m: In) => void | Promise<void>>();
  const fail = (err: unknown): never => {
    process.send?.({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  };
  process.on('message', (m: In) => {
    const h = handlers.get(m.type);
    if (h) Promise.resolve(h(m)).catch(fail);
  });
  process.on('disconnect', () => process.exit(0)); // the parent went away
  return {
    cfg: JSON.parse(process.env.BENCH_CONFIG ?? 'null') as Cfg,
    send: (m) => process.send?.(m),
    on: (type, handler) => void handlers.set(type, handler as (m: In) => void),
    fail,
  };
}

/** Logs a flag for every generator over BUSY_LIMIT and returns the largest busy figure. */
export function checkBusy(generators: { name: string; busy: Busy }[], log: (line: string) => void = console.log): number {
  let max = 0;
  for (const g of generators) {
    const b = busyOf(g.busy);
    max = Math.max(max, b);
    if (b > BUSY_LIMIT) {
      // A loop busy far beyond the CPU it got was waiting for a core: the machine, not its work.
      const starved = g.busy.cpu < g.busy.elu / 2 ? '; it got far less CPU than its loop was busy: the machine is overloaded' : '';
      log(`FLAG: load generator ${g.name} was ${pct(b)} busy (event loop ${pct(g.busy.elu)}, CPU ${pct(g.busy.cpu)} of a core), over ${pct(BUSY_LIMIT)}: its latencies include its own queueing${starved}`);
    }
  }
  return max;
}

// ---- Output ----

export const r2 = (n: number | null | undefined): number | null => (n === null || n === undefined || !Number.isFinite(n) ? null : Math.round(n * 100) / 100);
export const fmt = (n: number | null | undefined, digits = 2): string => (n !== null && n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
export const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
export const pct = (share: number): string => `${fmt(share * 100, 0)} %`;

/** "median (min–max)" of a ratio. */
export const fmtRatio = (s: RatioStats): string => `${fmt(s.median)}x (${fmt(s.min)}–${fmt(s.max)})`;

export function printResult(result: Record<string, unknown>): void {
  console.log(`RESULT ${JSON.stringify(result)}`);
}

// ---- HTTP ----

/** POST a JSON body with a bearer token (room creation, going live); throws on a non-2xx answer. */
export async function postJson(url: string, path: string, token: string, body?: unknown): Promise<any> {
  return api(url, 'POST', path, token, body);
}

export async function api(url: string, method: string, path: string, token: string, body?: unknown): Promise<any> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}
