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
import { InFlight } from './in-flight.js';
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
  /** After validation, before the handler: limits shared across nodes for costly events. */
  check(socket: LiveSocket, event: ClientEventName): Promise<void>;
}

/** Events whose order per socket matters (see EventRouter.inOrder). */
const ORDERED_EVENTS: ReadonlySet<string> = new Set<ClientEventName>(['room:join', 'room:leave']);

/** Refusals are routine and a hostile client can provoke them at will: log a few, not all.
 * Refused privileged actions (FORBIDDEN, UNAUTHORIZED, BANNED) get their own line with the room
 * (observed-router.ts), so they are not logged here as well. */
const QUIET_CODES = new Set(['BAD_REQUEST', 'UNKNOWN_EVENT', 'PAYLOAD_TOO_LARGE', 'RATE_LIMITED']);

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
    // Raw frames need not have a string name, or any name: `420` arrives as just the ack
    // function, `42[1]` as a number. So the ack is taken from the end, whatever precedes it.
    socket.onAny((...args: unknown[]) => {
      const last = args[args.length - 1];
      const ack = typeof last === 'function' ? (last as (res: Ack<unknown>) => void) : undefined;
      const [event, payload] = ack ? args.slice(0, -1) : args;
      void this.inFlight.run(() => this.dispatch(socket, event, payload), DRAINING_ACK).then((res) => ack?.(res));
    });
  }

  /** Membership events of one socket run one after another in the order they arrived: the
   * shared limit check before a join awaits Redis, and a leave sent right after must not
   * overtake it. */
  private inOrder<T>(socket: LiveSocket, run: () => Promise<T>): Promise<T> {
    const prev = this.orderedTail.get(socket) ?? Promise.resolve();
    const next = prev.then(run, run);
    this.orderedTail.set(socket, next.catch(() => undefined));
    return next;
  }

  /** Validate and run one event; always resolves to an ack body. */
  async dispatch(socket: LiveSocket, event: unknown, payload: unknown): Promise<Ack<unknown>> {
    let release: (() => void) | undefined;
    try {
      release = this.guard?.enter(socket);
      if (typeof event !== 'string') throw new AppError('UNKNOWN_EVENT', 'event name must be a string');
      if (!isClientEvent(event)) throw new AppError('UNKNOWN_EVENT', `unknown event "${event.slice(0, 64)}"`);
      const handler = this.handlers.get(event);
      if (!handler) throw new AppError('UNKNOWN_EVENT', `event "${event}" is not enabled on this server`);
      if (payload !== undefined && jsonSize(payload) > MAX_EVENT_PAYLOAD_BYTES) {
        throw new AppError('PAYLOAD_TOO_LARGE', `payload larger than ${MAX_EVENT_PAYLOAD_BYTES} bytes`);
      }
      const parsed = clientEventSchemas[event].safeParse(payload);
      if (!parsed.success) throw new AppError('BAD_REQUEST', formatZodError(parsed.error));
      const run = async () => {
        await this.guard?.check(socket, event);
        return handler(socket, parsed.data as ParsedPayload<ClientEventName>);
      };
      const data = ORDERED_EVENTS.has(event) ? await this.inOrder(socket, run) : await run();
      return { ok: true, data };
    } catch (err) {
      const body = toErrorBody(err);
      const name = typeof event === 'string' ? event.slice(0, 64) : typeof event;
      if (body.code === 'INTERNAL') this.failures.error({ err, event: name, ...socketFields(socket) }, 'socket handler failed');
      else if (QUIET_CODES.has(body.code)) {
        this.refusals.info({ event: name, code: body.code, ...socketFields(socket) }, 'socket event refused');
      }
      return { ok: false, error: body };
    } finally {
      release?.();
    }
  }
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
  if (!roomId || !socket.rooms.has(`room:${roomId}`)) throw new AppError('NOT_IN_ROOM', 'join a room first');
  return roomId;
}

export function requireUser(socket: LiveSocket, action: string) {
  const user = socket.data.user;
  if (!user) throw new AppError('UNAUTHORIZED', `sign in to ${action}`);
  return user;
}
