/**
 * The one boundary where socket events enter: every event is looked up, its payload validated by
 * the protocol's zod schema, the handler run, and the outcome acked as `{ ok, data | error }`.
 * Handlers never see unvalidated input and never have to catch their own errors.
 */
import type { Server, Socket } from 'socket.io';
import { z } from 'zod';
import {
  clientEventSchemas,
  isClientEvent,
  type Ack,
  type ClientEventName,
  type ClientEventResults,
  type ClientToServerEvents,
  type ParsedPayload,
  type Room,
  type ServerToClientEvents,
  type SocketData,
} from '../protocol/index.js';
import { AppError, toErrorBody } from './errors.js';
import { compileFastParsers } from './fast-parse.js';
import { InFlight } from './in-flight.js';
import { roomChannel } from './keys.js';
import { LogBudget } from './log-budget.js';
import type { Logger } from './logger.js';
import { socketFields } from './request-context.js';

/** Messages between server nodes (io.serverSideEmit), carried by the Redis adapter. */
export interface InterServerEvents {
  /** `room`: the ended room, told to each evicted socket before it is removed. */
  evict: (msg: { roomId: string; userId: string | null; reason: 'banned' | 'ended'; room?: Room }) => void;
  /** A moderator was appointed or removed: each node re-derives the role of that user's
   * connections in the room from the room record and tells them (`room:role`). */
  role: (msg: { roomId: string; userId: string }) => void;
}

export type LiveServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type LiveSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export type EventHandler<E extends ClientEventName> = (
  socket: LiveSocket,
  payload: ParsedPayload<E>,
) => Promise<ClientEventResults[E]>;

/** Payloads above this many bytes of JSON are refused before validation. */
export const MAX_EVENT_PAYLOAD_BYTES = 8 * 1024;

/** The answer to an event that reaches a draining node: retry once reconnected (to another node). */
export const DRAINING_ACK: Ack<never> = {
  ok: false,
  error: { code: 'UNAVAILABLE', message: 'this server is restarting: retry once reconnected' },
};

export function formatZodError(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid payload';
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  return `${where}${issue.message}`;
}

/** Limits applied by the router (src/core/event-limits.ts); throw an AppError to refuse. */
export interface EventGuard {
  /** Before anything else, for every frame: per-socket caps. Returns the release for when it is answered. */
  enter(socket: LiveSocket): () => void;
  /** After validation, before the handler: limits shared across nodes for costly events.
   * Null when the event has none (most events: no promise to wait for). */
  check(socket: LiveSocket, event: ClientEventName): Promise<void> | null;
}

/** Events whose order per socket matters (see EventRouter.inOrder). */
const ORDERED_EVENTS: ReadonlySet<string> = new Set<ClientEventName>(['room:join', 'room:leave']);

/** Refusals are routine and a hostile client can provoke them at will: log a few, not all.
 * Refused privileged actions (FORBIDDEN, UNAUTHORIZED, BANNED) get their own line with the room
 * (observed-router.ts), so they are not logged here as well. */
const QUIET_CODES = new Set(['BAD_REQUEST', 'UNKNOWN_EVENT', 'PAYLOAD_TOO_LARGE', 'RATE_LIMITED']);

/** zod's fast path for the simple payloads of hot events (fast-parse.ts); zod decides the rest. */
const FAST_PARSERS = compileFastParsers(clientEventSchemas);

type AckFn = (res: Ack<unknown>) => void;

/**
 * The router. Every event costs the same few steps — limits, lookup, size, validation, handler,
 * ack — and a rush sends thousands a second, so the path is written to allocate little: one
 * promise chain per event (the handler's), no wrapper promises or closures per step, a payload's
 * size bounded without serialising it when it is obviously small, and validation through the
 * precompiled fast path when the payload is a simple valid one.
 */
export class EventRouter {
  private readonly handlers = new Map<string, EventHandler<ClientEventName>>();
  private readonly orderedTail = new WeakMap<LiveSocket, Promise<unknown>>();
  private readonly refusals: LogBudget;
  private readonly failures: LogBudget;
  /** Handlers running now; a draining node refuses new ones and waits for these (core/drain.ts). */
  readonly inFlight = new InFlight();

