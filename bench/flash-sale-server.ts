/**
 * Our server for bench/flash-sale.ts, as its own process (forked with `--import tsx`, see
 * bench-kit forkTs) so the buyers never share its event loop: src/server.ts on its own embedded
 * redis-server. Answers `cpu` with its own CPU time (µs) and its redis-server's (from /proc); the
 * bench asks just before and just after a burst, when the process is idle.
 */
import { ONE_ADDRESS_CROWD } from '../test/helpers/lifted-limits.js';
import { loadConfig } from '../src/config.js';
import { startEmbeddedRedis } from '../src/core/embedded-redis.js';
import { createLogger } from '../src/core/logger.js';
import { startServer } from '../src/server.js';
import { childPids, childSide, procCpuSeconds } from './bench-kit.js';
import type { FromServer, ToServer } from './flash-sale-protocol.js';

const side = childSide<{ jwtSecret: string }, ToServer, FromServer>();

async function main(): Promise<void> {
  const redis = await startEmbeddedRedis({ persist: false });
  const redisPid = childPids(process.pid)[0] ?? null;
  const config = loadConfig(
    {},
    {
      JWT_SECRET: side.cfg.jwtSecret,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      MEDIA_ENABLED: 'false',
      // Every simulated buyer comes from this machine's one address: no per-IP caps.
      ...ONE_ADDRESS_CROWD,
    },
  );
  const server = await startServer(config, redis.url, createLogger(config.LOG_LEVEL)).catch(async (err: unknown) => {
    await redis.stop(); // or it outlives us, orphaned
    throw err;
  });
  side.on('cpu', () => {
    const cpu = process.cpuUsage();
    side.send({ type: 'cpu', nodeUs: cpu.user + cpu.system, redisS: procCpuSeconds(redisPid) });
  });
  side.on('stop', async () => {
    await server.close().catch(() => undefined);
    await redis.stop();
    process.exit(0);
  });
  side.send({ type: 'ready', url: server.url });
}

main().catch(side.fail);
