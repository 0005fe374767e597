/**
 * Flash-sale rush: BUYERS signed-in buyers, each on its own connection in one live room, tap
 * "buy" (`sale:reserve`, qty 1, limit 1 per person) at one scheduled instant on a sale of UNITS
 * units. Checks nothing is oversold (acks and the sale's ledger) and measures, per rush, the ack
 * latency of every tap from the burst's scheduled start, reserves/s (taps ÷ scheduled start → last
 * ack) and the server's CPU per tap.
 *
 * In the same run, interleaved per pair (ours, bare, Redis batched, Redis one-at-a-time):
 *   - bare: a bare Socket.IO server acking the same taps from the same buyers (the floor of one
 *     Node process per acked event): CPU per tap and p99 ratios;
 *   - Redis batched, the like-for-like baseline: the server's own reserve path below Socket.IO
 *     (SaleStore.reserve: same script, same batching and pipelining) driven from Node
 *     (flash-sale-redis.ts): ratio = our reserves/s ÷ its reserves/s;
 *   - Redis one call at a time: the old baseline's figure, as a second line.
 * Buyers live in GENERATORS processes (flash-sale-buyers.ts), apart from the servers and the
 * Redis driver; each reports how busy it was. Last line: `RESULT {json}`.
 *
 *   BUYERS=5000 UNITS=1000 npm run bench:flash-sale
 *   QUICK=1 npm run bench:flash-sale
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TokenService } from '../src/auth/tokens.js';
import { newId } from '../src/core/ids.js';
import type { SaleLedger } from '../src/protocol/index.js';
import {
  Histogram,
  api,
  benchEnv,
  checkBusy,
  epochNow,
  fmt,
  fmtRatio,
  forkTs,
  int,
  latenessOf,
  median,
  printResult,
  r2,
  ratioStats,
  type Busy,
  type Forked,
} from './bench-kit.js';
import { wireCall, wireViewer } from './clients.js';
import type { FromBuyers, FromRedisDriver, FromServer, RushReport, RushTarget, ToBuyers, ToRedisDriver, ToServer } from './flash-sale-protocol.js';
import { runMain } from './run-main.js';

const env = benchEnv(
  {
    BUYERS: z.coerce.number().int().min(1).max(50_000).default(5000),
    UNITS: z.coerce.number().int().min(1).max(1_000_000).default(1000),
    PAIRS: z.coerce.number().int().min(1).max(50).default(3),
    /** Buyers' load-generator processes. */
    GENERATORS: z.coerce.number().int().min(1).max(64).default(4),
    CONNECT_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(50),
    /** Unmeasured rushes of each kind first, so the measured ones run on warm code. */
    WARMUP_ROUNDS: z.coerce.number().int().min(0).max(10).default(1),
    /** Taps a generator sends per macrotask. */
    EMIT_SLICE: z.coerce.number().int().min(1).max(50_000).default(100),
    /** Extra node flags for our server's process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
    BENCH_SERVER_NODE_ARGS: z.string().default(''),
  },
  { BUYERS: '500', UNITS: '100', GENERATORS: '2' },
);

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const JWT_SECRET = randomBytes(24).toString('base64url');
const LEAD_MS = 300; // from scheduling a burst to its instant: every generator has the message
const log = (line: string) => console.log(line);

interface Rush {
  target: RushTarget;
  reservesPerSec: number;
  /** Scheduled start → last ack. */
  burstMs: number;
  serverCores: number;
  clientCores: number;
  latency: Histogram;
  lateness: Histogram;
  held: number;
  refusals: Record<string, number>;
  cpuUsPerTap: number;
  redisCores: number | null;
  busy: { name: string; busy: Busy }[];
  oversold: number;
  ledgerOk: boolean | null;
}

interface Rig {
  servers: Record<RushTarget, Forked<ToServer, FromServer>>;
  buyers: Forked<ToBuyers, FromBuyers>[];
  redis: Forked<ToRedisDriver, FromRedisDriver>;
  host: Awaited<ReturnType<typeof wireViewer>>;
  hostToken: string;
  oursUrl: string;
  roomId: string;
  productId: string;
}

async function cpuOf(server: Forked<ToServer, FromServer>) {
  server.send({ type: 'cpu' });
  return server.next('cpu');
}

