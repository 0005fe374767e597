/**
 * One load generator of bench/join-storm.ts, in its own process: connects its share of viewers
 * (socket.io-client, spread over the server nodes), then on `start` sends each viewer's
 * `room:join` at its scheduled time and records the ack latency from that scheduled time (a late
 * generator shows up as latency, not as a slower offered rate). Reports its CPU use over the
 * storm so the bench can say whether the generator itself was the bottleneck.
 */
import { performance } from 'node:perf_hooks';
import { TokenService } from '../src/auth/tokens.js';
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
      latencies: number[];
      failures: Record<string, number>;
      /** Epoch ms (sub-ms) of this generator's last ack. */
      lastAckAt: number;
      /** CPU (user+system) ÷ wall time over the storm, in % of one core. */
      cpuBusyPct: number;
      /** Event-loop utilisation over the storm, in %. */
      eluPct: number;
    }
  | { type: 'error'; message: string };

export type ParentToGenerator = { type: 'start'; at: number } | { type: 'stop' };

const epochNow = () => performance.timeOrigin + performance.now();
const send = (m: GeneratorMessage) => process.send!(m);

async function run(cfg: GeneratorConfig): Promise<void> {
  const tokens = new TokenService(cfg.jwtSecret, 'live-commerce');
  // Viewer g belongs to generator g % generators; its node is spread so each generator hits all.
  const mine: number[] = [];
  for (let g = cfg.index; g < cfg.viewers; g += cfg.generators) mine.push(g);
  const sockets: ViewerSocket[] = new Array(mine.length);
  const started = performance.now();
  await inBatches(mine.length, cfg.connectConcurrency, async (k) => {
    const g = mine[k]!;
    const token = await tokens.sign({ id: `u_storm_${g}`, name: `Viewer ${g}` });
    sockets[k] = await connectSocketIo(cfg.urls[Math.floor(g / cfg.generators) % cfg.urls.length]!, token);
  });
  send({ type: 'connected', count: mine.length, ms: performance.now() - started });

  const start = await new Promise<number>((ok) => {
    process.on('message', (m: ParentToGenerator) => {
      if (m.type === 'start') ok(m.at);
    });
  });
  const intervalMs = (cfg.joinSeconds * 1000) / cfg.viewers;
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let lastAckAt = 0;
  let acked = 0;
  let cpu0: NodeJS.CpuUsage | null = null;
  let elu0: ReturnType<typeof performance.eventLoopUtilization> | null = null;
  let wall0 = 0;
  await new Promise<void>((done) => {
    let k = 0;
    const tick = () => {
      const now = epochNow();
      if (cpu0 === null) {
        cpu0 = process.cpuUsage();
        elu0 = performance.eventLoopUtilization();
        wall0 = performance.now();
      }
      // Catch up on everything due: a late timer sends a burst rather than drifting the schedule.
      while (k < mine.length && start + mine[k]! * intervalMs <= now) {
        const scheduled = start + mine[k]! * intervalMs;
        void joinRoom(sockets[k]!, cfg.roomId).then((ack) => {
          const at = epochNow();
          latencies.push(at - scheduled);
          lastAckAt = Math.max(lastAckAt, at);
          if (!ack.ok) failures[ack.error.code] = (failures[ack.error.code] ?? 0) + 1;
          if (++acked === mine.length) done();
        });
        k++;
      }
      if (k < mine.length) setTimeout(tick, Math.max(0, start + mine[k]! * intervalMs - epochNow()));
    };
    setTimeout(tick, Math.max(0, start - epochNow()));
  });
  const cpu = process.cpuUsage(cpu0!);
  const wall = performance.now() - wall0;
  send({
    type: 'done',
    latencies,
    failures,
    lastAckAt,
    cpuBusyPct: ((cpu.user + cpu.system) / 1000 / wall) * 100,
    eluPct: performance.eventLoopUtilization(elu0!).utilization * 100,
  });

  await new Promise<void>((ok) => process.on('message', (m: ParentToGenerator) => m.type === 'stop' && ok()));
  for (const s of sockets) s.disconnect();
}

run(JSON.parse(process.env.JOIN_STORM_GENERATOR!) as GeneratorConfig).then(
  () => process.exit(0),
  (err: unknown) => {
    send({ type: 'error', message: String(err instanceof Error ? err.stack : err) });
    process.exit(1);
  },
);
