/**
 * bench:media with real WebRTC receivers (VIEWERS=webrtc) and/or two nodes (NODES=2).
 *
 * NODES servers run in this process on one private redis-server, each with MEDIA_WORKERS
 * mediasoup workers. A host generator process publishes a synthetic camera through libwebrtc
 * (which, like a browser, answers key-frame requests) on node A. Viewer generator processes
 * (GENERATORS of them) connect CONSUMERS real WebRTC receivers (ICE + DTLS + SRTP, RTCP receiver
 * reports, NACK, PLI), spread evenly over the nodes: on node B they are edge viewers, fed through
 * one pipe from A. Phases, on the same producer:
 *   idle       no consumers: each node's worker CPU with the producer (and nothing) alone;
 *   plain      CONSUMERS plain-RTP consumers on node A (the old bench's cheap receivers), the
 *              baseline doing the "same" forwarding without SRTP or feedback;
 *   webrtc     CONSUMERS WebRTC receivers over the nodes;
 * plain and webrtc alternate PAIRS times; figures are medians over the pairs. Then, with the
 * receivers still watching, JOINS viewers join one at a time (alternating nodes) and each one's
 * room:join ack → first decoded frame is timed. Loss is measured at the receivers (libwebrtc
 * inbound-rtp packetsLost over packetsReceived + packetsLost, after NACK). Worker CPU comes from
 * getResourceUsage deltas per node. Last line: `RESULT {json}`.
 *
 *   VIEWERS=webrtc CONSUMERS=40 npm run bench:media
 *   VIEWERS=webrtc NODES=2 CONSUMERS=40 npm run bench:media
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { types as ms } from 'mediasoup';
import { version as mediasoupVersion } from 'mediasoup';
import { loadConfig } from '../src/config.js';
import { startEmbeddedRedis } from '../src/core/embedded-redis.js';
import { createLogger } from '../src/core/logger.js';
import type { MediaDomain } from '../src/media/media-domain.js';
import { startServer, type RunningServer } from '../src/server.js';
import { NO_CLIENT_LIMITS } from '../test/helpers/lifted-limits.js';
import { TEST_SECRET } from '../test/helpers/stack.js';
import { postJson, quantile } from './bench-kit.js';
import type { FromViewerGen, ToViewerGen, ViewerGenConfig } from './media-viewers.js';

const env = z
  .object({
    CONSUMERS: z.coerce.number().int().min(1).max(2000).default(40),
    NODES: z.coerce.number().int().min(1).max(2).default(1),
    GENERATORS: z.coerce.number().int().min(1).max(16).default(2),
    MEDIA_WORKERS: z.coerce.number().int().min(1).max(16).default(1),
    PAIRS: z.coerce.number().int().min(1).max(10).default(3),
    JOINS: z.coerce.number().int().min(0).max(1000).default(20),
    SECONDS: z.coerce.number().min(2).max(600).default(8),
    WARMUP: z.coerce.number().min(1).max(60).default(3),
    WIDTH: z.coerce.number().int().min(64).max(1920).default(320),
    HEIGHT: z.coerce.number().int().min(64).max(1080).default(240),
    FPS: z.coerce.number().int().min(1).max(60).default(15),
  })
  .parse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== '')));

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const log = (line: string) => console.log(line);
const r2 = (n: number) => (Number.isFinite(n) ? Math.round(n * 100) / 100 : null);
const r4 = (n: number) => (Number.isFinite(n) ? Math.round(n * 10_000) / 10_000 : null);
const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);

interface Gen {
  child: ChildProcess;
  next<T extends FromViewerGen['type']>(type: T): Promise<Extract<FromViewerGen, { type: T }>>;
  send(m: ToViewerGen): void;
}

function startGen(cfg: ViewerGenConfig): Gen {
  const child = fork(resolve(ROOT, 'bench/media-viewers.ts'), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, MEDIA_VIEWER_GEN: JSON.stringify(cfg) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: FromViewerGen[] = [];
  const waiting: { type: string; ok: (m: FromViewerGen) => void; fail: (e: Error) => void }[] = [];
  child.on('message', (m: FromViewerGen) => {
    if (m.type === 'error') for (const w of waiting.splice(0)) w.fail(new Error(`generator ${cfg.index}: ${m.message}`));
    const i = waiting.findIndex((w) => w.type === m.type);
    if (i >= 0) waiting.splice(i, 1)[0]!.ok(m);
    else inbox.push(m);
  });
  child.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.fail(new Error(`generator ${cfg.index} exited (${code})`));
  });
  return {
    child,
    next: (type) =>
      new Promise((ok, fail) => {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return ok(inbox.splice(i, 1)[0] as never);
        waiting.push({ type, ok: ok as (m: FromViewerGen) => void, fail });
      }),
    send: (m) => child.send(m),
  };
}

const mediaOf = (s: RunningServer) => s.domains.find((d) => d.name === 'media') as MediaDomain;

async function workerCpuMs(s: RunningServer): Promise<number> {
  const all = await Promise.all(mediaOf(s).pool.all.map((w) => w.worker.getResourceUsage()));
  return all.reduce((sum, ru) => sum + ru.ru_utime + ru.ru_stime, 0);
}

/** Per-node worker CPU (% of one core) over `seconds`, with `during` run at the start and end. */
async function cpuWindow<T>(servers: RunningServer[], seconds: number, during: () => Promise<T>): Promise<{ cpu: number[]; at: [T, T] }> {
  const [c0, s0] = await Promise.all([Promise.all(servers.map(workerCpuMs)), during()]);
  const t0 = performance.now();
  await delay(seconds * 1000);
  const [c1, s1] = await Promise.all([Promise.all(servers.map(workerCpuMs)), during()]);
  const wall = performance.now() - t0;
  return { cpu: c1.map((c, i) => ((c - c0[i]!) / wall) * 100), at: [s0, s1] };
}

