/**
 * A viewers' load generator of bench/hearts.ts, in its own process: its share of VIEWERS, each
 * connected (wire client, signed in, joined) to one of our server nodes and to one bare Socket.IO
 * server. On `run` its viewers send their share of the room's taps (`heart:tap`, count 1) on an
 * open-loop schedule — tap k of the room at start + k / rate, by viewer k mod VIEWERS — and it
 * counts every event frame its viewers receive (a `room:batch` frame is one frame) and remembers
 * each viewer's last heart total seen, plain `hearts:update` or inside a batch.
 */
import { TokenService } from '../src/auth/tokens.js';
import { Histogram, busyMeter, childSide, epochNow, openLoop, type Busy, type HistogramJson } from './bench-kit.js';
import { decodeEvents, inBatches, wireConnect, wireViewer, type WireSocket } from './clients.js';

export type HeartsTarget = 'ours' | 'bare';

export interface HeartsViewersConfig {
  index: number;
  generators: number;
  viewers: number;
  urls: Record<HeartsTarget, string[]>;
  roomId: string;
  jwtSecret: string;
  connectConcurrency: number;
}

export type ToHeartsViewers =
  | { type: 'run'; target: HeartsTarget; startAt: number; taps: number; rate: number }
  /** Answer once every viewer's last seen total is `expected` (or after timeoutMs). */
  | { type: 'settle'; expected: number; timeoutMs: number }
  | { type: 'stop' };

export type FromHeartsViewers =
  | { type: 'ready' }
  | {
      type: 'tapped';
      latency: HistogramJson;
      lateness: HistogramJson;
      sent: number;
      counted: number;
      refusals: Record<string, number>;
      /** Event frames and events (hearts updates and anything else) received inside the send window. */
      framesInWindow: number;
      eventsInWindow: number;
      heartUpdatesInWindow: number;
      busy: Busy;
    }
  | { type: 'settled'; exact: number; viewers: number; minSeen: number; maxSeen: number; at: number };

const TAPS_TIMEOUT_MS = 60_000;
const side = childSide<HeartsViewersConfig, ToHeartsViewers, FromHeartsViewers>();
const { cfg } = side;

let window: { start: number; end: number } | null = null;
let frames = 0;
let events = 0;
let heartUpdates = 0;
let lastTotal = new Float64Array(0);
let settling: { expected: number; check: () => void } | null = null;

/** One handler per viewer (it records that viewer's last total); the counters are shared. */
const onOurFrame = (slot: number) => (frame: string) => {
  const now = epochNow();
  const inWindow = window !== null && now >= window.start && now <= window.end;
  if (inWindow) frames++;
  const n = decodeEvents(frame, (name, payload) => {
    if (name !== 'hearts:update') return;
    lastTotal[slot] = Number(payload?.total);
    if (inWindow) heartUpdates++;
    if (settling && lastTotal[slot] === settling.expected) settling.check();
  });
  if (inWindow) events += n;
};

async function main(): Promise<void> {
  const tokens = new TokenService(cfg.jwtSecret, 'live-commerce');
  const mine: number[] = [];
  for (let v = cfg.index; v < cfg.viewers; v += cfg.generators) mine.push(v);
  lastTotal = new Float64Array(mine.length).fill(Number.NaN);
  const sockets: Record<HeartsTarget, WireSocket[]> = { ours: new Array(mine.length), bare: new Array(mine.length) };
  await inBatches(mine.length, cfg.connectConcurrency, async (slot) => {
    const v = mine[slot]!;
    const token = await tokens.sign({ id: `u_hearts_${v}`, name: `Viewer ${v}` });
    // Spread each generator's viewers over every node.
    const node = Math.floor(v / cfg.generators);
    sockets.ours[slot] = await wireViewer(cfg.urls.ours[node % cfg.urls.ours.length]!, token, cfg.roomId, onOurFrame(slot));
    sockets.bare[slot] = await wireConnect(cfg.urls.bare[node % cfg.urls.bare.length]!, token, () => {});
  });

  side.on('run', async ({ target, startAt, taps, rate }) => {
    // This generator's taps: tap k is viewer (k mod VIEWERS)'s, and viewer v is here at slot floor(v / generators).
    const myTaps: number[] = [];
    for (let k = 0; k < taps; k++) if ((k % cfg.viewers) % cfg.generators === cfg.index) myTaps.push(k);
    const intervalMs = 1000 / rate;
    window = { start: startAt, end: startAt + taps * intervalMs };
    frames = events = heartUpdates = 0;
    const latency = new Histogram();
    const refusals: Record<string, number> = {};
    let counted = 0;
    let pending = myTaps.length;
    let allAcked = () => {};
    const acked = new Promise<void>((done) => (allAcked = done));
    if (pending === 0) allAcked();
    let read = busyMeter(); // restarted at the first tap
    const lateness = await openLoop({
      count: myTaps.length,
      at: (j) => startAt + myTaps[j]! * intervalMs,
      send: (j, scheduledAt) => {
        if (j === 0) read = busyMeter();
        const slot = Math.floor((myTaps[j]! % cfg.viewers) / cfg.generators);
        sockets[target][slot]!.emit('heart:tap', { count: 1 }, (res: { ok: boolean; data?: { counted: number }; error?: { code: string } }) => {
          latency.record(epochNow() - scheduledAt);
          if (res.ok) counted += res.data!.counted;
          else refusals[res.error!.code] = (refusals[res.error!.code] ?? 0) + 1;
          if (--pending === 0) allAcked();
        });
      },
    });
    await new Promise((r) => setTimeout(r, Math.max(0, window!.end - epochNow())));
    const busy = read();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([acked, new Promise((r) => (timer = setTimeout(r, TAPS_TIMEOUT_MS)))]);
    clearTimeout(timer);
    if (pending > 0) refusals.NO_ACK = pending;
    side.send({
      type: 'tapped',
      latency: latency.toJSON(),
      lateness: lateness.toJSON(),
      sent: myTaps.length,
      counted,
      refusals,
      framesInWindow: frames,
      eventsInWindow: events,
      heartUpdatesInWindow: heartUpdates,
      busy,
    });
  });

  side.on('settle', async ({ expected, timeoutMs }) => {
    const exactCount = () => lastTotal.reduce((n, t) => n + (t === expected ? 1 : 0), 0);
    if (exactCount() < mine.length) {
      await new Promise<void>((done) => {
        const timer = setTimeout(done, timeoutMs);
        settling = {
          expected,
          check: () => {
            if (exactCount() < mine.length) return;
            clearTimeout(timer);
            done();
          },
        };
      });
    }
    settling = null;
    const seen = [...lastTotal];
    side.send({ type: 'settled', exact: exactCount(), viewers: mine.length, minSeen: Math.min(...seen), maxSeen: Math.max(...seen), at: epochNow() });
  });

  side.on('stop', () => {
    for (const s of [...sockets.ours, ...sockets.bare]) s?.close();
    process.exit(0);
  });
  side.send({ type: 'ready' });
}

main().catch(side.fail);
