/**
 * One load generator of bench/auction.ts, in its own process. It owns a share of the bidders: a
 * socket each (signed in, joined to the bench room) and, for the baseline, a Redis client of its
 * own. For each round it sends every bidder's bids on a fixed open-loop schedule (BID_RATE a second
 * per bidder, phases spread evenly) whatever the answers, either as `auction:bid` over the socket
 * (ours) or as the very same bid script straight at Redis through AuctionStore.bid (baseline: the
 * bids of one event-loop turn in one EVALSHA, batched exactly as the server batches them). The amount is the lowest
 * acceptable bid this generator knows of (from its acks and the room's auction:state frames) plus
 * 0–3 increments; a fifth of the bids are maximums up to 9 increments above. Latency is measured
 * from each bid's scheduled time (a late generator shows up as latency, not as a lower rate) and
 * from its actual send; the generator reports how busy it was so the bench can tell.
 */
import { performance } from 'node:perf_hooks';
import { TokenService } from '../src/auth/tokens.js';
import { createRedisClient } from '../src/core/redis-client.js';
import type { IncrementBand } from '../src/protocol/index.js';
import { AuctionStore } from '../src/commerce/auctions/auction-store.js';
import { incrementAt } from '../src/commerce/auctions/auction-rules.js';
import { connectSocketIo, inBatches, joinRoom, type ViewerSocket } from './clients.js';

export interface GeneratorConfig {
  index: number;
  generators: number;
  bidders: number;
  urls: string[];
  redisUrl: string;
  roomId: string;
  jwtSecret: string;
  connectConcurrency: number;
  bidRate: number;
  bidsPerSecondLimit: number;
}

export interface RoundSpec {
  mode: 'ours' | 'baseline';
  roomId: string;
  lotId: string;
  startPrice: number;
  increments: IncrementBand[];
  /** Epoch ms: the first bids are due then; the schedule runs windowMs. */
  windowStart: number;
  windowMs: number;
}

export interface AcceptedBid {
  seq: number;
  user: string;
  amount: number;
  max: boolean;
  price: number;
  leading: boolean;
  extended: boolean;
}

export interface RoundReport {
  sent: number;
  /** ms from each bid's scheduled time to its answer. */
  fromSchedule: number[];
  /** ms from each bid's actual send to its answer. */
  fromSend: number[];
  codes: Record<string, number>;
  accepted: AcceptedBid[];
  /** Bids with no answer within the timeout. */
  unanswered: number;
  firstSentAt: number;
  lastAnswerAt: number;
  cpuBusyPct: number;
  eluPct: number;
}

export type GeneratorMessage =
  | { type: 'connected'; count: number; ms: number }
  | { type: 'done'; report: RoundReport }
  | { type: 'error'; message: string };

export type ParentToGenerator = { type: 'round'; spec: RoundSpec } | { type: 'stop' };

const epochNow = () => performance.timeOrigin + performance.now();
const send = (m: GeneratorMessage) => process.send!(m);
const ACK_TIMEOUT_MS = 15_000;

interface Bidder {
  id: string;
  name: string;
  socket: ViewerSocket;
}