async function producerPackets(p: ms.Producer): Promise<number> {
  const stats = (await p.getStats()) as { type: string; packetCount: number }[];
  return stats.filter((s) => s.type === 'inbound-rtp').reduce((n, s) => n + s.packetCount, 0);
}

export async function mediaWebrtcBench(): Promise<void> {
  const redis = await startEmbeddedRedis({ persist: false });
  const servers: RunningServer[] = [];
  const gens: Gen[] = [];
  try {
    const quiet = createLogger('warn');
    for (let i = 0; i < env.NODES; i++) {
      const config = loadConfig(
        {},
        {
          JWT_SECRET: TEST_SECRET,
          DEV_TOKENS: 'true',
          PORT: '0',
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          MEDIA_ENABLED: 'true',
          MEDIA_WORKERS: String(env.MEDIA_WORKERS),
          MEDIA_PORT_BASE: '0',
          MEDIA_RTC_MIN_PORT: '20000',
          MEDIA_RTC_MAX_PORT: '39999',
          MEDIA_PIPE_MIN_PORT: String(42000 + i * 500),
          MEDIA_PIPE_MAX_PORT: String(42499 + i * 500),
          ROOMS_PER_USER: '1000',
          ...NO_CLIENT_LIMITS,
        },
      );
      servers.push(await startServer(config, redis.url, quiet));
    }
    const urls = servers.map((s) => s.url);
    const nodeA = servers[0]!;

    // The host and its live room, on node A.
    const hostRes = await fetch(`${urls[0]}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Host' }) });
    const host = (await hostRes.json()) as { token: string };
    const created = await postJson(urls[0]!, '/api/rooms', host.token, { title: 'media bench', hostKind: 'buyer' });
    const roomId = created.room.id as string;
    await postJson(urls[0]!, `/api/rooms/${roomId}/live`, host.token);
    const base = { urls, roomId, width: env.WIDTH, height: env.HEIGHT, fps: env.FPS };
    const hostGen = startGen({ ...base, index: 0, role: 'host', hostToken: host.token });
    gens.push(hostGen);
    const { producerId } = await hostGen.next('ready');
    const producer = mediaOf(nodeA).existingRoomMedia(roomId)!.producer(producerId!);

    log(
      `media (webrtc): mediasoup ${mediasoupVersion}, ${env.NODES} node(s) × ${env.MEDIA_WORKERS} worker(s) on ${cpus().length}x ${cpus()[0]?.model ?? '?'}, ` +
        `loadavg ${loadavg().map((l) => l.toFixed(1)).join(' ')}; host: libwebrtc VP8 ${env.WIDTH}x${env.HEIGHT}@${env.FPS}; ` +
        `${env.CONSUMERS} consumers over ${env.GENERATORS} generator processes; ${env.SECONDS} s windows, ${env.PAIRS} pairs`,
    );

    const viewerGens = Array.from({ length: env.GENERATORS }, (_, i) => startGen({ ...base, index: i + 1, role: 'viewers' }));
    gens.push(...viewerGens);
    await Promise.all(viewerGens.map((g) => g.next('ready')));

    await delay(env.WARMUP * 1000); // the host's encoder ramps up
    const idle = await cpuWindow(servers, env.SECONDS, () => producerPackets(producer));
    const producerPps = (idle.at[1] - idle.at[0]) / env.SECONDS;
    log(`idle      worker CPU per node ${idle.cpu.map((c) => r2(c)).join(' / ')} %, producer ${r2(producerPps)} pkt/s`);

    // Plain RTP to one local socket that counts packets (as the plain mode).
    let received = 0;
    const sink = createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
    sink.on('message', (buf) => {
      const pt = buf.length >= 12 ? buf[1]! & 0x7f : 72;
      if (pt < 72 || pt > 79) received++;
    });
    await new Promise<void>((ok) => sink.bind(0, '127.0.0.1', ok));
    const remote = { ip: '127.0.0.1', port: sink.address().port };

    interface PairResult {
      plainPerConsumer: number;
      plainLoss: number;
      webrtcPerConsumer: number;
      originPerConsumer: number;
      edgePerConsumer: number;
      pipeOverhead: number;
      loss: number;
      perNodeCpu: number[];
      perNodeConsumers: number[];
      genCpu: number;
      framesPerSec: number;
    }
    const pairs: PairResult[] = [];
    for (let pair = 0; pair < env.PAIRS; pair++) {
      // Plain: every consumer on node A.
      const media = mediaOf(nodeA).existingRoomMedia(roomId)!;
      const plain: ms.Consumer[] = [];
      while (plain.length < env.CONSUMERS) {
        const batch = Math.min(50, env.CONSUMERS - plain.length);
        plain.push(...(await Promise.all(Array.from({ length: batch }, () => media.plainConsumer(producerId!, remote)))));
      }
      await delay(env.WARMUP * 1000);
      const p = await cpuWindow(servers, env.SECONDS, async () => ({ got: received, in: await producerPackets(producer) }));
      for (const c of plain) c.close();
      const plainExpected = (p.at[1].in - p.at[0].in) * env.CONSUMERS;
      const plainLoss = plainExpected > 0 ? Math.max(0, (1 - (p.at[1].got - p.at[0].got) / plainExpected) * 100) : Number.NaN;
      const plainPerConsumer = (p.cpu[0]! - idle.cpu[0]!) / env.CONSUMERS;

      // WebRTC receivers over the nodes.
      const share = (i: number) => Math.floor(env.CONSUMERS / env.GENERATORS) + (i < env.CONSUMERS % env.GENERATORS ? 1 : 0);
      let offset = 0;
      viewerGens.forEach((g, i) => {
        g.send({ type: 'connect', count: share(i), offset });
        offset += share(i);
      });
      const connected = await Promise.all(viewerGens.map((g) => g.next('connected')));
      const perNodeConsumers = servers.map((_, n) => connected.reduce((s, c) => s + (c.perNode[n] ?? 0), 0));
      const failed = connected.reduce((s, c) => s + c.failed, 0);
      await delay(env.WARMUP * 1000);
      const sample = async () => {
        viewerGens.forEach((g) => g.send({ type: 'sample' }));
        return Promise.all(viewerGens.map((g) => g.next('sample')));
      };
      const w = await cpuWindow(servers, env.SECONDS, sample);
      const sum = (k: 'packetsReceived' | 'packetsLost' | 'framesDecoded', at: 0 | 1) => w.at[at].reduce((s, x) => s + x[k], 0);
      const got = sum('packetsReceived', 1) - sum('packetsReceived', 0);
      const lost = sum('packetsLost', 1) - sum('packetsLost', 0);
      const frames = sum('framesDecoded', 1) - sum('framesDecoded', 0);
      const n = perNodeConsumers.reduce((a, b) => a + b, 0);
      const extra = w.cpu.map((c, i) => c - idle.cpu[i]!);
      const originPerConsumer = extra[0]! / Math.max(1, perNodeConsumers[0]!);
      const edgePerConsumer = env.NODES > 1 ? extra[1]! / Math.max(1, perNodeConsumers[1]!) : Number.NaN;
      const result: PairResult = {
        plainPerConsumer,
        plainLoss,
        webrtcPerConsumer: extra.reduce((a, b) => a + b, 0) / Math.max(1, n),
        originPerConsumer,
        edgePerConsumer,
        // What the edge spends beyond its viewers' share at the origin's rate: receiving the pipe.
        pipeOverhead: env.NODES > 1 ? extra[1]! - originPerConsumer * perNodeConsumers[1]! : Number.NaN,
        // libwebrtc's packetsLost can go down (a packet counted lost arrives late, via NACK): ≥ 0.
        loss: got + lost > 0 ? Math.max(0, (lost / (got + lost)) * 100) : Number.NaN,
        perNodeCpu: w.cpu,
        perNodeConsumers,
        genCpu: Math.max(...w.at[1].map((s) => s.cpuPct)),
        framesPerSec: frames / env.SECONDS / Math.max(1, n),
      };
      pairs.push(result);
      log(
        `pair ${pair + 1}: plain ${env.CONSUMERS} on A: ${r4(plainPerConsumer)} %/consumer, loss ${r2(plainLoss)} % | ` +
          `webrtc ${n} (${perNodeConsumers.join('+')}${failed ? `, ${failed} failed` : ''}): ${r4(result.webrtcPerConsumer)} %/consumer ` +
          `(origin ${r4(originPerConsumer)}${env.NODES > 1 ? `, edge ${r4(edgePerConsumer)}, pipe ${r2(result.pipeOverhead)} %` : ''}), ` +
          `worker CPU ${w.cpu.map((c) => r2(c)).join(' / ')} %, loss ${r2(result.loss)} %, ${r2(result.framesPerSec)} fps/receiver, generators ≤ ${result.genCpu} % busy`,
      );
      if (pair < env.PAIRS - 1) {
        viewerGens.forEach((g) => g.send({ type: 'disconnect' }));
        await Promise.all(viewerGens.map((g) => g.next('disconnected')));
        await delay(1000);
      }
    }

    // Mid-stream joins, with the receivers still watching.
    let joins: Extract<FromViewerGen, { type: 'joins' }> | null = null;
    if (env.JOINS > 0) {
      const joiner = startGen({ ...base, index: 99, role: 'joins' });
      gens.push(joiner);
      await joiner.next('ready');
      joiner.send({ type: 'joins', count: env.JOINS });
      joins = await joiner.next('joins');
    }
    const ff = [...(joins?.firstFrameMs ?? [])].sort((a, b) => a - b);
    const perNodeFf = (joins?.perNode ?? []).map((xs) => quantile([...xs].sort((a, b) => a - b), 0.5));
    if (joins) log(`first frame (join ack → decoded) over ${ff.length} joins: p50 ${r2(quantile(ff, 0.5))} ms, p99 ${r2(quantile(ff, 0.99))} ms, per node p50 ${perNodeFf.map((x) => r2(x)).join(' / ')} ms, ${joins.failed} failed`);

    const med = (k: keyof PairResult) => median(pairs.map((p) => p[k] as number));
    const webrtc = med('webrtcPerConsumer');
    const plain = med('plainPerConsumer');
    log(`medians: webrtc ${r4(webrtc)} vs plain ${r4(plain)} % of a core per consumer (${r2(webrtc / plain)}x)` +
      (env.NODES > 1 ? `; edge/origin per consumer ${r2(med('edgePerConsumer') / med('originPerConsumer'))}x` : ''));
    sink.close();
    log(
      `RESULT ${JSON.stringify({
        bench: 'media',
        viewers: 'webrtc',
        consumers: env.CONSUMERS,
        nodes: env.NODES,
        workersPerNode: env.MEDIA_WORKERS,
        generators: env.GENERATORS,
        video: `${env.WIDTH}x${env.HEIGHT}@${env.FPS}`,
        producerPacketsPerSec: r2(producerPps),
        webrtcCpuPercentPerConsumer: r4(webrtc),
        plainRtpCpuPercentPerConsumer: r4(plain),
        webrtcToPlainRatio: r2(webrtc / plain),
        lossPercent: r2(med('loss')),
        plainLossPercent: r2(med('plainLoss')),
        originCpuPercentPerConsumer: r4(med('originPerConsumer')),
        edgeCpuPercentPerConsumer: env.NODES > 1 ? r4(med('edgePerConsumer')) : null,
        edgeToOriginRatio: env.NODES > 1 ? r2(med('edgePerConsumer') / med('originPerConsumer')) : null,
        pipeOverheadCpuPercent: env.NODES > 1 ? r2(med('pipeOverhead')) : null,
        perNodeWorkerCpuPercent: pairs.at(-1)!.perNodeCpu.map((c) => r2(c)),
        perNodeConsumers: pairs.at(-1)!.perNodeConsumers,
        idleWorkerCpuPercent: idle.cpu.map((c) => r2(c)),
        framesPerSecPerReceiver: r2(med('framesPerSec')),
        firstFrameJoins: ff.length,
        firstFrameP50Ms: r2(quantile(ff, 0.5)),
        firstFrameP99Ms: r2(quantile(ff, 0.99)),
        firstFrameP50MsPerNode: perNodeFf.map((x) => r2(x)),
        generatorMaxCpuPercent: Math.max(...pairs.map((p) => p.genCpu)),
        pairs: pairs.length,
      })}`,
    );
  } finally {
    for (const g of gens) g.child.kill('SIGKILL');
    for (const s of servers) await s.close().catch(() => undefined);
    await redis.stop();
  }
}
