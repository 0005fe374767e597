/**
 * Flash-sale rush: BUYERS signed-in buyers, each on its own socket in one live room, tap "buy"
 * at the same moment on a sale of UNITS units (sale:reserve, limit 1 per person). Measures the
 * ack latency of every tap, reserves per second over the whole burst, and checks nothing was
 * oversold (acks and the sale's ledger). The server runs in a child process
 * (bench/flash-sale-server.ts) so the buyers don't share its event loop.
 *
 * Baseline, in the same run: redis-benchmark sending EVALSHA of the very same reserve script
 * (same keys, same arguments, one reservation per call, BUYERS calls on a fresh sale of UNITS
 * units) straight to an identical private redis-server — what Redis alone does, without
 * sockets, validation or Node. The server batches the taps of one event-loop turn into one
 * call of that script (sale-reserve-batcher.ts). Ratio = our reserves/s ÷ baseline EVALSHA/s.
 * Reference, same run: a bare Socket.IO server acking the same taps (BARE_REFERENCE).
 * Last line: `RESULT {json}`.
 *
 *   BUYERS=5000 UNITS=1000 npm run bench:flash-sale
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TokenService } from '../src/auth/tokens.js';
import { newId } from '../src/core/ids.js';
import type { ErrorCode, SaleLedger } from '../src/protocol/index.js';
import { runRedisBaseline, type BaselineResult } from './flash-sale-baseline.js';
import { quantile } from './bench-kit.js';
import { connect, inBatches, runBare, rush, type BareResult, type Buyer } from './flash-sale-clients.js';
import type { SaleChildMessage, SaleParentMessage, SaleServerUsage } from './flash-sale-server.js';
import { runMain } from './run-main.js';

const env = z
  .object({
    BUYERS: z.coerce.number().int().min(1).max(50_000).default(5000),
    UNITS: z.coerce.number().int().min(1).max(1_000_000).default(1000),
    CONNECT_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(100),
    /** Unmeasured rushes on their own sales first, so the measured one runs on warm code. */
    WARMUP_ROUNDS: z.coerce.number().int().min(0).max(10).default(1),
    /** Also measure a bare Socket.IO server acking the same taps (the per-event floor). */
    BARE_REFERENCE: z.enum(['0', '1']).default('1'),
    /** Taps sent per macrotask (see rush()). */
    EMIT_SLICE: z.coerce.number().int().min(1).max(50_000).default(100),
    /** redis-benchmark connections (-c) and repetitions (median taken). */
    BASELINE_CLIENTS: z.coerce.number().int().min(1).max(1000).default(50),
    BASELINE_RUNS: z.coerce.number().int().min(1).max(20).default(3),
    /** Extra node flags for the server process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
    BENCH_SERVER_NODE_ARGS: z.string().default(''),
  })
  .parse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== '')));

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const JWT_SECRET = randomBytes(24).toString('base64url');

interface Child {
  url: string;
  send(msg: SaleParentMessage): void;
  usage(): Promise<SaleServerUsage>;
  stop(): Promise<void>;
}

function startChild(): Promise<Child> {
  const child = fork(resolve(ROOT, 'bench/flash-sale-server.ts'), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx', ...env.BENCH_SERVER_NODE_ARGS.split(/\s+/).filter(Boolean)],
    env: { ...process.env, BENCH_JWT_SECRET: JWT_SECRET },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return new Promise((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`server process exited early (${code})`)));
    child.on('message', (msg: SaleChildMessage) => {
      if (msg.type === 'error') fail(new Error(`server process failed: ${msg.message}`));
      if (msg.type !== 'ready') return;
      ok({
        url: msg.url,
        send: (m) => child.send(m),
        usage: () =>
          new Promise((got) => {
            const onMsg = (m: SaleChildMessage) => {
              if (m.type !== 'usage') return;
              child.off('message', onMsg);
              got(m.usage);
            };
            child.on('message', onMsg);
            child.send({ type: 'usage-stop' } satisfies SaleParentMessage);
          }),
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.send({ type: 'stop' } satisfies SaleParentMessage);
          const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(killer);
        },
      });
    });
  });
}

async function api(url: string, method: string, path: string, token: string, body?: unknown): Promise<any> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

interface OursResult {
  reservesPerSec: number;
  burstMs: number;
  /** From the first tap sent to the last. */
  emitMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  heldUnits: number;
  refusals: Partial<Record<ErrorCode, number>>;
  ledger: SaleLedger;
  usage: SaleServerUsage;
  clientCores: number;
  serverCpuUsPerTap: number;
}

