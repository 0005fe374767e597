/**
 * Entry point: parse config, start an embedded redis-server when no REDIS_URL is given, run the
 * server, and stop both cleanly on SIGINT/SIGTERM.
 */
import { ConfigError, loadConfig } from './config.js';
import { RedisBinaryMissing, startEmbeddedRedis, type EmbeddedRedis } from './core/embedded-redis.js';
import { createLogger } from './core/logger.js';
import { startServer } from './server.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  let embedded: EmbeddedRedis | null = null;
  let redisUrl = config.REDIS_URL;
  if (!redisUrl) {
    embedded = await startEmbeddedRedis({ dataDir: config.REDIS_DATA_DIR, persist: true });
    redisUrl = embedded.url;
    log.info({ url: redisUrl, dir: config.REDIS_DATA_DIR }, 'started embedded redis-server');
  }
  const server = await startServer(config, redisUrl, log).catch(async (err: unknown) => {
    await embedded?.stop(); // never leave the embedded redis-server orphaned
    throw err;
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await server.close().catch((err) => log.error({ err }, 'close failed'));
    await embedded?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof RedisBinaryMissing) {
    console.error(err.message);
  } else {
    console.error('failed to start:', err);
  }
  process.exit(1);
});
