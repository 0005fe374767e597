/**
 * Private measurement for room batching (issue 10 item 1; not one of the npm benches): the server
 * side, forked by bench/batch-fanout.ts. `socketio` runs src/server.ts with BATCH_MAX_DELAY_MS /
 * BATCH_MAX_EVENTS from this process's env (0 = batching off) on its own embedded redis-server;
 * `ws` is the per-message relay baseline. Answers `cpu` over IPC with its own CPU seconds.
 */
import { WebSocket, WebSocketServer } from 'ws';
import { loadConfig } from '../src/config.js';
import { startEmbeddedRedis } from '../src/core/embedded-redis.js';
import { createLogger } from '../src/core/logger.js';
import { startServer } from '../src/server.js';
import { ONE_ADDRESS_CROWD } from '../test/helpers/lifted-limits.js';

async function startSocketIo(): Promise<{ url: string; close: () => Promise<void> }> {
  const config = loadConfig(
    {},
    {
      JWT_SECRET: process.env.BENCH_JWT_SECRET ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      CHAT_RATE_PER_10S: '1000',
      SOCKET_EVENTS_PER_SEC: '1000',
      SOCKET_EVENT_BURST: '1000',
      SOCKET_MAX_IN_FLIGHT: '1000',
      MEDIA_ENABLED: 'false',
      BATCH_MAX_DELAY_MS: process.env.BATCH_MAX_DELAY_MS ?? '50',
      BATCH_MAX_EVENTS: process.env.BATCH_MAX_EVENTS ?? '128',
      ...ONE_ADDRESS_CROWD,
    },
  );
  const redis = await startEmbeddedRedis({ persist: false });
  const server = await startServer(config, redis.url, createLogger(config.LOG_LEVEL));
  return {
    url: server.url,
    async close() {
      await server.close();
      await redis.stop();
    },
  };
}

async function startWs(): Promise<{ url: string; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((ok) => wss.once('listening', () => ok()));
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    });
  });
  const { port } = wss.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((ok) => wss.close(() => ok())) };
}

const mode = process.argv[2];
const running = await (mode === 'ws' ? startWs() : startSocketIo());
process.on('message', (msg: { type: string }) => {
  if (msg.type === 'cpu') {
    const u = process.cpuUsage();
    process.send?.({ type: 'cpu', seconds: (u.user + u.system) / 1e6 });
  }
  if (msg.type === 'stop') void running.close().finally(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready', url: running.url });
