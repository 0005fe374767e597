/**
 * Auction rush: BIDDERS signed-in bidders (GENERATORS load-generator processes, bench/auction-
 * clients.ts) bid on one `extend` lot in its final FINAL_SECONDS seconds, each at BID_RATE bids a
 * second (the per-user limit, AUCTION_BID_RATE_PER_SEC, is the rule that bounds them) on a fixed
 * open-loop schedule, through NODES server processes on one redis-server. Every bid in the final
 * seconds extends the lot (extendSec = FINAL_SECONDS), so the lot closes FINAL_SECONDS after the
 * last accepted bid.
 *
 * Measured: answered, accepted and refused bids per second; ack latency p50/p99 from each bid's
 * scheduled time (and from its actual send); extensions; each generator's busy share. Checked
 * afterwards against the lot's history in Redis: every acked-accepted bid is its history entry
 * (same seq, bidder, amount, price) — lostBids counts those that are not; history entries whose
 * ack never came (timed out) are counted apart (acceptedUnacked: a retry with the same requestId
 * would get that acceptance), as are bids with no answer at all; the final price and leader are
 * auction-rules.ts applied to the history (priceCorrect); the lot closed once with one winner
 * whose hold was made once; a bid after the close is refused.
 *
 * Baseline, same run, same generators and schedule: the very same bid script driven straight at
 * the same Redis through AuctionStore.bid (the bids of one event-loop turn of a generator in one
 * EVALSHA, batched as the server batches them) — Redis and the script alone, without Socket.IO,
 * validation or the server's Node. Ours and baseline alternate over PAIRS pairs (order flipped
 * every pair). ratio = ours answered bids/s ÷ baseline answered bids/s per pair (1 = the server
 * keeps the offered rate as well as Redis alone does), reported as the median with min and max.
 *
 *   BIDDERS=2000 FINAL_SECONDS=3 npm run bench:auction
 */
import { fork, type ChildProcess } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TokenService } from '../src/auth/tokens.js';
import { startEmbeddedRedis } from '../src/core/embedded-redis.js';
import { createRedisClient } from '../src/core/redis-client.js';
import type { Ack, AuctionLot, AuctionState, Product } from '../src/protocol/index.js';
import { lotKeys } from '../src/commerce/auctions/auction-keys.js';
import { parseHistoryEntry } from '../src/commerce/auctions/auction-model.js';
import { DEFAULT_INCREMENTS } from '../src/protocol/index.js';
import { replayHistory, type LotRules } from '../src/commerce/auctions/auction-rules.js';
import { AuctionStore } from '../src/commerce/auctions/auction-store.js';
import { ONE_ADDRESS_CROWD } from '../test/helpers/lifted-limits.js';
import { spawnServerProcess, TEST_SECRET, type ServerProcess } from '../test/helpers/stack.js';
import { postJson, quantile } from './bench-kit.js';
import type { GeneratorConfig, GeneratorMessage, ParentToGenerator, RoundReport, RoundSpec } from './auction-clients.js';
import { connectSocketIo, joinRoom, type ViewerSocket } from './clients.js';
import { runMain } from './run-main.js';

const env = z
  .object({
    BIDDERS: z.coerce.number().int().min(2).max(50_000).default(2000),
    FINAL_SECONDS: z.coerce.number().int().min(1).max(60).default(3),
    /** Bids a second per bidder; the server allows AUCTION_BID_RATE_PER_SEC (5). */
    BID_RATE: z.coerce.number().min(0.1).max(100).default(5),
    GENERATORS: z.coerce.number().int().min(1).max(32).default(4),
    NODES: z.coerce.number().int().min(1).max(8).default(2),
    PAIRS: z.coerce.number().int().min(1).max(20).default(3),
    /** Pairs run first and left out of the figures (reported apart as `cold…`): the servers',
     * generators' and Redis's first rush runs code not yet optimised by the JIT, which a server
     * that has been up for a while does not. 0 counts every round. */
    WARMUP: z.coerce.number().int().min(0).max(5).default(1),
    CONNECT_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(50),
  })
  .parse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== '')));

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const START_PRICE = 1000;
const log = (line: string) => console.log(line);
const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');

