/**
 * The server side of bench/flash-sale.ts, forked with `--import tsx` so the thousands of buyer
 * sockets never share its event loop: the real server (src/server.ts) on its own embedded
 * redis-server. Over IPC it says `ready`, reports its CPU (and redis-server's) around the burst,
 * and exits on `stop` or when the parent goes away.
 */
import { ONE_ADDRESS_CROWD } from '../test/helpers/lifted-limits.js';
import { readFileSync } from 'node:fs';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { loadConfig } from '../src/config.js';
import { startEmbeddedRedis } from '../src/core/embedded-redis.js';
import { createLogger } from '../src/core/logger.js';
import { startServer } from '../src/server.js';

export type SaleParentMessage = { type: 'usage-start' } | { type: 'usage-stop' } | { type: 'stop' };

export interface SaleServerUsage {
  /** CPU of the server process over the window, as a share of one core. */
  serverCores: number;
  serverElu: number;
  /** CPU milliseconds the server process used over the window. */
  serverCpuMs: number;
  /** CPU of its redis-server over the window (null where /proc is unreadable). */
  redisCores: number | null;
}

export type SaleChildMessage =
  | { type: 'ready'; url: string }
  | { type: 'usage'; usage: SaleServerUsage }
  | { type: 'error'; message: string };

const send = (msg: SaleChildMessage) => process.send?.(msg);

/** user+system CPU seconds of a process from /proc (Linux), or null. */
function procCpuSeconds(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ ticks
  } catch {
    return null;
  }
}

function firstChildPid(): number | null {
  try {
    const pids = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/);
    return pids[0] ? Number(pids[0]) : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const redis = await startEmbeddedRedis({ persist: false });
  const redisPid = firstChildPid();
  const config = loadConfig(
    {},
    {
      JWT_SECRET: process.env.BENCH_JWT_SECRET ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      MEDIA_ENABLED: 'false',
      // Every simulated viewer comes from this machine's one address: no per-IP caps.
      ...ONE_ADDRESS_CROWD,
    },
  );
  const server = await startServer(config, redis.url, createLogger(config.LOG_LEVEL));

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.close().catch(() => undefined);
    await redis.stop();
    process.exit(0);
  };
  process.on('disconnect', () => void stop());

  let window: { cpu: NodeJS.CpuUsage; elu: EventLoopUtilization; redis: number | null; at: number } | null = null;
  process.on('message', (msg: SaleParentMessage) => {
    if (msg.type === 'stop') void stop();
    if (msg.type === 'usage-start') {
      window = { cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), redis: procCpuSeconds(redisPid), at: performance.now() };
    }
    if (msg.type === 'usage-stop' && window) {
      const seconds = (performance.now() - window.at) / 1000;
      const cpu = process.cpuUsage(window.cpu);
      const redisNow = procCpuSeconds(redisPid);
      send({
        type: 'usage',
        usage: {
          serverCores: (cpu.user + cpu.system) / 1e6 / seconds,
          serverCpuMs: (cpu.user + cpu.system) / 1000,
          serverElu: performance.eventLoopUtilization(window.elu).utilization,
          redisCores: redisNow !== null && window.redis !== null ? (redisNow - window.redis) / seconds : null,
        },
      });
    }
  });
  send({ type: 'ready', url: server.url });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
