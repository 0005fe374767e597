/**
 * The server side of bench/chat-fanout.ts, run as its own process (forked with `--import tsx`) so
 * the 2,000 benchmark clients never share its event loop. Two modes:
 *   socketio — the real server (src/server.ts) on its own embedded redis-server;
 *   ws       — the baseline: a plain `ws` WebSocketServer that relays every frame it receives to
 *              all connected clients (the broadcast example from the ws README).
 * The parent talks to it over the IPC channel: it gets `ready`, asks for the event-loop
 * utilisation over the measured window (CPU it reads from /proc itself), can pause the relay
 * (`drop`), and sends `stop`. If the
 * parent dies, the IPC channel closes and we exit too.
 */
import { ONE_ADDRESS_CROWD } from '../test/helpers/lifted-limits.js';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { WebSocket, WebSocketServer } from 'ws';
import { loadConfig } from '../src/config.js';
import { startEmbeddedRedis, type EmbeddedRedis } from '../src/core/embedded-redis.js';
import { createLogger } from '../src/core/logger.js';
import { startServer, type RunningServer } from '../src/server.js';

export type ServerMode = 'socketio' | 'ws';

/** `drop`: the relay stops relaying (on: true) so a backlog left from an overloaded phase does not
 * run into the next one; our server has no such switch (it is the thing measured). */
export type ParentMessage = { type: 'elu'; from: number; to: number } | { type: 'drop'; on: boolean } | { type: 'stop' };

export type ChildMessage =
  | { type: 'ready'; url: string; wsUrl: string }
  | { type: 'elu'; utilization: number | null }
  | { type: 'error'; message: string };

const ELU_SAMPLE_MS = 200;
const ELU_SAMPLES_KEPT = 3000; // 10 minutes

function send(msg: ChildMessage): void {
  process.send?.(msg);
}

/**
 * Event-loop utilisation sampled on a timer with wall-clock stamps, so the parent can ask for any
 * past window afterwards; a saturated loop answers late, but about the right window.
 */
function sampleEventLoop(): (from: number, to: number) => number | null {
  const samples: { at: number; elu: EventLoopUtilization }[] = [];
  const timer = setInterval(() => {
    samples.push({ at: Date.now(), elu: performance.eventLoopUtilization() });
    if (samples.length > ELU_SAMPLES_KEPT) samples.shift();
  }, ELU_SAMPLE_MS);
  timer.unref();
  return (from, to) => {
    const first = samples.find((s) => s.at >= from);
    const last = samples.findLast((s) => s.at <= to);
    if (!first || !last || last.at <= first.at) return null;
    return performance.eventLoopUtilization(last.elu, first.elu).utilization;
  };
}

interface Running {
  url: string;
  close: () => Promise<void>;
  drop?: (on: boolean) => void;
}

async function startSocketIo(): Promise<Running> {
  const config = loadConfig(
    {},
    {
      JWT_SECRET: process.env.BENCH_JWT_SECRET ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      DEV_TOKENS: 'false',
      LOG_LEVEL: 'warn',
      // SENDERS users stand for a room's crowd of chatters, each sending RATE / SENDERS messages a
      // second: the per-user chat limit (default 10 per 10 s) and the per-socket event limits
      // (30/s, 16 unanswered) would measure themselves instead of the fan-out, most of all when
      // acks are slow under load. They have their own tests.
      CHAT_RATE_PER_10S: '1000',
      SOCKET_EVENTS_PER_SEC: '1000',
      SOCKET_EVENT_BURST: '10000',
      SOCKET_MAX_IN_FLIGHT: '10000',
      // Chat fan-out needs no video; mediasoup workers would only take CPU and fixed UDP ports.
      MEDIA_ENABLED: 'false',
      // Every simulated viewer comes from this machine's one address: no per-IP caps.
      ...ONE_ADDRESS_CROWD,
    },
  );
  const redis: EmbeddedRedis = await startEmbeddedRedis({ persist: false });
  let server: RunningServer;
  try {
    server = await startServer(config, redis.url, createLogger(config.LOG_LEVEL));
  } catch (err) {
    await redis.stop(); // or it outlives us, orphaned
    throw err;
  }
  return {
    url: server.url,
    async close() {
      await server.close();
      await redis.stop();
    },
  };
}

async function startWsBaseline(): Promise<Running> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((ok) => wss.once('listening', () => ok()));
  let dropping = false;
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (dropping) return;
      for (const client of wss.clients) {
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      }
    });
  });
  const { port } = wss.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    drop: (on) => (dropping = on),
    close: () =>
      new Promise<void>((ok) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => ok());
      }),
  };
}

async function main(): Promise<void> {
  const mode = process.argv[2] as ServerMode;
  if (mode !== 'socketio' && mode !== 'ws') throw new Error(`usage: fanout-server.ts socketio|ws (got ${String(mode)})`);
  const running = mode === 'socketio' ? await startSocketIo() : await startWsBaseline();
  const eluBetween = sampleEventLoop();

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await running.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('disconnect', () => void stop()); // parent went away
  process.on('message', (msg: ParentMessage) => {
    if (msg.type === 'stop') void stop();
    if (msg.type === 'drop') running.drop?.(msg.on);
    if (msg.type === 'elu') send({ type: 'elu', utilization: eluBetween(msg.from, msg.to) });
  });

  const wsUrl = running.url.replace(/^http/, 'ws');
  send({ type: 'ready', url: running.url, wsUrl });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
