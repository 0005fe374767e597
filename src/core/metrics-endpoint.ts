/**
 * GET /metrics (Prometheus) and GET /admin/rooms/top, never public by default: they are served
 * only when METRICS_TOKEN is set (then behind `Authorization: Bearer <token>`) or METRICS_PORT is
 * set (then on that port only, on METRICS_HOST, behind the token too if one is set). The metrics
 * tell an outsider the node's versions, load and traffic, so they are for operators alone.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { Config } from '../config.js';
import { listenAt } from './http-kit.js';
import type { Logger } from './logger.js';
import type { LiveServer } from './socket-kit.js';

export interface MetricsEndpoint {
  /** Where the separate metrics port listens (METRICS_PORT), if it does. */
  url: string | null;
  close(): Promise<void>;
}

/** Are /metrics and /admin served at all? */
export const metricsServed = (config: Config): boolean => config.METRICS_TOKEN !== undefined || config.METRICS_PORT !== undefined;

const digest = (s: string) => createHash('sha256').update(s).digest();

function requireToken(token: string) {
  const want = digest(token);
  return (req: Request, res: Response, next: NextFunction) => {
    const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (match?.[1] && timingSafeEqual(digest(match[1]), want)) return next();
    res.setHeader('WWW-Authenticate', 'Bearer');
    res.status(401).json({ error: { code: 'UNAUTHORIZED', message: 'metrics need Authorization: Bearer <METRICS_TOKEN>' } });
  };
}

const topQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(10) });

/** This node's rooms by its own connections in them: per-room detail kept out of /metrics. */
export function topRooms(io: LiveServer, limit: number): { roomId: string; connections: number }[] {
  const counts = new Map<string, number>();
  for (const socket of io.of('/').sockets.values()) {
    const roomId = socket.data.roomId;
    if (roomId) counts.set(roomId, (counts.get(roomId) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([roomId, connections]) => ({ roomId, connections }));
}

function operatorRoutes(config: Config, registry: Registry, io: LiveServer): express.Router {
  const router = express.Router();
  if (config.METRICS_TOKEN) router.use(['/metrics', '/admin'], requireToken(config.METRICS_TOKEN));
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  router.get('/admin/rooms/top', (req, res) => {
    const q = topQuery.safeParse(req.query);
    if (!q.success) {
      res.status(400).json({ error: { code: 'BAD_REQUEST', message: 'limit: 1..100' } });
      return;
    }
    res.json({ rooms: topRooms(io, q.data.limit) });
  });
  return router;
}

/** Mounts the operator routes on `app`, or on their own port; or nowhere (see the file comment). */
export async function mountMetrics(config: Config, app: Express, registry: Registry, io: LiveServer, log: Logger): Promise<MetricsEndpoint> {
  if (!metricsServed(config)) {
    log.info('metrics not served: set METRICS_TOKEN or METRICS_PORT');
    return { url: null, close: async () => undefined };
  }
  if (config.METRICS_PORT === undefined) {
    app.use(operatorRoutes(config, registry, io));
    return { url: null, close: async () => undefined };
  }
  const metricsApp = express();
  metricsApp.disable('x-powered-by');
  metricsApp.use(operatorRoutes(config, registry, io));
  const server = createServer(metricsApp);
  const { url } = await listenAt(server, config.METRICS_PORT, config.METRICS_HOST);
  log.info({ url }, 'metrics listening');
  return {
    url,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