/** Starts a sale of UNITS units and waits until its announcement reached every buyer. */
async function startSale(host: Buyer, crowd: Buyer[], productId: string): Promise<string> {
  const announced = Promise.all(crowd.map((s) => new Promise<void>((ok) => s.once('sale:started', () => ok()))));
  const started = await host.emitWithAck('sale:start', { productId, price: 1999, quantity: env.UNITS, perUserLimit: 1, durationSec: 600 });
  if (!started.ok) throw new Error(`sale:start failed: ${started.error.message}`);
  await announced;
  return started.data.id;
}

async function runOurs(): Promise<OursResult> {
  const child = await startChild();
  const buyers: Buyer[] = [];
  try {
    const tokens = new TokenService(JWT_SECRET, 'live-commerce');
    const hostToken = await tokens.sign({ id: newId('u_'), name: 'Host' });
    const { room } = await api(child.url, 'POST', '/api/rooms', hostToken, { title: 'Flash-sale bench', hostKind: 'manager' });
    const { product } = await api(child.url, 'POST', `/api/rooms/${room.id}/products`, hostToken, { title: 'Scarf', price: 2999, currency: 'USD' });
    await api(child.url, 'POST', `/api/rooms/${room.id}/live`, hostToken);
    const host = await connect(child.url, hostToken);
    buyers.push(host);
    await host.emitWithAck('room:join', { roomId: room.id });

    const t0 = performance.now();
    await inBatches(env.BUYERS, env.CONNECT_CONCURRENCY, async (i) => {
      const socket = await connect(child.url, await tokens.sign({ id: `u_bench_${i}`, name: `Buyer ${i}` }));
      buyers.push(socket);
      const joined = await socket.emitWithAck('room:join', { roomId: room.id });
      if (!joined.ok) throw new Error(`join failed: ${joined.error.message}`);
    });
    const crowd = buyers.slice(1);
    log(`  ${env.BUYERS} buyers connected and joined in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // Warm-up rushes on sales of their own, so the measured one does not run on cold (unoptimised) code.
    for (let round = 0; round < env.WARMUP_ROUNDS; round++) {
      const warm = await startSale(host, crowd, product.id);
      await rush(crowd, warm, env.EMIT_SLICE);
      await host.emitWithAck('sale:stop', { saleId: warm });
    }
    if (env.WARMUP_ROUNDS > 0) log(`  ${env.WARMUP_ROUNDS} warm-up rush(es) done`);

    const saleId = await startSale(host, crowd, product.id);
    child.send({ type: 'usage-start' });
    const clientCpu = process.cpuUsage();
    const { latencies, heldUnits, refusals, first, lastAck, emitMs } = await rush(crowd, saleId, env.EMIT_SLICE);
    const burstMs = lastAck - first;
    const cpu = process.cpuUsage(clientCpu);
    const usage = await child.usage();
    const { ledger } = (await api(child.url, 'GET', `/api/rooms/${room.id}/sales/${saleId}/ledger`, hostToken)) as { ledger: SaleLedger };
    const sorted = latencies.sort((a, b) => a - b);
    return {
      reservesPerSec: crowd.length / (burstMs / 1000),
      burstMs,
      emitMs,
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      maxMs: sorted[sorted.length - 1] ?? Number.NaN,
      heldUnits,
      refusals,
      ledger,
      usage,
      clientCores: (cpu.user + cpu.system) / 1000 / burstMs,
      serverCpuUsPerTap: (usage.serverCpuMs * 1000) / crowd.length,
    };
  } finally {
    for (const s of buyers) s.disconnect();
    await child.stop();
  }
}

function log(line: string): void {
  console.log(line);
}

const r2 = (n: number) => Math.round(n * 100) / 100;
const fmt = (n: number | null, digits = 2) => (n !== null && Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const int = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const load = loadavg();
  const cpu = cpus();
  log(
    `flash-sale: ${int(env.BUYERS)} buyers tap at once on ${int(env.UNITS)} units; ${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, load average ${load.map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString()}`,
  );
  log('ours: src/server.ts in a child process on an embedded redis-server; buyers are socket.io-client sockets here');
  const ours = await runOurs();
  log(`baseline: redis-benchmark -c ${env.BASELINE_CLIENTS} EVALSHA <reserve script> on an identical redis-server, ${env.BASELINE_RUNS} runs`);
  const base: BaselineResult = await runRedisBaseline({ requests: env.BUYERS, units: env.UNITS, clients: env.BASELINE_CLIENTS, runs: env.BASELINE_RUNS });

  let bare: BareResult | null = null;
  if (env.BARE_REFERENCE === '1') {
    log('reference: a bare Socket.IO server acking the same taps at once (no Redis, no validation)');
    bare = await runBare({ root: ROOT, buyers: env.BUYERS, connectConcurrency: env.CONNECT_CONCURRENCY, warmupRounds: env.WARMUP_ROUNDS, emitSlice: env.EMIT_SLICE });
  }

  const l = ours.ledger;
  const oversold = Math.max(0, ours.heldUnits - env.UNITS, l.held + l.sold - (l.initial + l.added), -l.available);
  const ratio = ours.reservesPerSec / base.perSec;
  log(
    `ours     reserves/s ${int(ours.reservesPerSec)} (${int(env.BUYERS)} taps sent over ${fmt(ours.emitMs, 0)} ms, all answered in ${fmt(ours.burstMs, 0)} ms)  ` +
      `ack p50 ${fmt(ours.p50Ms)} ms  p99 ${fmt(ours.p99Ms)} ms  max ${fmt(ours.maxMs)} ms`,
  );
  log(
    `         held ${int(ours.heldUnits)} of ${int(env.UNITS)}, oversold ${oversold}, refused ${JSON.stringify(ours.refusals)}, ledger ${l.ok ? 'balanced' : 'BROKEN'} ` +
      `(available ${l.available}, held ${l.held}, sold ${l.sold})`,
  );
  log(
    `         server ${fmt(ours.usage.serverCores)} cores (event loop ${fmt(ours.usage.serverElu * 100, 0)} % busy), ` +
      `redis ${fmt(ours.usage.redisCores)} cores, buyers ${fmt(ours.clientCores)} cores during the burst`,
  );
  log(
    `baseline EVALSHA/s ${int(base.perSec)} (median of ${base.runs.map((r) => int(r)).join(', ')})  p50 ${fmt(base.p50Ms)} ms  p99 ${fmt(base.p99Ms)} ms; ` +
      `held ${int(base.heldUnits)} of ${int(env.UNITS)} per run`,
  );
  if (bare) {
    log(
      `bare     acks/s ${int(bare.acksPerSec)} (all answered in ${fmt(bare.burstMs, 0)} ms)  p50 ${fmt(bare.p50Ms)} ms  p99 ${fmt(bare.p99Ms)} ms; ` +
        `server CPU ${fmt(bare.serverCpuUsPerTap, 0)} µs per tap (ours ${fmt(ours.serverCpuUsPerTap, 0)} µs)`,
    );
  }
  log(`ratio ours/baseline: reserves/s ${fmt(ratio)}x${bare ? `; ours/bare Socket.IO: ${fmt(ours.reservesPerSec / bare.acksPerSec)}x` : ''}`);
  const meetsTarget = oversold === 0 && l.ok && ratio >= 0.35 && ours.p99Ms <= 250;
  log(`target (oversold 0, ratio >= 0.35, p99 <= 250 ms): ${meetsTarget ? 'met' : 'MISSED'}`);
  const result = {
    buyers: env.BUYERS,
    units: env.UNITS,
    oversold,
    sold: ours.heldUnits,
    ledgerOk: l.ok,
    reservesPerSec: r2(ours.reservesPerSec),
    burstMs: r2(ours.burstMs),
    emitMs: r2(ours.emitMs),
    p50Ms: r2(ours.p50Ms),
    p99Ms: r2(ours.p99Ms),
    maxMs: r2(ours.maxMs),
    refusals: ours.refusals,
    baselinePerSec: r2(base.perSec),
    baselineP50Ms: base.p50Ms,
    baselineP99Ms: base.p99Ms,
    baselineClients: env.BASELINE_CLIENTS,
    ratio: r2(ratio),
    bareSocketIoAcksPerSec: bare ? r2(bare.acksPerSec) : null,
    bareSocketIoP99Ms: bare ? r2(bare.p99Ms) : null,
    ratioToBareSocketIo: bare ? r2(ours.reservesPerSec / bare.acksPerSec) : null,
    serverCpuUsPerTap: r2(ours.serverCpuUsPerTap),
    bareServerCpuUsPerTap: bare ? r2(bare.serverCpuUsPerTap) : null,
    meetsTarget,
    serverCores: r2(ours.usage.serverCores),
    redisCores: ours.usage.redisCores === null ? null : r2(ours.usage.redisCores),
    clientCores: r2(ours.clientCores),
    cores: cpu.length,
    loadAvg1: r2(load[0] ?? 0),
  };
  log(`RESULT ${JSON.stringify(result)}`);
}

runMain(main);