  constructor(
    log: Logger,
    private readonly guard?: EventGuard,
  ) {
    this.refusals = new LogBudget(log, 10);
    this.failures = new LogBudget(log, 20);
  }

  on<E extends ClientEventName>(event: E, handler: EventHandler<E>): void {
    if (this.handlers.has(event)) throw new Error(`handler for ${event} registered twice`);
    this.handlers.set(event, handler as unknown as EventHandler<ClientEventName>);
  }

  /** Route every event of this socket through validation and acks. */
  attach(socket: LiveSocket): void {
    socket.onAny((...args: unknown[]) => this.receive(socket, args));
  }

  /** Raw frames need not have a string name, or any name: `420` arrives as just the ack
   * function, `42[1]` as a number. So the ack is taken from the end, whatever precedes it. */
  private receive(socket: LiveSocket, args: unknown[]): void {
    const n = args.length;
    const last = args[n - 1];
    const ack = typeof last === 'function' ? (last as AckFn) : undefined;
    const named = ack ? n - 1 : n;
    const event = named > 0 ? args[0] : undefined;
    const payload = named > 1 ? args[1] : undefined;
    if (!this.inFlight.begin()) {
      ack?.(DRAINING_ACK);
      return;
    }
    const started = performance.now();
    let release: (() => void) | undefined;
    let work: Promise<unknown>;
    try {
      release = this.guard?.enter(socket);
      work = this.start(socket, event, payload);
    } catch (err) {
      this.finish(socket, event, errorAck(err), started, release, ack, err);
      return;
    }
    work.then(
      (data) => this.finish(socket, event, { ok: true, data }, started, release, ack),
      (err: unknown) => this.finish(socket, event, errorAck(err), started, release, ack, err),
    );
  }

  /** Validates and starts the handler: throws for what is refused before it runs. */
  private start(socket: LiveSocket, event: unknown, payload: unknown): Promise<unknown> {
    if (typeof event !== 'string') throw new AppError('UNKNOWN_EVENT', 'event name must be a string');
    if (!isClientEvent(event)) throw new AppError('UNKNOWN_EVENT', `unknown event "${event.slice(0, 64)}"`);
    const handler = this.handlers.get(event);
    if (!handler) throw new AppError('UNKNOWN_EVENT', `event "${event}" is not enabled on this server`);
    if (payload !== undefined && !jsonFits(payload, MAX_EVENT_PAYLOAD_BYTES)) {
      throw new AppError('PAYLOAD_TOO_LARGE', `payload larger than ${MAX_EVENT_PAYLOAD_BYTES} bytes`);
    }
    let data = FAST_PARSERS[event]?.(payload);
    if (data === undefined) {
      const parsed = clientEventSchemas[event].safeParse(payload);
      if (!parsed.success) throw new AppError('BAD_REQUEST', formatZodError(parsed.error));
      data = parsed.data;
    }
    const input = data as ParsedPayload<ClientEventName>;
    const guard = this.guard;
    if (ORDERED_EVENTS.has(event)) {
      return this.inOrder(socket, async () => {
        await guard?.check(socket, event);
        return handler(socket, input);
      });
    }
    const limited = guard?.check(socket, event);
    return limited ? limited.then(() => handler(socket, input)) : handler(socket, input);
  }

  /** Acks, counts and logs one answered event. */
  private finish(
    socket: LiveSocket,
    event: unknown,
    res: Ack<unknown>,
    started: number,
    release: (() => void) | undefined,
    ack: AckFn | undefined,
    err?: unknown,
  ): void {
    release?.();
    this.inFlight.end();
    if (!res.ok) {
      const { code } = res.error;
      if (code === 'INTERNAL') this.failures.error({ err, event: nameOf(event), ...socketFields(socket) }, 'socket handler failed');
      else if (QUIET_CODES.has(code)) this.refusals.info({ event: nameOf(event), code, ...socketFields(socket) }, 'socket event refused');
    }
    this.answered(socket, event, res, started);
    ack?.(res);
  }