async function run(cfg: GeneratorConfig): Promise<void> {
  const tokens = new TokenService(cfg.jwtSecret, 'live-commerce');
  const mine: number[] = [];
  for (let g = cfg.index; g < cfg.bidders; g += cfg.generators) mine.push(g);
  const bidders: Bidder[] = new Array(mine.length);
  const started = performance.now();
  await inBatches(mine.length, cfg.connectConcurrency, async (k) => {
    const g = mine[k]!;
    const user = { id: `u_bid_${g}`, name: `Bidder ${g}` };
    const socket = await connectSocketIo(cfg.urls[Math.floor(g / cfg.generators) % cfg.urls.length]!, await tokens.sign(user));
    // A join that meets a stalled Redis (a busy machine) answers UNAVAILABLE: retried, as clients do.
    for (let attempt = 1; ; attempt++) {
      const joined = await joinRoom(socket, cfg.roomId);
      if (joined.ok) break;
      if (joined.error.code !== 'UNAVAILABLE' || attempt === 10) throw new Error(`join failed: ${joined.error.code}`);
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
    bidders[k] = { ...user, socket };
  });
  const redis = createRedisClient({ kind: 'single', url: cfg.redisUrl }, { commandTimeoutMs: ACK_TIMEOUT_MS, name: 'bench-baseline' });
  const store = new AuctionStore(redis, { bidsPerSecond: cfg.bidsPerSecondLimit, mutedMayBid: false, maxBidsPerLot: 10_000_000 });
  send({ type: 'connected', count: mine.length, ms: performance.now() - started });

  let known = 0;
  let lotId = '';
  for (const b of bidders) {
    b.socket.on('auction:state', (s) => {
      if (s.lotId === lotId) known = Math.max(known, s.nextMin);
    });
  }

  for (;;) {
    const msg = await new Promise<ParentToGenerator>((ok) => process.once('message', ok));
    if (msg.type === 'stop') break;
    const spec = msg.spec;
    lotId = spec.lotId;
    known = spec.startPrice;
    send({ type: 'done', report: await round(cfg, spec, bidders, store, mine, () => known, (v) => (known = Math.max(known, v))) });
  }
  for (const b of bidders) b.socket.disconnect();
  store.close();
  redis.disconnect();
}

async function round(
  cfg: GeneratorConfig,
  spec: RoundSpec,
  bidders: Bidder[],
  store: AuctionStore,
  mine: number[],
  known: () => number,
  heard: (nextMin: number) => void,
): Promise<RoundReport> {
  const periodMs = 1000 / cfg.bidRate;
  // Bid k of bidder g is due at windowStart + phase(g) + k·period; phases spread over one period.
  const schedule: { at: number; b: number }[] = [];
  mine.forEach((g, b) => {
    for (let at = spec.windowStart + (g / cfg.bidders) * periodMs; at < spec.windowStart + spec.windowMs; at += periodMs) schedule.push({ at, b });
  });
  schedule.sort((x, y) => x.at - y.at);
  const report: RoundReport = { sent: 0, fromSchedule: [], fromSend: [], codes: {}, accepted: [], unanswered: 0, firstSentAt: 0, lastAnswerAt: 0, cpuBusyPct: 0, eluPct: 0 };
  let answered = 0;
  let seq = 0;
  let cpu0: NodeJS.CpuUsage | null = null;
  let elu0: ReturnType<typeof performance.eventLoopUtilization> | null = null;
  let wall0 = 0;

  const answer = (scheduled: number, sentAt: number, code: string, bid: AcceptedBid | null) => {
    const at = epochNow();
    report.fromSchedule.push(at - scheduled);
    report.fromSend.push(at - sentAt);
    report.codes[code] = (report.codes[code] ?? 0) + 1;
    report.lastAnswerAt = Math.max(report.lastAnswerAt, at);
    if (bid) {
      report.accepted.push(bid);
      heard(bid.price + incrementAt(spec.increments, bid.price));
    }
  };

  const fire = (scheduled: number, bidder: Bidder): Promise<void> => {
    const base = known();
    const max = Math.random() < 0.2;
    const amount = base + incrementAt(spec.increments, base) * Math.floor(Math.random() * (max ? 10 : 4));
    const requestId = `bench-${process.pid}-${++seq}`;
    const sentAt = epochNow();
    report.sent++;
    if (spec.mode === 'baseline') {
      return store.bid(spec.roomId, spec.lotId, bidder, amount, max, requestId).then(
        ({ answer: a }) =>
          answer(scheduled, sentAt, a.ok ? 'ok' : a.code, a.ok ? { seq: a.seq, user: bidder.id, amount, max, price: a.price, leading: a.leading, extended: a.extended } : null),
        () => void report.unanswered++,
      );
    }
    return new Promise((done) => {
      bidder.socket.timeout(ACK_TIMEOUT_MS).emit('auction:bid', { lotId: spec.lotId, amount, max, requestId }, (err, res) => {
        if (err) report.unanswered++;
        else answer(scheduled, sentAt, res.ok ? 'ok' : res.error.code, res.ok ? { seq: res.data.seq, user: bidder.id, amount, max, price: res.data.price, leading: res.data.leading, extended: res.data.extended } : null);
        done();
      });
    });
  };

  await new Promise<void>((done) => {
    let k = 0;
    const finish = () => {
      if (++answered === schedule.length) done();
    };
    const tick = () => {
      const now = epochNow();
      if (cpu0 === null) {
        cpu0 = process.cpuUsage();
        elu0 = performance.eventLoopUtilization();
        wall0 = performance.now();
        report.firstSentAt = now;
      }
      // Everything due goes now: a late timer sends a burst rather than drifting the schedule.
      while (k < schedule.length && schedule[k]!.at <= now) {
        const { at, b } = schedule[k++]!;
        void fire(at, bidders[b]!).then(finish);
      }
      if (k < schedule.length) setTimeout(tick, Math.max(0, schedule[k]!.at - epochNow()));
    };
    if (schedule.length === 0) return done();
    setTimeout(tick, Math.max(0, spec.windowStart - epochNow()));
  });
  const cpu = process.cpuUsage(cpu0!);
  const wall = performance.now() - wall0;
  report.cpuBusyPct = ((cpu.user + cpu.system) / 1000 / wall) * 100;
  report.eluPct = performance.eventLoopUtilization(elu0!).utilization * 100;
  return report;
}

run(JSON.parse(process.env.AUCTION_GENERATOR!) as GeneratorConfig).then(
  () => process.exit(0),
  (err: unknown) => {
    send({ type: 'error', message: String(err instanceof Error ? err.stack : err) });
    process.exit(1);
  },
);