interface Generator {
  child: ChildProcess;
  next(): Promise<GeneratorMessage>;
  send(m: ParentToGenerator): void;
}

function startGenerator(cfg: GeneratorConfig): Generator {
  const child = fork(resolve(ROOT, 'bench/auction-clients.ts'), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, AUCTION_GENERATOR: JSON.stringify(cfg) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const queue: GeneratorMessage[] = [];
  const waiting: { ok: (m: GeneratorMessage) => void; fail: (e: Error) => void }[] = [];
  child.on('message', (m: GeneratorMessage) => {
    if (m.type === 'error') for (const w of waiting.splice(0)) w.fail(new Error(`generator ${cfg.index}: ${m.message}`));
    else if (waiting.length) waiting.shift()!.ok(m);
    else queue.push(m);
  });
  child.once('exit', (code) => {
    if (code !== 0) for (const w of waiting.splice(0)) w.fail(new Error(`generator ${cfg.index} exited (${code})`));
  });
  return {
    child,
    next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((ok, fail) => waiting.push({ ok, fail }))),
    send: (m) => child.send(m),
  };
}

interface RoundResult {
  mode: 'ours' | 'baseline';
  bids: number;
  answeredPerSec: number;
  acceptedPerSec: number;
  refusedPerSec: number;
  p50: number;
  p99: number;
  p99FromSend: number;
  extensions: number;
  /** Acked-accepted bids missing from (or different in) the history. */
  lostBids: number;
  acceptedUnacked: number;
  priceCorrect: boolean;
  oneWinner: boolean;
  lateBidRefused: boolean;
  unanswered: number;
  generatorBusyMax: number;
  codes: Record<string, number>;
}