  /** Called with every answer, before it is sent (observed-router.ts counts them). */
  protected answered(_socket: LiveSocket, _event: unknown, _res: Ack<unknown>, _startedMs: number): void {}

  /** Membership events of one socket run one after another in the order they arrived: the
   * shared limit check before a join awaits Redis, and a leave sent right after must not
   * overtake it. */
  private inOrder<T>(socket: LiveSocket, run: () => Promise<T>): Promise<T> {
    const prev = this.orderedTail.get(socket) ?? Promise.resolve();
    const next = prev.then(run, run);
    this.orderedTail.set(socket, next.catch(() => undefined));
    return next;
  }
}

const nameOf = (event: unknown) => (typeof event === 'string' ? event.slice(0, 64) : typeof event);

/** The answer to a refused or failed event. An AppError keeps its answer (frozen), so a refusal
 * thrown again and again (the same SOLD_OUT for thousands of buyers) is built once. */
export function errorAck(err: unknown): Ack<never> {
  return err instanceof AppError ? err.ack() : { ok: false, error: toErrorBody(err) };
}

/** Does the payload's JSON fit in `limit` bytes? A bound from its shape answers for small plain
 * payloads (every tap of a rush) without serialising them; anything else is measured. */
export function jsonFits(value: unknown, limit: number): boolean {
  const bound = jsonBound(value, 0, 32);
  if (bound >= 0 && bound <= limit) return true;
  return jsonSize(value) <= limit;
}

/** An upper bound of the JSON's UTF-8 bytes, or -1 when the value is not a small plain one
 * (more than `budget` values, nested deeper than 2, or anything but strings, finite numbers,
 * booleans, null, arrays and plain objects). One UTF-16 unit is at most 6 bytes of JSON
 * (`\uXXXX`), a number at most 25 characters. */
function jsonBound(value: unknown, depth: number, budget: number): number {
  if (typeof value === 'string') return 6 * value.length + 2;
  if (typeof value === 'number') return 25;
  if (typeof value === 'boolean' || value === null) return 5;
  if (typeof value !== 'object' || depth >= 2) return -1;
  let total = 2;
  let count = 0;
  if (Array.isArray(value)) {
    for (const item of value) {
      if (++count > budget) return -1;
      const b = jsonBound(item, depth + 1, budget);
      if (b < 0) return -1;
      total += b + 1;
    }
    return total;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return -1;
  for (const key in value) {
    if (++count > budget) return -1;
    const b = jsonBound((value as Record<string, unknown>)[key], depth + 1, budget);
    if (b < 0) return -1;
    total += 6 * key.length + 3 + b + 1;
  }
  return total;
}

function jsonSize(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '');
  } catch {
    return Number.POSITIVE_INFINITY; // cyclic or otherwise unserialisable: refuse
  }
}

/** The joined room of this socket, or NOT_IN_ROOM. Membership is checked against the live
 * Socket.IO room too, so a user removed remotely (ban) cannot keep acting. */
export function joinedRoom(socket: LiveSocket): string {
  const roomId = socket.data.roomId;
  if (!roomId || !socket.rooms.has(channelOf(roomId))) throw new AppError('NOT_IN_ROOM', 'join a room first');
  return roomId;
}

/** `room:<id>` of the rooms sockets act in, kept: a string made per event would be hashed anew
 * for the lookup on every tap of a rush. */
const channels = new Map<string, string>();
function channelOf(roomId: string): string {
  let channel = channels.get(roomId);
  if (channel === undefined) {
    if (channels.size >= 10_000) channels.clear();
    channel = roomChannel(roomId);
    channels.set(roomId, channel);
  }
  return channel;
}

export function requireUser(socket: LiveSocket, action: string) {
  const user = socket.data.user;
  if (!user) throw new AppError('UNAUTHORIZED', `sign in to ${action}`);
  return user;
}
