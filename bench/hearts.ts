/**
 * Hearts: TAPS_PER_SEC heart taps per second (default 10,000) into one live room of VIEWERS
 * viewers (default 2,000) spread over NODES server processes (default 2, src/main.ts) on one
 * private redis-server. Every tap is a `heart:tap` (count 1) from a viewer, scheduled open-loop:
 * tap k of the room at start + k / rate, sent by viewer k mod VIEWERS. Measures:
 *   - frames per viewer per second (every event frame a viewer gets, a `room:batch` frame counting
 *     once; target ≤ 4) and heart-total updates per viewer per second;
 *   - exactness: the room's heart total in Redis equals the taps sent, and every viewer's last
 *     seen total equals it (after the last tap, within SETTLE_SECONDS);
 *   - server CPU (both nodes, from /proc, from the first scheduled tap until every tap was
 *     answered) per tap, and tap ack latency from its scheduled time.
 * Reference, interleaved per pair: the same viewers tapping a bare Socket.IO server (one per node)
 * that only acks (bench/flash-sale-bare-server.ts): CPU per tap ratio. Viewers live in GENERATORS
 * processes (hearts-viewers.ts), each reporting how busy it was. Last line: `RESULT {json}`.
 *
 *   npm run bench:hearts                 # 10,000 taps/s, 2,000 viewers, 2 nodes
 *   QUICK=1 npm run bench:hearts         # a check that runs in under a minute
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TokenService } from '../src/auth/tokens.js';
import { startEmbeddedRedis } from '../src/core/embedded-redis.js';
import { roomStatsKey } from '../src/core/keys.js';
import { createRedisClient } from '../src/core/redis-client.js';
import { ONE_ADDRESS_CROWD } from '../test/helpers/lifted-limits.js';
import { TEST_SECRET, spawnServerProcess, type ServerProcess } from '../test/helpers/stack.js';
import {
  Histogram,
  benchEnv,
  checkBusy,
  epochNow,
  fmt,
  fmtRatio,
  forkTs,
  int,
  killOnExit,
  latenessOf,
  median,
  postJson,
  printResult,
  procCpuSeconds,
  r2,
  ratioStats,
  type Busy,
} from './bench-kit.js';
import type { FromServer, ToServer } from './flash-sale-protocol.js';
import type { FromHeartsViewers, HeartsTarget, ToHeartsViewers } from './hearts-viewers.js';
import { runMain } from './run-main.js';

const env = benchEnv(
  {
    VIEWERS: z.coerce.number().int().min(1).max(50_000).default(2000),
    TAPS_PER_SEC: z.coerce.number().min(1).max(200_000).default(10_000),
    NODES: z.coerce.number().int().min(1).max(16).default(2),
    GENERATORS: z.coerce.number().int().min(1).max(64).default(4),
    SECONDS: z.coerce.number().min(1).max(600).default(10),
    WARMUP: z.coerce.number().min(0).max(120).default(2),
    PAIRS: z.coerce.number().int().min(1).max(50).default(3),
    SETTLE_SECONDS: z.coerce.number().min(1).max(120).default(10),
    CONNECT_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(50),
  },
  { VIEWERS: '200', TAPS_PER_SEC: '1000', SECONDS: '3', WARMUP: '1', GENERATORS: '2' },
);

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FRAMES_TARGET = 4;
const log = (line: string) => console.log(line);

interface Run {
  target: HeartsTarget;
  sent: number;
  counted: number;
  refusals: Record<string, number>;
  latency: Histogram;
  lateness: Histogram;
  framesPerViewerPerSec: number;
  eventsPerViewerPerSec: number;
  heartUpdatesPerViewerPerSec: number;
  serverCores: number[];
  cpuUsPerTap: number;
  busy: { name: string; busy: Busy }[];
  /** Ours only: the room's total in Redis and what the viewers last saw. */
  exact: { redisTotal: number; expected: number; viewersExact: number; minSeen: number; maxSeen: number; settledMs: number } | null;
}

