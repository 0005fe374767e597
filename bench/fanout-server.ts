/**
 * The server side of bench/chat-fanout.ts, run as its own process (forked with `--import tsx`) so
 * the 2,000 benchmark clients never share its event loop. Two modes:
 *   socketio — the real server (src/server.ts) on its own embedded redis-server;
 *   ws       — the baseline: a plain `ws` WebSocketServer that relays every frame it receives to
 *              all connected clients (the broadcast example from the ws README).
 * The parent talks to it over the IPC channel: it gets `ready`, asks for CPU usage around the
 * measured window, and sends `stop`. If the parent dies, the IPC channel closes and we exit too.
 */
import { readFileSync } from 'node:fs';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { WebSocket, WebSocketServer } from 'ws';
import { loadConfig } from '../src/config.js';
import { startEmbeddedRedis, type EmbeddedRedis } from '../src/core/embedded-redis.js';
import { createLogger } from '../src/core/logger.js';
import { startServer, type RunningServer } from '../src/server.js';

export type ServerMode = 'socketio' | 'ws';

export type ParentMessage = { type: 'usage-start' } | { type: 'usage-stop' } | { type: 'stop' };

export interface ServerUsage {
  /** CPU time of the server process over the window, as a share of one core (1 = 100 %). */
  serverCores: number;
  /** Event-loop utilisation of the server over the window (1 = never idle). */
  serverElu: number;
  /** CPU of the embedded redis-server over the window, share of one core; null in ws mode. */
  redisCores: number | null;
  serverRssMb: number;
}

export type ChildMessage =
  | { type: 'ready'; url: string; wsUrl: string }
  | { type: 'usage'; usage: ServerUsage }
  | { type: 'error'; message: string };

const CLOCK_TICKS_PER_SEC = 100; // Linux USER_HZ; /proc/<pid>/stat times are in these ticks

function send(msg: ChildMessage): void {
  process.send?.(msg);
}

/** Pids of our direct children (the embedded redis-server), from /proc; empty elsewhere. */
function childPids(): number[] {
  try {
    return readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** user+system CPU seconds of a process, or null when /proc is not readable. */
function procCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC;
  } catch {
    return null;
  }
}

async function startSocketIo(): Promise<{ url: string; close: () => Promise<void>; redisPid: number | null }> {
  const redis: EmbeddedRedis = await startEmbeddedRedis({ persist: false });
  const redisPid = childPids()[0] ?? null;
  const config = loadConfig(
    {},
    {
      JWT_SECRET: process.env.BENCH_JWT_SECRET ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      DEV_TOKENS: 'false',
      LOG_LEVEL: 'warn',
      // One host sends every message of the benchmark; the default (10 per 10 s) would refuse most.
      CHAT_RATE_PER_10S: '1000',
    },
  );
  const server: RunningServer = await startServer(config, redis.url, createLogger(config.LOG_LEVEL));
  return {
    url: server.url,
    redisPid,
    async close() {
      await server.close();
      await redis.stop();
    },
  };
}

async function startWsBaseline(): Promise<{ url: string; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((ok) => wss.once('listening', () => ok()));
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      for (const client of wss.clients) {
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      }
    });
  });
  const { port } = wss.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
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
  const running =
    mode === 'socketio' ? await startSocketIo() : { ...(await startWsBaseline()), redisPid: null as number | null };

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await running.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('disconnect', () => void stop()); // parent went away

  let measuring: { cpu: NodeJS.CpuUsage; elu: EventLoopUtilization; redis: number | null; at: number } | null = null;
  process.on('message', (msg: ParentMessage) => {
    if (msg.type === 'stop') void stop();
    if (msg.type === 'usage-start') {
      measuring = {
        cpu: process.cpuUsage(),
        elu: performance.eventLoopUtilization(),
        redis: running.redisPid === null ? null : procCpuSeconds(running.redisPid),
        at: performance.now(),
      };
    }
    if (msg.type === 'usage-stop' && measuring) {
      const seconds = (performance.now() - measuring.at) / 1000;
      const cpu = process.cpuUsage(measuring.cpu);
      const redisNow = running.redisPid === null ? null : procCpuSeconds(running.redisPid);
      send({
        type: 'usage',
        usage: {
          serverCores: (cpu.user + cpu.system) / 1e6 / seconds,
          serverElu: performance.eventLoopUtilization(measuring.elu).utilization,
          redisCores: redisNow !== null && measuring.redis !== null ? (redisNow - measuring.redis) / seconds : null,
          serverRssMb: process.memoryUsage().rss / 2 ** 20,
        },
      });
    }
  });

  const wsUrl = running.url.replace(/^http/, 'ws');
  send({ type: 'ready', url: running.url, wsUrl });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