async function rush(rig: Rig, target: RushTarget): Promise<Rush> {
  let saleId = 'bare';
  if (target === 'ours') {
    const started = await wireCall<{ id: string }>(rig.host, 'sale:start', { productId: rig.productId, price: 1999, quantity: env.UNITS, perUserLimit: 1, durationSec: 600 });
    if (!started.ok) throw new Error(`sale:start failed: ${started.error.code} ${started.error.message}`);
    saleId = started.data.id;
    for (const b of rig.buyers) b.send({ type: 'arm', saleId });
    await Promise.all(rig.buyers.map((b) => b.next('armed')));
  }
  const server = rig.servers[target];
  const before = await cpuOf(server);
  const at = epochNow() + LEAD_MS;
  for (const b of rig.buyers) b.send({ type: 'rush', target, saleId, at });
  const reports: RushReport[] = await Promise.all(rig.buyers.map((b) => b.next('rushed')));
  const after = await cpuOf(server);
  const lastAckAt = Math.max(...reports.map((r) => r.lastAckAt));
  const held = reports.reduce((s, r) => s + r.held, 0);
  const refusals: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.refusals)) refusals[k] = (refusals[k] ?? 0) + v;
  let oversold = 0;
  let ledgerOk: boolean | null = null;
  if (target === 'ours') {
    const { ledger } = (await api(rig.oursUrl, 'GET', `/api/rooms/${rig.roomId}/sales/${saleId}/ledger`, rig.hostToken)) as { ledger: SaleLedger };
    oversold = Math.max(0, held - env.UNITS, ledger.held + ledger.sold - (ledger.initial + ledger.added), -ledger.available);
    ledgerOk = ledger.ok;
    await wireCall(rig.host, 'sale:stop', { saleId }); // SALE_MAX_RUNNING_PER_ROOM
  }
  const wallS = (lastAckAt - at) / 1000;
  return {
    target,
    reservesPerSec: env.BUYERS / wallS,
    burstMs: wallS * 1000,
    serverCores: (after.nodeUs - before.nodeUs) / 1e6 / wallS,
    clientCores: reports.reduce((sum, r) => sum + r.busy.cpu, 0),
    latency: Histogram.of(...reports.map((r) => r.latency)),
    lateness: Histogram.of(...reports.map((r) => r.lateness)),
    held,
    refusals,
    cpuUsPerTap: (after.nodeUs - before.nodeUs) / env.BUYERS,
    redisCores: after.redisS === null || before.redisS === null ? null : (after.redisS - before.redisS) / wallS,
    busy: reports.map((r, i) => ({ name: `buyers ${i}`, busy: r.busy })),
    oversold,
    ledgerOk,
  };
}

async function redisRun(rig: Rig, mode: 'batched' | 'single') {
  rig.redis.send({ type: 'run', mode, requests: env.BUYERS, units: env.UNITS, at: epochNow() + LEAD_MS });
  const r = await rig.redis.next('ran');
  return { ...r, latency: Histogram.of(r.latency), lateness: Histogram.of(r.lateness) };
}

function describe(label: string, r: Rush): string {
  const lateness = latenessOf(r.lateness);
  return (
    `${label.padEnd(10)} ${int(r.reservesPerSec).padStart(7)} taps/s  p50 ${fmt(r.latency.quantile(0.5), 1)}  p99 ${fmt(r.latency.quantile(0.99), 1)}  max ${fmt(r.latency.max, 1)} ms from the scheduled start  ` +
    `server ${fmt(r.cpuUsPerTap, 1)} µs CPU/tap${r.redisCores === null ? '' : ` (redis ${fmt(r.redisCores)} cores)`}  held ${int(r.held)} ${JSON.stringify(r.refusals)}` +
    `${r.target === 'ours' ? ` oversold ${r.oversold} ledger ${r.ledgerOk ? 'ok' : 'BROKEN'}` : ''}  taps late p99 ${fmt(lateness.p99Ms, 1)} / max ${fmt(lateness.maxMs, 1)} ms  ` +
    `generators busy ≤ ${fmt(Math.max(...r.busy.map((g) => Math.max(g.busy.elu, g.busy.cpu))) * 100, 0)} %`
  );
}