async function main(): Promise<void> {
  const redisServer = await startEmbeddedRedis({ persist: false });
  const redis = createRedisClient({ kind: 'single', url: redisServer.url }, { commandTimeoutMs: 0, name: 'bench' });
  const nodes: ServerProcess[] = [];
  const generators: Generator[] = [];
  const sockets: ViewerSocket[] = [];
  let baselineStore: AuctionStore | undefined;
  try {
    for (let i = 0; i < env.NODES; i++) {
      nodes.push(await spawnServerProcess(redisServer.url, { ...ONE_ADDRESS_CROWD, LOG_LEVEL: 'info', AUCTION_CLOSE_TICK_MS: '50' }));
    }
    const urls = nodes.map((n) => n.url);
    const tokens = new TokenService(TEST_SECRET, 'live-commerce');
    const host = { id: 'u_bench_host', name: 'Host' };
    const hostToken = await tokens.sign(host);
    const { room } = await postJson(urls[0]!, '/api/rooms', hostToken, { title: 'Auction bench', hostKind: 'buyer' });
    const { product } = (await postJson(urls[0]!, `/api/rooms/${room.id}/products`, hostToken, { title: 'Vintage watch', price: 25_000, currency: 'USD' })) as { product: Product };
    await postJson(urls[0]!, `/api/rooms/${room.id}/live`, hostToken);
    const hostSocket = await connectSocketIo(urls[0]!, hostToken);
    sockets.push(hostSocket);
    await joinRoom(hostSocket, room.id);
    const prober = await connectSocketIo(urls[urls.length - 1]!, await tokens.sign({ id: 'u_bench_late', name: 'Late' }));
    sockets.push(prober);
    await joinRoom(prober, room.id);

    const load = loadavg();
    log(
      `auction bench: ${env.BIDDERS} bidders × ${env.BID_RATE}/s for the final ${env.FINAL_SECONDS} s, ${env.GENERATORS} generators, ` +
        `${env.NODES} server processes, ${env.PAIRS} pairs; ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GB, load average ${load.map((l) => l.toFixed(2)).join(' ')}`,
    );
    const connectStart = Date.now();
    for (let index = 0; index < env.GENERATORS; index++) {
      generators.push(
        startGenerator({
          index, generators: env.GENERATORS, bidders: env.BIDDERS, urls, redisUrl: redisServer.url, roomId: room.id,
          jwtSecret: TEST_SECRET, connectConcurrency: env.CONNECT_CONCURRENCY, bidRate: env.BID_RATE, bidsPerSecondLimit: 5,
        }),
      );
    }
    await Promise.all(generators.map((g) => g.next()));
    log(`connected and joined ${env.BIDDERS} bidders in ${((Date.now() - connectStart) / 1000).toFixed(1)} s`);

    baselineStore = new AuctionStore(redis, { bidsPerSecond: 5, mutedMayBid: false, maxBidsPerLot: 10_000_000 });
    const windowMs = env.FINAL_SECONDS * 1000;
    const durationSec = Math.max(5, env.FINAL_SECONDS + 2);
    const input = { productId: product.id, startPrice: START_PRICE, durationSec, mode: 'extend' as const, extendSec: env.FINAL_SECONDS, holdSec: 600 };
    const rules: LotRules = { startPrice: START_PRICE, increments: DEFAULT_INCREMENTS, mode: 'extend', extendMs: windowMs };

    const runRound = async (mode: 'ours' | 'baseline', pair: number): Promise<RoundResult> => {
      let lot!: AuctionLot;
      let roomId = room.id as string;
      let closed: Promise<AuctionState> | null = null;
      if (mode === 'ours') {
        // A start that meets a server still working through the last round's backlog answers
        // UNAVAILABLE: retried with the same requestId, as a client should (it never makes two lots).
        const requestId = `bench-start-${pair}-${Date.now()}`;
        for (let attempt = 1; ; attempt++) {
          const res = await new Promise<Ack<AuctionLot>>((ok) => hostSocket.emit('auction:start', { ...input, requestId }, ok));
          if (res.ok) {
            lot = res.data;
            break;
          }
          if (res.error.code !== 'UNAVAILABLE' || attempt === 10) throw new Error(`auction:start: ${res.error.code} ${res.error.message}`);
          await new Promise((r) => setTimeout(r, 1000));
        }
        closed = new Promise((ok) => {
          const on = (s: AuctionState) => {
            if (s.lotId !== lot.lotId || s.status === 'open') return;
            hostSocket.off('auction:state', on);
            ok(s);
          };
          hostSocket.on('auction:state', on);
        });
      } else {
        roomId = `r_bench_baseline_${pair}`;
        lot = (await baselineStore!.start(roomId, product, { ...input }, host.id)).lot;
      }
      const spec: RoundSpec = { mode, roomId, lotId: lot.lotId, startPrice: START_PRICE, increments: lot.increments, windowStart: lot.endsAt - windowMs, windowMs };
      for (const g of generators) g.send({ type: 'round', spec });
      const reports: RoundReport[] = [];
      for (const g of generators) {
        const m = await g.next();
        if (m.type !== 'done') throw new Error(`unexpected ${m.type}`);
        reports.push(m.report);
      }

      // After the close (ours: the room's frame; baseline: the lot's time by Redis's clock).
      let oneWinner = true;
      let lateBidRefused = true;
      if (closed) {
        const frame = await closed;
        oneWinner = frame.status === 'awaiting-payment';
        // A bid after the close must be AUCTION_ENDED; an overloaded server may first answer
        // UNAVAILABLE (nothing done), so the same request is retried as a client would.
        let late: { ok: boolean; code?: string } = { ok: false, code: 'UNAVAILABLE' };
        for (let attempt = 0; attempt < 10 && !late.ok && late.code === 'UNAVAILABLE'; attempt++) {
          if (attempt > 0) await new Promise((r) => setTimeout(r, 1000));
          late = await new Promise((ok) =>
            prober.emit('auction:bid', { lotId: lot.lotId, amount: 1e9, requestId: `late-${lot.lotId}` }, (res) => ok(res.ok ? { ok: true } : { ok: false, code: res.error.code })),
          );
        }
        lateBidRefused = !late.ok && late.code === 'AUCTION_ENDED';
        if (!lateBidRefused) log(`late bid after the close answered ${late.ok ? 'ok' : late.code}`);
        // The winner's hold: made once, recorded on the lot (the closer awards right after the close).
        for (let i = 0; i < 200 && !(await redis.hget(lotKeys(roomId, lot.lotId).lot, 'holdId')); i++) await new Promise((r) => setTimeout(r, 25));
        const [holdId, leader, status] = await redis.hmget(lotKeys(roomId, lot.lotId).lot, 'holdId', 'leader', 'status');
        const awards = (await redis.zrange(`{room:${roomId}}:sales`, 0, -1)).length;
        oneWinner &&= Boolean(holdId) && Boolean(leader) && status === 'awaiting-payment' && awards === pair;
      }

      const history = (await redis.lrange(lotKeys(roomId, lot.lotId).bids, 0, -1)).map(parseHistoryEntry);
      const record = await redis.hgetall(lotKeys(roomId, lot.lotId).lot);
      const accepted = reports.flatMap((r) => r.accepted);
      const bySeq = new Map(history.map((h) => [h.seq, h]));
      let lostBids = 0;
      for (const a of accepted) {
        const h = bySeq.get(a.seq);
        if (!h || h.user !== a.user || h.amount !== a.amount || h.max !== a.max || h.price !== a.price) lostBids++;
      }
      // Accepted in Redis but never acked (the ack timed out): not lost — a retry with the same
      // requestId gets that stored acceptance — but counted and shown.
      const acceptedUnacked = Math.max(0, history.length - accepted.length);
      let priceCorrect = false;
      try {
        const replayed = replayHistory(rules, history, lot.endsAt);
        priceCorrect = replayed.price === Number(record.price) && replayed.leader === (record.leader || null) && replayed.endsAt === Number(record.endsAt);
      } catch {
        priceCorrect = false;
      }
      const fromSchedule = reports.flatMap((r) => r.fromSchedule).sort((a, b) => a - b);
      const fromSend = reports.flatMap((r) => r.fromSend).sort((a, b) => a - b);
      const codes: Record<string, number> = {};
      for (const r of reports) for (const [c, n] of Object.entries(r.codes)) codes[c] = (codes[c] ?? 0) + n;
      const bids = fromSchedule.length;
      const span = (Math.max(...reports.map((r) => r.lastAnswerAt)) - spec.windowStart) / 1000;
      const result: RoundResult = {
        mode,
        bids,
        answeredPerSec: bids / span,
        acceptedPerSec: (codes.ok ?? 0) / span,
        refusedPerSec: (bids - (codes.ok ?? 0)) / span,
        p50: quantile(fromSchedule, 0.5),
        p99: quantile(fromSchedule, 0.99),
        p99FromSend: quantile(fromSend, 0.99),
        extensions: accepted.filter((a) => a.extended).length,
        lostBids,
        acceptedUnacked,
        priceCorrect,
        oneWinner,
        lateBidRefused,
        unanswered: reports.reduce((n, r) => n + r.unanswered, 0),
        generatorBusyMax: Math.max(...reports.map((r) => r.eluPct)),
        codes,
      };
      log(
        `pair ${pair} ${mode.padEnd(8)} ${bids} bids: ${fmt(result.answeredPerSec, 0)}/s answered (${fmt(result.acceptedPerSec, 0)} accepted, ${fmt(result.refusedPerSec, 0)} refused), ` +
          `p50 ${fmt(result.p50)} ms, p99 ${fmt(result.p99)} ms from schedule (p99 ${fmt(result.p99FromSend)} ms from send), ${result.extensions} extensions; ` +
          `history ${history.length}, accepted acks ${accepted.length}, lost ${result.lostBids}, unanswered ${result.unanswered}, price ${result.priceCorrect ? 'correct' : 'WRONG'}` +
          (mode === 'ours' ? `, one winner ${result.oneWinner}, late bid refused ${result.lateBidRefused}` : '') +
          `; generators busy ${reports.map((r) => `${fmt(r.eluPct, 0)}%`).join(' ')} (CPU ${reports.map((r) => `${fmt(r.cpuBusyPct, 0)}%`).join(' ')}); ${JSON.stringify(codes)}`,
      );
      return result;
    };

    const pairs: { ours: RoundResult; baseline: RoundResult }[] = [];
    const warmup: { ours: RoundResult; baseline: RoundResult }[] = [];
    // (Pair numbers run on through the warm-up: the award count check counts every round of ours.)
    for (let p = 1; p <= env.WARMUP + env.PAIRS; p++) {
      if (p === env.WARMUP + 1 && env.WARMUP > 0) log(`(the ${env.WARMUP} warm-up pair${env.WARMUP > 1 ? 's' : ''} above left out of the figures)`);
      // Order flipped every pair, so drift on a shared machine hits both sides alike.
      const first = (p - env.WARMUP) % 2 === 1 ? 'ours' : 'baseline';
      const a = await runRound(first, p);
      const b = await runRound(first === 'ours' ? 'baseline' : 'ours', p);
      (p <= env.WARMUP ? warmup : pairs).push(first === 'ours' ? { ours: a, baseline: b } : { ours: b, baseline: a });
    }

    const ratios = pairs.map((p) => p.ours.answeredPerSec / p.baseline.answeredPerSec).sort((a, b) => a - b);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
    const ours = pairs.map((p) => p.ours);
    const result = {
      bidders: env.BIDDERS,
      finalSeconds: env.FINAL_SECONDS,
      bidRate: env.BID_RATE,
      nodes: env.NODES,
      generators: env.GENERATORS,
      bidsPerSec: Math.round(median(ours.map((r) => r.answeredPerSec))),
      acceptedPerSec: Math.round(median(ours.map((r) => r.acceptedPerSec))),
      refusedPerSec: Math.round(median(ours.map((r) => r.refusedPerSec))),
      p50Ms: Number(median(ours.map((r) => r.p50)).toFixed(1)),
      p99Ms: Number(median(ours.map((r) => r.p99)).toFixed(1)),
      p99FromScheduleMs: Number(median(ours.map((r) => r.p99)).toFixed(1)),
      p99FromSendMs: Number(median(ours.map((r) => r.p99FromSend)).toFixed(1)),
      baselineP99Ms: Number(median(pairs.map((p) => p.baseline.p99)).toFixed(1)),
      extensions: median(ours.map((r) => r.extensions)),
      // Integrity over every round, the warm-up's included.
      lostBids: [...warmup, ...pairs].reduce((n, p) => n + p.ours.lostBids + p.baseline.lostBids, 0),
      unanswered: [...warmup, ...pairs].reduce((n, p) => n + p.ours.unanswered, 0),
      acceptedUnacked: [...warmup, ...pairs].reduce((n, p) => n + p.ours.acceptedUnacked, 0),
      priceCorrect: [...warmup, ...pairs].every((p) => p.ours.priceCorrect && p.baseline.priceCorrect),
      oneWinner: [...warmup, ...pairs].every((p) => p.ours.oneWinner),
      lateBidRefused: [...warmup, ...pairs].every((p) => p.ours.lateBidRefused),
      ratio: Number(median(ratios).toFixed(3)),
      ratioMin: Number(ratios[0]!.toFixed(3)),
      ratioMax: Number(ratios[ratios.length - 1]!.toFixed(3)),
      generatorBusyMax: Number(Math.max(...pairs.flatMap((p) => [p.ours.generatorBusyMax, p.baseline.generatorBusyMax])).toFixed(1)),
      pairs: env.PAIRS,
      warmupPairs: env.WARMUP,
      // The first (cold) round of ours, for comparison; its integrity counts in the totals above.
      coldP50Ms: warmup[0] ? Number(warmup[0].ours.p50.toFixed(1)) : null,
      coldP99Ms: warmup[0] ? Number(warmup[0].ours.p99.toFixed(1)) : null,
      loadAvg: loadavg().map((l) => Number(l.toFixed(2))),
    };
    if (result.generatorBusyMax > 90) log(`note: a generator was ${fmt(result.generatorBusyMax, 0)} % busy: its latency includes queueing in the load generator`);
    console.log(`RESULT ${JSON.stringify(result)}`);
  } finally {
    for (const g of generators) g.send({ type: 'stop' });
    await Promise.all(generators.map((g) => new Promise((done) => (g.child.exitCode !== null ? done(null) : g.child.once('exit', done)))));
    for (const s of sockets) s.disconnect();
    await Promise.all(nodes.map((n) => n.stop()));
    baselineStore?.close();
    redis.disconnect();
    await redisServer.stop();
  }
}

runMain(main);
