/**
 * The composition root: one HTTP server carrying the express API and Socket.IO, wired to Redis
 * (state and the Streams adapter, which keeps connection state recovery working across nodes)
 * and to every domain. main.ts runs it; tests start several of these against one Redis.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import express from 'express';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Config } from './config.js';
import { bearerAuth, mountDevTokens } from './auth/auth-http.js';
import { installSocketAuth } from './auth/auth-socket.js';
import { TokenService } from './auth/tokens.js';
import type { Domain, DomainDeps } from './core/domain.js';
import { Drain } from './core/drain.js';
import { closeRecoveryGap } from './core/recovery-gap.js';
import { jsonErrors, listenAt, notFoundRoute } from './core/http-kit.js';
import { httpRateLimit } from './core/http-rate-limit.js';
import { userChannel } from './core/keys.js';
import { createLogger, type Logger } from './core/logger.js';
import type { LiveServer, LiveSocket } from './core/socket-kit.js';
import { clientIp } from './core/client-ip.js';
import { ConnectionLimits } from './core/connection-limits.js';
import { EventLimits } from './core/event-limits.js';
import { demoStatic } from './core/demo-static.js';
import { OriginPolicy, securityHeaders } from './core/edge-security.js';
import { createMetricsRegistry } from './core/metrics.js';
import { metricsServed, mountMetrics } from './core/metrics-endpoint.js';
import { httpMetrics } from './core/http-metrics.js';
import { ObservedEventRouter } from './core/observed-router.js';
import { RefusalLog, requestIds, socketFields } from './core/request-context.js';
import { SocketMetrics } from './core/socket-metrics.js';
import { roomsMetrics } from './rooms/rooms-metrics.js';
import { createDomains } from './domains.js';
import { createAdapterClient, createRedisClient, type RedisClient, type RedisTarget } from './core/redis-client.js';
import { RedisGuard } from './core/redis-guard.js';
import { vettedRecovery } from './core/vetted-recovery.js';
import { batchedRoomBroadcasts } from './core/room-batching.js';
import { roomBatchMetrics } from './core/room-batch-metrics.js';
import { LoadWindow } from './core/load-window.js';
import { RoomsDomain } from './rooms/rooms-domain.js';

export interface RunningServer {
  url: string;
  port: number;
  io: LiveServer;
  redis: RedisClient;
  tokens: TokenService;
  domains: Domain[];
  /** Drain this node (core/drain.ts) and close it; done within DRAIN_TIMEOUT_MS. */
  /** The separate metrics port's URL, when METRICS_PORT is set. */
  metricsUrl: string | null;
  close(): Promise<void>;
}

/** `redis`: a URL (one Redis) or a target (one Redis or a cluster's seed nodes). */
export async function startServer(config: Config, redis: string | RedisTarget, log: Logger = createLogger(config.LOG_LEVEL)): Promise<RunningServer> {
  const target: RedisTarget = typeof redis === 'string' ? { kind: 'single', url: redis } : redis;
  // The guard fails every command fast once one timed out, until Redis answers again, and gives
  // write scripts the deadline after which they must do nothing (see redis-guard.ts).
  const guard = new RedisGuard(config.REDIS_COMMAND_TIMEOUT_MS, log);
  const state = guard.protect(createRedisClient(target, { commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS, name: 'live-commerce' }));
  state.on('error', (err: Error) => log.warn({ err: err.message }, 'redis error'));
  await state.connect();
  await guard.calibrate(state).catch((err: unknown) => {
    state.disconnect();
    throw err;
  });
  // The adapter's stream reader blocks on XREAD for seconds by design; only its writes time out.
  const adapterRedis = createAdapterClient(target, { commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS, name: 'live-commerce-adapter' });
  adapterRedis.on('error', (err: Error) => log.warn({ err: err.message }, 'redis (adapter) error'));
  await adapterRedis.connect();
  return startOn(config, state, adapterRedis, guard, log);
}

/** Where the Socket.IO adapter keeps recovery sessions (its default, spelled out: we read it too). */
const SESSION_KEY_PREFIX = 'sio:session:';

