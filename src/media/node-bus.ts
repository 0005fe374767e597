/**
 * Requests and notes between media nodes over Redis pub/sub: each node subscribes to its own
 * channel `media:bus:<nodeId>` and answers there-sent requests on the asker's channel. PUBLISH
 * carries no key, so nothing here touches a hash slot (on a Redis Cluster classic pub/sub reaches
 * every shard). Messages from one node arrive in the order it sent them (one connection), which
 * the cascade relies on: a pipe's answer comes before any later note about that pipe.
 *
 * Every request has a deadline: an origin that died, stalled or never heard the request answers
 * MEDIA_ERROR after `timeoutMs`, never a hang. Everything received is validated (zod) before use;
 * a malformed message is logged and dropped.
 */
import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../protocol/index.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { RedisClient } from '../core/redis-client.js';

const channelOf = (nodeId: string) => `media:bus:${nodeId}`;
const TIMEOUT_MESSAGE = 'the node serving this video did not answer in time; try again';

/** The asked node did not answer in time (dead, stalled, or it never heard the request). */
export const isBusTimeout = (err: unknown): boolean => err instanceof AppError && err.code === 'MEDIA_ERROR' && err.message === TIMEOUT_MESSAGE;
const nodeIdSchema = z.string().min(1).max(200);

const message = z.discriminatedUnion('t', [
  z.object({ t: z.literal('req'), id: z.string().max(64), from: nodeIdSchema, method: z.string().max(64), params: z.unknown() }),
  z.object({
    t: z.literal('res'),
    id: z.string().max(64),
    ok: z.boolean(),
    result: z.unknown(),
    error: z.object({ code: z.enum(ERROR_CODES), message: z.string().max(500) }).optional(),
  }),
  z.object({ t: z.literal('note'), from: nodeIdSchema, name: z.string().max(64), params: z.unknown() }),
]);
type Message = z.infer<typeof message>;

type Handler = (params: unknown, from: string) => Promise<unknown> | unknown;

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
}

export class NodeBus {
  private readonly sub: RedisClient;
  private readonly handlers = new Map<string, Handler>();
  private readonly noteHandlers = new Map<string, Handler>();
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  constructor(
    private readonly redis: RedisClient,
    readonly nodeId: string,
    private readonly log: Logger,
  ) {
    // A connection in subscriber mode of its own, outside the shared client's circuit breaker:
    // it only listens.
    // A cluster client stops queueing once ready (redis-client.ts, failFast); its copy must queue
    // its SUBSCRIBE until it has the slot map.
    this.sub =
      redis instanceof Cluster
        ? redis.duplicate([], { ...redis.options, enableOfflineQueue: true })
        : (redis as Redis).duplicate({ commandTimeout: undefined });
    this.sub.on('error', (err: Error) => log.warn({ err: err.message }, 'redis (media bus) error'));
  }

  async start(): Promise<void> {
    this.sub.on('message', (_channel: string, raw: string) => this.receive(raw));
    await this.sub.subscribe(channelOf(this.nodeId));
  }

  /** Serve `method` for other nodes; what the handler throws goes back as its error. */
  handle(method: string, handler: Handler): void {
    this.handlers.set(method, handler);
  }

  onNote(name: string, handler: Handler): void {
    this.noteHandlers.set(name, handler);
  }

  /** Ask `node`; MEDIA_ERROR when it has not answered within `timeoutMs`. */
  request(node: string, method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new AppError('UNAVAILABLE', 'media is shutting down'));
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AppError('MEDIA_ERROR', TIMEOUT_MESSAGE));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.send(node, { t: 'req', id, from: this.nodeId, method, params }).catch((err: unknown) => {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(err);
      });
    });
  }

  /** Fire and forget. */
  notify(node: string, name: string, params: unknown): void {
    this.send(node, { t: 'note', from: this.nodeId, name, params }).catch((err: unknown) =>
      this.log.warn({ err, node, name }, 'media bus note not sent'),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new AppError('UNAVAILABLE', 'media is shutting down'));
      this.pending.delete(id);
    }
    this.sub.disconnect();
  }

  private async send(node: string, msg: Message): Promise<void> {
    await this.redis.publish(channelOf(node), JSON.stringify(msg));
  }

  private receive(raw: string): void {
    let msg: Message;
    try {
      msg = message.parse(JSON.parse(raw));
    } catch (err) {
      this.log.warn({ err }, 'media bus: malformed message dropped');
      return;
    }
    if (msg.t === 'res') {
      const p = this.pending.get(msg.id);
      if (!p) return; // timed out already
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new AppError(msg.error?.code ?? 'MEDIA_ERROR', msg.error?.message ?? 'the other node failed'));
      return;
    }
    if (msg.t === 'note') {
      const h = this.noteHandlers.get(msg.name);
      if (!h) return;
      Promise.resolve()
        .then(() => h(msg.params, msg.from))
        .catch((err: unknown) => this.log.warn({ err, name: msg.name }, 'media bus note failed'));
      return;
    }
    const h = this.handlers.get(msg.method);
    const from = msg.from;
    Promise.resolve()
      .then(() => {
        if (!h) throw new AppError('BAD_REQUEST', `unknown media bus method ${msg.method}`);
        return h(msg.params, from);
      })
      .then(
        (result) => this.send(from, { t: 'res', id: msg.id, ok: true, result: result ?? null }),
        (err: unknown) => {
          const error: { code: ErrorCode; message: string } =
            err instanceof AppError
              ? { code: err.code, message: err.message }
              : { code: 'MEDIA_ERROR', message: 'the node serving this video could not do it right now; try again' };
          if (!(err instanceof AppError)) this.log.warn({ err, method: msg.method }, 'media bus request failed');
          return this.send(from, { t: 'res', id: msg.id, ok: false, result: null, error });
        },
      )
      .catch((err: unknown) => this.log.warn({ err }, 'media bus answer not sent'));
  }
}
