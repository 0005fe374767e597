/**
 * Entry point: parse config, start an embedded redis-server when no REDIS_URL is given, run the
 * server, and drain it on SIGINT/SIGTERM (core/drain.ts) before stopping the embedded Redis.
 */
import { ConfigError, loadConfig } from './config.js';
import { RedisBinaryMissing, startEmbeddedRedis, type EmbeddedRedis } from './core/embedded-redis.js';
import { exitOnSignals } from './core/drain.js';
import { createLogger } from './core/logger.js';
import { parseClusterNodes, type RedisTarget } from './core/redis-client.js';
import { startServer } from './server.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  let embedded: EmbeddedRedis | null = null;
  let target: RedisTarget;
  if (config.REDIS_CLUSTER_NODES) {
    target = { kind: 'cluster', nodes: parseClusterNodes(config.REDIS_CLUSTER_NODES) };
  } else if (config.REDIS_URL) {
    target = { kind: 'single', url: config.REDIS_URL };
  } else {
    embedded = await startEmbeddedRedis({ dataDir: config.REDIS_DATA_DIR, persist: true });
    target = { kind: 'single', url: embedded.url };
    log.info({ url: embedded.url, dir: config.REDIS_DATA_DIR }, 'started embedded redis-server');
  }
  const server = await startServer(config, target, log).catch(async (err: unknown) => {
    await embedded?.stop(); // never leave the embedded redis-server orphaned
    throw err;
  });
  exitOnSignals(
    async () => {
      await server.close();
      await embedded?.stop();
    },
    config.DRAIN_TIMEOUT_MS,
    log,
  );
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof RedisBinaryMissing) {
    console.error(err.message);
  } else {
    console.error('failed to start:', err);
  }
  process.exit(1);
});