async function main(): Promise<void> {
  const load = loadavg();
  const cpu = cpus();
  log(
    `flash-sale: ${int(env.BUYERS)} buyers tap at one scheduled instant on ${int(env.UNITS)} units, ${env.PAIRS} interleaved pairs, ${env.GENERATORS} buyer generators${env.QUICK ? ' [QUICK]' : ''}; ` +
      `${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, load ${load.map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString()}`,
  );
  const forked: { stop(): Promise<void> }[] = [];
  const fork = <I extends { type: string }, O extends { type: string }>(file: string, name: string, cfg: unknown, nodeArgs: string[] = []) => {
    const f = forkTs<I, O>(resolve(ROOT, 'bench', file), name, cfg, { cwd: ROOT, nodeArgs });
    forked.push(f);
    return f;
  };
  let host: Rig['host'] | null = null;
  try {
    const servers = {
      ours: fork<ToServer, FromServer>('flash-sale-server.ts', 'our server', { jwtSecret: JWT_SECRET }, env.BENCH_SERVER_NODE_ARGS.split(/\s+/).filter(Boolean)),
      bare: fork<ToServer, FromServer>('flash-sale-bare-server.ts', 'bare server', null),
    };
    const redis = fork<ToRedisDriver, FromRedisDriver>('flash-sale-redis.ts', 'redis driver', null);
    const [oursReady, bareReady] = await Promise.all([servers.ours.next('ready'), servers.bare.next('ready'), redis.next('ready')]);
    const oursUrl = oursReady.url;

    const tokens = new TokenService(JWT_SECRET, 'live-commerce');
    const hostToken = await tokens.sign({ id: newId('u_'), name: 'Host' });
    const { room } = await api(oursUrl, 'POST', '/api/rooms', hostToken, { title: 'Flash-sale bench', hostKind: 'manager' });
    const { product } = await api(oursUrl, 'POST', `/api/rooms/${room.id}/products`, hostToken, { title: 'Scarf', price: 2999, currency: 'USD' });
    await api(oursUrl, 'POST', `/api/rooms/${room.id}/live`, hostToken);
    host = await wireViewer(oursUrl, hostToken, room.id, () => {});

    const t0 = epochNow();
    const buyers = Array.from({ length: env.GENERATORS }, (_, index) =>
      fork<ToBuyers, FromBuyers>('flash-sale-buyers.ts', `buyers ${index}`, {
        index,
        generators: env.GENERATORS,
        buyers: env.BUYERS,
        urls: { ours: oursUrl, bare: bareReady.url },
        roomId: room.id,
        jwtSecret: JWT_SECRET,
        connectConcurrency: env.CONNECT_CONCURRENCY,
        emitSlice: env.EMIT_SLICE,
      }),
    );
    await Promise.all(buyers.map((b) => b.next('ready')));
    log(`  ${int(env.BUYERS)} buyers connected to both servers (joined on ours) in ${((epochNow() - t0) / 1000).toFixed(1)} s`);
    const rig: Rig = { servers, buyers, redis, host, hostToken, oursUrl, roomId: room.id, productId: product.id };

    for (let w = 0; w < env.WARMUP_ROUNDS; w++) {
      log(describe('warm-up A', await rush(rig, 'ours')));
      log(describe('warm-up B', await rush(rig, 'bare')));
      await redisRun(rig, 'batched');
    }
    const pairs: { ours: Rush; bare: Rush; batched: Awaited<ReturnType<typeof redisRun>>; single: Awaited<ReturnType<typeof redisRun>> }[] = [];
    for (let p = 0; p < env.PAIRS; p++) {
      const ours = await rush(rig, 'ours');
      log(describe(`A${p + 1} ours`, ours));
      const bare = await rush(rig, 'bare');
      log(describe(`B${p + 1} bare`, bare));
      const batched = await redisRun(rig, 'batched');
      const single = await redisRun(rig, 'single');
      log(
        `C${p + 1} redis    ${int(batched.reservesPerSec).padStart(7)} reserves/s batched (p99 ${fmt(batched.latency.quantile(0.99), 1)} ms from the scheduled start, held ${batched.held}, oversold ${batched.oversold}), ` +
          `${int(single.reservesPerSec)} one call at a time; driver busy ${fmt(Math.max(batched.busy.elu, batched.busy.cpu) * 100, 0)} %`,
      );
      pairs.push({ ours, bare, batched, single });
    }

    const ratio = ratioStats(pairs.map((p) => p.ours.reservesPerSec / p.batched.reservesPerSec));
    const ratioSingle = ratioStats(pairs.map((p) => p.ours.reservesPerSec / p.single.reservesPerSec));
    const cpuToBare = ratioStats(pairs.map((p) => p.ours.cpuUsPerTap / p.bare.cpuUsPerTap));
    const p99ToBare = ratioStats(pairs.map((p) => p.ours.latency.quantile(0.99) / p.bare.latency.quantile(0.99)));
    const oursLatency = Histogram.of(...pairs.map((p) => p.ours.latency));
    const bareLatency = Histogram.of(...pairs.map((p) => p.bare.latency));
    const lateness = Histogram.of(...pairs.flatMap((p) => [p.ours.lateness, p.bare.lateness]));
    // The Redis driver is not a load generator but the baseline itself (Node encoding the calls,
    // as the server does): its busy figure is printed per pair, not judged against the 70 %.
    const busyMax = checkBusy(pairs.flatMap((p) => [...p.ours.busy, ...p.bare.busy]));
    const oversold = Math.max(...pairs.map((p) => Math.max(p.ours.oversold, p.batched.oversold, p.single.oversold)));
    const ledgerOk = pairs.every((p) => p.ours.ledgerOk);
    const sold = median(pairs.map((p) => p.ours.held));
    const refusals = pairs[pairs.length - 1]!.ours.refusals;
    const med = (f: (p: (typeof pairs)[number]) => number) => median(pairs.map(f));

    log(
      `ours/baseline per pair, median (min–max): reserves/s vs Redis batched ${fmtRatio(ratio)}, vs Redis one call at a time ${fmtRatio(ratioSingle)}; ` +
        `vs bare Socket.IO: CPU per tap ${fmtRatio(cpuToBare)}, p99 ${fmtRatio(p99ToBare)}`,
    );
    log(`p99 from the scheduled start over all measured rushes: ours ${fmt(oursLatency.quantile(0.99), 1)} ms, bare ${fmt(bareLatency.quantile(0.99), 1)} ms; taps late p99 ${fmt(lateness.quantile(0.99), 1)} / max ${fmt(lateness.max, 1)} ms; oversold ${oversold}, ledger ${ledgerOk ? 'balanced' : 'BROKEN'}`);
    const meetsTarget = oversold === 0 && ledgerOk && cpuToBare.median <= 1.3 && p99ToBare.median <= 1.3 && ratio.median >= 0.5;
    log(`target (0 oversold, CPU per tap ≤ 1.3× bare, p99 ≤ 1.3× bare, ≥ 0.5× Redis batched): ${meetsTarget ? 'met' : 'MISSED'}`);
    printResult({
      bench: 'flash-sale',
      quick: env.QUICK,
      buyers: env.BUYERS,
      units: env.UNITS,
      generators: env.GENERATORS,
      oversold,
      sold,
      ledgerOk,
      reservesPerSec: r2(med((p) => p.ours.reservesPerSec)),
      burstMs: r2(med((p) => p.ours.burstMs)),
      // The time the generators took to send every tap (their largest lateness), per rush.
      emitMs: r2(med((p) => p.ours.lateness.max)),
      p50Ms: r2(oursLatency.quantile(0.5)),
      p99Ms: r2(oursLatency.quantile(0.99)),
      maxMs: r2(oursLatency.max),
      p99FromScheduleMs: r2(oursLatency.quantile(0.99)),
      refusals,
      baselinePerSec: r2(med((p) => p.batched.reservesPerSec)),
      baselineP50Ms: r2(Histogram.of(...pairs.map((p) => p.batched.latency)).quantile(0.5)),
      baselineP99Ms: r2(Histogram.of(...pairs.map((p) => p.batched.latency)).quantile(0.99)),
      baselineP99FromScheduleMs: r2(Histogram.of(...pairs.map((p) => p.batched.latency)).quantile(0.99)),
      // The batcher's one connection, as in the server (redis-benchmark used 50 before issue 10).
      baselineClients: 1,
      baselineOneAtATimePerSec: r2(med((p) => p.single.reservesPerSec)),
      pairs: env.PAIRS,
      ratio: r2(ratio.median),
      ratioMin: r2(ratio.min),
      ratioMax: r2(ratio.max),
      ratioToOneAtATime: r2(ratioSingle.median),
      bareSocketIoAcksPerSec: r2(med((p) => p.bare.reservesPerSec)),
      bareSocketIoP99Ms: r2(bareLatency.quantile(0.99)),
      bareP99FromScheduleMs: r2(bareLatency.quantile(0.99)),
      p99RatioToBare: r2(p99ToBare.median),
      p99RatioToBareMin: r2(p99ToBare.min),
      p99RatioToBareMax: r2(p99ToBare.max),
      ratioToBareSocketIo: r2(med((p) => p.ours.reservesPerSec / p.bare.reservesPerSec)),
      serverCpuUsPerTap: r2(med((p) => p.ours.cpuUsPerTap)),
      bareServerCpuUsPerTap: r2(med((p) => p.bare.cpuUsPerTap)),
      cpuPerTapRatioToBare: r2(cpuToBare.median),
      cpuPerTapRatioToBareMin: r2(cpuToBare.min),
      cpuPerTapRatioToBareMax: r2(cpuToBare.max),
      meetsTarget,
      serverCores: r2(med((p) => p.ours.serverCores)),
      redisCores: r2(med((p) => p.ours.redisCores ?? Number.NaN)),
      clientCores: r2(med((p) => p.ours.clientCores)),
      generatorBusyMax: r2(busyMax),
      tapLatenessP99Ms: r2(lateness.quantile(0.99)),
      tapLatenessMaxMs: r2(lateness.max),
      cores: cpu.length,
      loadAvg1: r2(load[0] ?? 0),
    });
  } finally {
    host?.close();
    await Promise.all(forked.map((f) => f.stop()));
  }
}

runMain(main);