/** The batching window: a quarter of the delay bound while the event loop is at most half busy,
 * all of it from 85 % busy up. The bound's default was measured (docs/BENCHMARKS.md "Room
 * batching"); the thresholds are judgement: below half busy frames cost nothing anyone waits for,
 * and past ~85 % queueing delay grows steeply, so every frame saved should be saved by then. */
const batchWindowOptions = (maxMs: number) => ({ minMs: Math.max(1, Math.round(maxMs / 4)), maxMs, idleBelow: 0.5, busyAbove: 0.85 });

/** `/readyz` answers within this long, whatever Redis does (load balancers time out at ~1-2 s). */
export const READYZ_TIMEOUT_MS = 500;

async function startOn(config: Config, redis: RedisClient, adapterRedis: RedisClient, guard: RedisGuard, log: Logger): Promise<RunningServer> {

  const app = express();
  app.disable('x-powered-by');
  const origins = new OriginPolicy(config.CORS_ORIGINS);
  app.use(securityHeaders(), origins.http());
  const httpServer: HttpServer = createServer(app);
  // One registry per server (tests run several servers in one process).
  const metrics = createMetricsRegistry({ redisCommands: metricsServed(config) });
  const socketMetrics = new SocketMetrics(metrics, () => io.of('/').sockets.size);
  // High-rate room events leave this node as one room:batch frame per room per window (core/room-batching.ts).
  const batchWindow = config.BATCH_MAX_DELAY_MS > 0 ? new LoadWindow(batchWindowOptions(config.BATCH_MAX_DELAY_MS)) : null;
  const batching = <A extends Parameters<typeof batchedRoomBroadcasts>[0]>(factory: A) =>
    batchWindow ? batchedRoomBroadcasts(factory, { maxEvents: config.BATCH_MAX_EVENTS, windowMs: batchWindow.ms, onFrame: roomBatchMetrics(metrics) }) : factory;
  const io: LiveServer = new Server(httpServer, {
    allowRequest: origins.allowRequest,
    cors: { origin: config.CORS_ORIGINS },
    // Recovery replays what a connection missed; the rooms domain first takes away the channels its
    // user may no longer hear (banned, no longer staff) so none of that is replayed. `rooms` is
    // created below; sessions are only restored once the server listens.
    adapter: vettedRecovery(
      batching(socketMetrics.countBroadcasts(createAdapter(adapterRedis, { maxLen: config.ADAPTER_STREAM_MAXLEN, onlyPlaintext: true, sessionKeyPrefix: SESSION_KEY_PREFIX }))),
      (session) => rooms.recoverableChannels(session),
      async (pid) => (await adapterRedis.exists(SESSION_KEY_PREFIX + pid)) === 1,
    ),
    connectionStateRecovery: { maxDisconnectionDuration: config.RECOVERY_WINDOW_MS, skipMiddlewares: true },
    maxHttpBufferSize: 64 * 1024, // hard cap per frame; payloads over 8 KB already get an error ack
    serveClient: false,
  });
  closeRecoveryGap(io); // a restored session must not miss what this node delivered meanwhile

  const tokens = new TokenService(config.JWT_SECRET, config.JWT_ISSUER, {
    audience: config.JWT_AUDIENCE,
    maxLifetimeS: config.TOKEN_MAX_LIFETIME_S,
  });
  const rooms: RoomsDomain = new RoomsDomain(
    io,
    redis,
    log,
    config.HEART_RATE_PER_SEC,
    config.PRESENCE_HEARTBEAT_MS,
    roomsMetrics(metrics, io, () => rooms.store.liveCount()),
    config,
  );
  const deps: DomainDeps = { io, redis, log, config, rooms: rooms.store, membership: rooms, metrics };
  const others = createDomains(deps);
  rooms.peers = others;
  const domains: Domain[] = [rooms, ...others];
  try {
    for (const d of domains) await d.start?.();
  } catch (err) {
    for (const d of domains) await d.close?.().catch(() => undefined);
    redis.disconnect();
    adapterRedis.disconnect();
    throw err;
  }

  // Socket side: auth, then every event through the one validating router.
  const ipOf = (socket: LiveSocket) =>
    clientIp(socket.handshake.address, socket.handshake.headers['x-forwarded-for'], config.TRUST_PROXY_HOPS);
  const refusals = new RefusalLog(log);
  const router = new ObservedEventRouter(log, new EventLimits(redis, config, ipOf));
  router.observers = { metrics: socketMetrics, refusals };
  for (const d of domains) d.registerEvents?.(router);
  installSocketAuth(io, tokens);
  const connections = new ConnectionLimits(config.MAX_CONNECTIONS_PER_USER, config.MAX_CONNECTIONS_PER_IP, ipOf);
  connections.install(io);
  io.on('connection', (socket) => void onConnection(socket));
  const drain = new Drain({
    io,
    httpServer,
    inFlight: router.inFlight,
    log,
    redis: [redis, adapterRedis],
    async closeDomains() {
      for (const d of domains) await d.close?.();
      batchWindow?.close();
      guard.close();
    },
  });

  async function onConnection(socket: LiveSocket): Promise<void> {
    // Refused (over a connection cap, e.g. a recovered session): nothing else is set up for it,
    // so it is never resumed into its room.
    if (!connections.track(io, socket)) return;
    socketMetrics.connections.inc();
    router.attach(socket);
    if (socket.data.user) void socket.join(userChannel(socket.data.user.id));
    socket.on('disconnect', (reason) => {
      socketMetrics.disconnects.inc({ reason });
      // Tracked so a draining node removes the presence entry before it quits Redis.
      void router.inFlight.track(rooms.leave(socket).catch((err: unknown) => log.warn({ err, ...socketFields(socket) }, 'leave on disconnect failed')));
    });
    if (socket.recovered) await resumeAfterRecovery(socket);
  }

  /** A recovered connection keeps its room, unless it was banned or the room ended meanwhile;
   * its channels follow its current role (RoomsDomain.resume). */
  async function resumeAfterRecovery(socket: LiveSocket): Promise<void> {
    await rooms.resume(socket).catch((err: unknown) => log.warn({ err, ...socketFields(socket) }, 'resume after recovery failed'));
  }

  // HTTP side.
  app.use(requestIds(log), httpMetrics(metrics, refusals));
  app.use((_req, res, next) => {
    // Draining: answer what is in flight, but keep no connection open for more.
    if (drain.draining) res.setHeader('connection', 'close');
    next();
  });
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', async (_req, res) => {
    if (drain.draining) {
      res.status(503).json({ error: { code: 'UNAVAILABLE', message: 'draining: this server is shutting down' } });
      return;
    }
    if (await guard.ready(redis, Math.min(READYZ_TIMEOUT_MS, config.REDIS_COMMAND_TIMEOUT_MS))) {
      res.json({ ok: true });
    } else {
      res.status(503).json({ error: { code: 'UNAVAILABLE', message: 'redis is unreachable or not answering' } });
    }
  });
  const metricsEndpoint = await mountMetrics(config, app, metrics, io, log);
  const api = express.Router();
  api.use(express.json({ limit: '16kb' }));
  api.use(bearerAuth(tokens));
  api.use(['/api', '/whip'], httpRateLimit(redis, config, log));
  if (config.DEV_TOKENS) mountDevTokens(api, tokens);
  for (const d of domains) d.registerHttp?.(api);
  app.use(api);
  if (config.DEMO_DIR) app.use(demoStatic(config.DEMO_DIR, log));
  app.use(notFoundRoute);
  app.use(jsonErrors(log));

  const { url, port } = await listenAt(httpServer, config.PORT, config.HOST);
  log.info({ url }, 'live-commerce server listening');

  return {
    url,
    port,
    io,
    redis,
    tokens,
    domains,
    metricsUrl: metricsEndpoint.url,
    async close() {
      try {
        await drain.run(config.DRAIN_TIMEOUT_MS);
      } finally {
        // Last, so a draining node can still be scraped.
        await metricsEndpoint.close();
      }
    },
  };
}