async function main(): Promise<void> {
  const load = loadavg();
  const cpu = cpus();
  log(
    `hearts: ${int(env.TAPS_PER_SEC)} taps/s into one room of ${int(env.VIEWERS)} viewers over ${env.NODES} nodes, ${env.PAIRS} interleaved pairs of ${env.SECONDS} s ` +
      `(+ ${env.WARMUP} s warm-up each), ${env.GENERATORS} viewer generators${env.QUICK ? ' [QUICK]' : ''}; ` +
      `${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, load ${load.map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString()}`,
  );
  const redisServer = await startEmbeddedRedis({ persist: false });
  const redis = createRedisClient({ kind: 'single', url: redisServer.url }, { commandTimeoutMs: 0 });
  await redis.connect();
  const nodes: ServerProcess[] = [];
  const forked: { stop(): Promise<void> }[] = [];
  try {
    nodes.push(...(await Promise.all(Array.from({ length: env.NODES }, () => spawnServerProcess(redisServer.url, { MEDIA_ENABLED: 'false', ...ONE_ADDRESS_CROWD })))));
    killOnExit(...nodes.map((n) => n.child));
    const bare = Array.from({ length: env.NODES }, (_, i) => forkTs<ToServer, FromServer>(resolve(ROOT, 'bench/flash-sale-bare-server.ts'), `bare ${i}`, null, { cwd: ROOT }));
    forked.push(...bare);
    const bareUrls = (await Promise.all(bare.map((b) => b.next('ready')))).map((m) => m.url);
    const pids: Record<HeartsTarget, number[]> = { ours: nodes.map((n) => n.child.pid!), bare: bare.map((b) => b.child.pid!) };

    const tokens = new TokenService(TEST_SECRET, 'live-commerce');
    const hostToken = await tokens.sign({ id: 'u_hearts_host', name: 'Host' });
    const { room } = await postJson(nodes[0]!.url, '/api/rooms', hostToken, { title: 'Hearts bench', hostKind: 'buyer' });
    await postJson(nodes[0]!.url, `/api/rooms/${room.id}/live`, hostToken);

    const t0 = epochNow();
    const gens = Array.from({ length: env.GENERATORS }, (_, index) =>
      forkTs<ToHeartsViewers, FromHeartsViewers>(resolve(ROOT, 'bench/hearts-viewers.ts'), `viewers ${index}`, {
        index,
        generators: env.GENERATORS,
        viewers: env.VIEWERS,
        urls: { ours: nodes.map((n) => n.url), bare: bareUrls },
        roomId: room.id,
        jwtSecret: TEST_SECRET,
        connectConcurrency: env.CONNECT_CONCURRENCY,
      }, { cwd: ROOT }),
    );
    forked.push(...gens);
    await Promise.all(gens.map((g) => g.next('ready')));
    log(`  ${int(env.VIEWERS)} viewers connected to both (joined on ours) in ${((epochNow() - t0) / 1000).toFixed(1)} s`);

    const heartsInRedis = async () => Number((await redis.hget(roomStatsKey(room.id), 'hearts')) ?? 0);

    const run = async (target: HeartsTarget, seconds: number): Promise<Run> => {
      const before = await heartsInRedis();
      const taps = Math.round(env.TAPS_PER_SEC * seconds);
      const startAt = epochNow() + 300;
      const end = startAt + (taps * 1000) / env.TAPS_PER_SEC;
      for (const g of gens) g.send({ type: 'run', target, startAt, taps, rate: env.TAPS_PER_SEC });
      // Server CPU from the first scheduled tap until the last tap was answered (not just the
      // send window: taps a late generator sends after it are work too).
      const cpuNow = () => pids[target].map((p) => procCpuSeconds(p) ?? Number.NaN);
      const c0 = await new Promise<number[]>((ok) => setTimeout(() => ok(cpuNow()), Math.max(0, startAt - epochNow())));
      const reports = await Promise.all(gens.map((g) => g.next('tapped')));
      const c1 = cpuNow();
      const cpuS = (epochNow() - startAt) / 1000;
      const counted = reports.reduce((s, r) => s + r.counted, 0);
      const refusals: Record<string, number> = {};
      for (const r of reports) for (const [k, v] of Object.entries(r.refusals)) refusals[k] = (refusals[k] ?? 0) + v;
      const windowS = (end - startAt) / 1000;
      const serverCores = c1.map((c, i) => (c - c0[i]!) / cpuS);
      let exact: Run['exact'] = null;
      if (target === 'ours') {
        const expected = before + counted;
        const lastTapAt = epochNow();
        for (const g of gens) g.send({ type: 'settle', expected, timeoutMs: env.SETTLE_SECONDS * 1000 });
        const settled = await Promise.all(gens.map((g) => g.next('settled')));
        exact = {
          redisTotal: (await heartsInRedis()) - before,
          expected: taps,
          viewersExact: settled.reduce((s, x) => s + x.exact, 0),
          minSeen: Math.min(...settled.map((s) => s.minSeen)) - before,
          maxSeen: Math.max(...settled.map((s) => s.maxSeen)) - before,
          settledMs: Math.max(...settled.map((s) => s.at)) - lastTapAt,
        };
      }
      const perViewerS = (n: number) => n / env.VIEWERS / windowS;
      return {
        target,
        sent: reports.reduce((s, r) => s + r.sent, 0),
        counted,
        refusals,
        latency: Histogram.of(...reports.map((r) => r.latency)),
        lateness: Histogram.of(...reports.map((r) => r.lateness)),
        framesPerViewerPerSec: perViewerS(reports.reduce((s, r) => s + r.framesInWindow, 0)),
        eventsPerViewerPerSec: perViewerS(reports.reduce((s, r) => s + r.eventsInWindow, 0)),
        heartUpdatesPerViewerPerSec: perViewerS(reports.reduce((s, r) => s + r.heartUpdatesInWindow, 0)),
        serverCores,
        cpuUsPerTap: (serverCores.reduce((a, b) => a + b, 0) * cpuS * 1e6) / taps,
        busy: reports.map((r, i) => ({ name: `viewers ${i}`, busy: r.busy })),
        exact,
      };
    };

    const describe = (label: string, r: Run) => {
      const late = latenessOf(r.lateness);
      const ex = r.exact;
      return (
        `${label.padEnd(10)} ${int(r.sent)} taps sent, ${int(r.counted)} counted ${JSON.stringify(r.refusals)}  ack p50 ${fmt(r.latency.quantile(0.5), 1)} p99 ${fmt(r.latency.quantile(0.99), 1)} ms from schedule  ` +
        `server ${r.serverCores.map((c) => fmt(c)).join(' + ')} cores = ${fmt(r.cpuUsPerTap, 1)} µs/tap` +
        (r.target === 'ours'
          ? `  ${fmt(r.framesPerViewerPerSec, 2)} frames/viewer/s (${fmt(r.heartUpdatesPerViewerPerSec, 2)} heart updates, ${fmt(r.eventsPerViewerPerSec, 2)} events)  ` +
            `total ${int(ex!.redisTotal)} in Redis, ${int(ex!.viewersExact)}/${int(env.VIEWERS)} viewers saw exactly it (${fmt(ex!.settledMs, 0)} ms after the last ack)`
          : '') +
        `  taps late p99 ${fmt(late.p99Ms, 1)} / max ${fmt(late.maxMs, 1)} ms  generators busy ≤ ${fmt(Math.max(...r.busy.map((g) => Math.max(g.busy.elu, g.busy.cpu))) * 100, 0)} %`
      );
    };

    if (env.WARMUP > 0) {
      log(describe('warm-up A', await run('ours', env.WARMUP)));
      log(describe('warm-up B', await run('bare', env.WARMUP)));
    }
    const pairs: { ours: Run; bare: Run }[] = [];
    for (let p = 0; p < env.PAIRS; p++) {
      const ours = await run('ours', env.SECONDS);
      log(describe(`A${p + 1} ours`, ours));
      const bareRun = await run('bare', env.SECONDS);
      log(describe(`B${p + 1} bare`, bareRun));
      pairs.push({ ours, bare: bareRun });
    }

    const cpuRatio = ratioStats(pairs.map((p) => p.ours.cpuUsPerTap / p.bare.cpuUsPerTap));
    const p99Ratio = ratioStats(pairs.map((p) => p.ours.latency.quantile(0.99) / p.bare.latency.quantile(0.99)));
    const oursLatency = Histogram.of(...pairs.map((p) => p.ours.latency));
    const lateness = Histogram.of(...pairs.flatMap((p) => [p.ours.lateness, p.bare.lateness]));
    const busyMax = checkBusy(pairs.flatMap((p) => [...p.ours.busy.map((g) => ({ ...g, name: `${g.name} (ours)` })), ...p.bare.busy.map((g) => ({ ...g, name: `${g.name} (bare)` }))]));
    const framesMax = Math.max(...pairs.map((p) => p.ours.framesPerViewerPerSec));
    const totalsExact = pairs.every((p) => p.ours.exact!.redisTotal === p.ours.sent && p.ours.counted === p.ours.sent && p.ours.exact!.viewersExact === env.VIEWERS);
    const med = (f: (p: (typeof pairs)[number]) => number) => median(pairs.map(f));
    log(`ours/bare per pair, median (min–max): server CPU per tap ${fmtRatio(cpuRatio)}, ack p99 ${fmtRatio(p99Ratio)}`);
    log(`frames per viewer per second ≤ ${fmt(framesMax, 2)} (target ≤ ${FRAMES_TARGET}); totals ${totalsExact ? 'exact in every pair' : 'NOT exact'}; taps late p99 ${fmt(lateness.quantile(0.99), 1)} / max ${fmt(lateness.max, 1)} ms`);
    const meetsTarget = framesMax <= FRAMES_TARGET && totalsExact;
    log(`target (≤ ${FRAMES_TARGET} frames per viewer per second, totals exact): ${meetsTarget ? 'met' : 'MISSED'}`);
    printResult({
      bench: 'hearts',
      quick: env.QUICK,
      viewers: env.VIEWERS,
      tapsPerSec: env.TAPS_PER_SEC,
      nodes: env.NODES,
      generators: env.GENERATORS,
      seconds: env.SECONDS,
      framesPerViewerPerSec: r2(med((p) => p.ours.framesPerViewerPerSec)),
      framesPerViewerPerSecMax: r2(framesMax),
      heartUpdatesPerViewerPerSec: r2(med((p) => p.ours.heartUpdatesPerViewerPerSec)),
      eventsPerViewerPerSec: r2(med((p) => p.ours.eventsPerViewerPerSec)),
      tapsSent: pairs.map((p) => p.ours.sent),
      tapsCounted: pairs.map((p) => p.ours.counted),
      redisTotals: pairs.map((p) => p.ours.exact!.redisTotal),
      viewersExact: pairs.map((p) => p.ours.exact!.viewersExact),
      settledMs: pairs.map((p) => r2(p.ours.exact!.settledMs)),
      totalsExact,
      refusals: pairs.map((p) => p.ours.refusals),
      p50Ms: r2(oursLatency.quantile(0.5)),
      p99Ms: r2(oursLatency.quantile(0.99)),
      p99FromScheduleMs: r2(oursLatency.quantile(0.99)),
      bareP99FromScheduleMs: r2(Histogram.of(...pairs.map((p) => p.bare.latency)).quantile(0.99)),
      serverCores: r2(med((p) => p.ours.serverCores.reduce((a, b) => a + b, 0))),
      serverCoresPerNode: pairs.map((p) => p.ours.serverCores.map(r2)),
      serverCpuUsPerTap: r2(med((p) => p.ours.cpuUsPerTap)),
      bareServerCpuUsPerTap: r2(med((p) => p.bare.cpuUsPerTap)),
      pairs: env.PAIRS,
      ratio: r2(cpuRatio.median),
      ratioMin: r2(cpuRatio.min),
      ratioMax: r2(cpuRatio.max),
      cpuPerTapRatioToBare: r2(cpuRatio.median),
      p99RatioToBare: r2(p99Ratio.median),
      meetsTarget,
      generatorBusyMax: r2(busyMax),
      tapLatenessP99Ms: r2(lateness.quantile(0.99)),
      tapLatenessMaxMs: r2(lateness.max),
      loadAvg1: r2(load[0] ?? 0),
    });
  } finally {
    await Promise.all(forked.map((f) => f.stop()));
    await Promise.all(nodes.map((n) => n.stop()));
    redis.disconnect();
    await redisServer.stop();
  }
}

runMain(main);
