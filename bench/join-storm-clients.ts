/**
 * One load generator of bench/join-storm.ts, in its own process: connects its share of viewers
 * (socket.io-client, spread over the server nodes), then on `start` sends each viewer's
 * `room:join` at its scheduled time on an open-loop schedule and records the ack latency from that
 * scheduled time (a late generator shows up as latency, not as a slower offered rate) and how late
 * it was to the schedule. Reports how busy it was over the storm.
 */
import { TokenService } from '../src/auth/tokens.js';
import { Histogram, busyMeter, childSide, epochNow, openLoop, type Busy, type HistogramJson } from './bench-kit.js';
import { connectSocketIo, inBatches, joinRoom, type ViewerSocket } from './clients.js';

export interface GeneratorConfig {
  index: number;
  generators: number;
  viewers: number;
  urls: string[];
  roomId: string;
  jwtSecret: string;
  joinSeconds: number;
  connectConcurrency: number;
}

export type GeneratorMessage =
  | { type: 'connected'; count: number; ms: number }
  | {
      type: 'done';
      /** ms from each join's scheduled time to its ack. */
      latency: HistogramJson;
      /** How late each join left relative to its scheduled time. */
      lateness: HistogramJson;
      failures: Record<string, number>;
      /** Epoch ms (sub-ms) of this generator's last ack. */
      lastAckAt: number;
      busy: Busy;
    };

export type ParentToGenerator = { type: 'start'; at: number } | { type: 'stop' };

/** A join unanswered this long counts as failed (NO_ACK), so a lost ack cannot hang the bench. */
const JOIN_TIMEOUT_MS = 120_000;
const side = childSide<GeneratorConfig, ParentToGenerator, GeneratorMessage>();
const { cfg } = side;

async function run(): Promise<void> {
  const tokens = new TokenService(cfg.jwtSecret, 'live-commerce');
  // Viewer g belongs to generator g % generators; its node is spread so each generator hits all.
  const mine: number[] = [];
  for (let g = cfg.index; g < cfg.viewers; g += cfg.generators) mine.push(g);
  const sockets: ViewerSocket[] = new Array(mine.length);
  const started = epochNow();
  await inBatches(mine.length, cfg.connectConcurrency, async (k) => {
    const g = mine[k]!;
    const token = await tokens.sign({ id: `u_storm_${g}`, name: `Viewer ${g}` });
    sockets[k] = await connectSocketIo(cfg.urls[Math.floor(g / cfg.generators) % cfg.urls.length]!, token);
  });
  side.send({ type: 'connected', count: mine.length, ms: epochNow() - started });

  side.on('start', async ({ at }) => {
    const intervalMs = (cfg.joinSeconds * 1000) / cfg.viewers;
    const latency = new Histogram();
    const failures: Record<string, number> = {};
    let lastAckAt = 0;
    let pending = mine.length;
    let allAcked = () => {};
    const acked = new Promise<void>((done) => (allAcked = done));
    let read = busyMeter();
    const lateness = await openLoop({
      count: mine.length,
      at: (k) => at + mine[k]! * intervalMs,
      send: (k, scheduled) => {
        if (k === 0) read = busyMeter();
        let timer: NodeJS.Timeout | undefined;
        const unanswered = new Promise<null>((r) => (timer = setTimeout(() => r(null), JOIN_TIMEOUT_MS)));
        void Promise.race([joinRoom(sockets[k]!, cfg.roomId), unanswered]).then((ack) => {
          clearTimeout(timer);
          const code = ack === null ? 'NO_ACK' : ack.ok ? null : ack.error.code;
          if (ack !== null) {
            lastAckAt = Math.max(lastAckAt, epochNow());
            latency.record(lastAckAt - scheduled);
          }
          if (code) failures[code] = (failures[code] ?? 0) + 1;
          if (--pending === 0) allAcked();
        });
      },
    });
    await acked;
    side.send({ type: 'done', latency: latency.toJSON(), lateness: lateness.toJSON(), failures, lastAckAt, busy: read() });
  });

  side.on('stop', () => {
    for (const s of sockets) s.disconnect();
    process.exit(0);
  });
}

run().catch(side.fail);
