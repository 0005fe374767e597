/**
 * Fail fast on a stalled Redis, and no late effects when it wakes.
 *
 * A stalled Redis (process frozen, VM paused, swap storm) keeps its TCP connection open and simply
 * stops answering. The command timeout (redis-client.ts) turns each command into an error after it,
 * but the command stays written on the socket: when Redis wakes it runs, after the client was told
 * UNAVAILABLE. Two things keep that from doing harm:
 *
 * - A circuit breaker. The first timeout opens it; from then on every command fails at once
 *   (UNAVAILABLE) instead of being queued behind the stall, so a 25 s stall under a crowd does not
 *   pile up thousands of commands that would all run on wake. One probe (TIME) at a time goes
 *   through; the first answer closes the breaker, which is as soon as Redis has worked through the
 *   backlog.
 * - Deadlines. Scripts whose effect must not land late (chat append, hearts, engagement) get
 *   `deadline()`: a time on Redis's clock after which they do nothing and answer LATE. The deadline
 *   falls a little before the client-side timeout, so a command that ran in time is normally
 *   answered in time; what remains are the few commands Redis had executed when it froze but not
 *   yet answered ("taps in flight at the stall").
 *
 * One guard is shared by every connection to the same Redis (the state client and the reserve
 * batcher's connection), so a stall seen by one fails them all.
 */
import { Command } from 'ioredis';
import type { Logger } from './logger.js';
import type { RedisClient } from './redis-client.js';

/** Matched by isRedisUnavailable (errors.ts): the client gets UNAVAILABLE. */
export const CIRCUIT_OPEN_MESSAGE = 'Redis circuit open: a command timed out, waiting for Redis to answer again';
const TIMEOUT_MESSAGE = 'Command timed out';

/** Thousands of these per second in a stall under a crowd: built without a stack trace, as
 * AppError is (errors.ts), since capturing one each time is measurable and tells nothing. */
function circuitOpenError(): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const err = new Error(CIRCUIT_OPEN_MESSAGE);
  Error.stackTraceLimit = limit;
  return err;
}

const GUARD = Symbol('redisGuard');
const BYPASS = Symbol('bypassGuard');

type Sendable = { sendCommand(command: Command, ...rest: unknown[]): Promise<unknown>; status: string };
type Guarded = RedisClient & { [GUARD]?: RedisGuard };

export class RedisGuard {
  private openedAt: number | null = null;
  private probing = false;
  private closed = false;
  /** Redis clock minus this process's clock, in ms (measured with TIME; 0 until measured). */
  private offsetMs = 0;

  constructor(
    readonly timeoutMs: number,
    private readonly log?: Logger,
  ) {}

  /** True while commands fail fast (a timeout was seen and no probe has been answered since). */
  get isOpen(): boolean {
    return this.openedAt !== null;
  }

  /**
   * Redis-clock ms after which a write sent now must not take effect. A quarter of the timeout
   * (at most 250 ms) earlier than the client gives up, so an answer still has time to arrive.
   */
  deadline(now = Date.now()): number {
    return Math.round(now + this.offsetMs + this.timeoutMs - Math.min(250, this.timeoutMs / 4));
  }

  /** Route every command of `client` through this guard (also its duplicates, see duplicateClient). */
  protect<C extends RedisClient>(client: C): C {
    const target = client as unknown as Sendable & { [GUARD]?: RedisGuard };
    if (target[GUARD]) return client;
    target[GUARD] = this;
    const send = target.sendCommand.bind(target);
    target.sendCommand = (command: Command, ...rest: unknown[]) => {
      // Only a ready connection is refused: the handshake of a reconnecting one must get through.
      if (this.openedAt !== null && target.status === 'ready' && !(command as Command & { [BYPASS]?: true })[BYPASS]) {
        command.reject(circuitOpenError());
        return command.promise;
      }
      const reply = send(command, ...rest);
      reply.catch((err: unknown) => {
        if (err instanceof Error && err.message === TIMEOUT_MESSAGE) this.trip(client);
      });
      return reply;
    };
    return client;
  }

  /** Measure the Redis clock against ours, so deadlines are on Redis's clock. */
  async calibrate(client: RedisClient): Promise<void> {
    const sent = Date.now();
    const [s, us] = (await this.sendBypassing(client, 'time')) as [string, string];
    const received = Date.now();
    this.offsetMs = Number(s) * 1000 + Math.floor(Number(us) / 1000) - Math.round((sent + received) / 2);
  }

  /** Does Redis answer within `ms`? Never waits longer, whatever Redis does. */
  async ready(client: RedisClient, ms: number): Promise<boolean> {
    if (this.isOpen) return false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((ok) => (timer = setTimeout(() => ok(false), ms)));
    const ping = client.ping().then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([ping, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.closed = true;
  }

  private trip(client: RedisClient): void {
    if (this.closed) return;
    if (this.openedAt === null) {
      this.openedAt = Date.now();
      this.log?.warn({ timeoutMs: this.timeoutMs }, 'redis command timed out: failing fast until Redis answers again');
    }
    void this.probe(client);
  }

  /** One probe at a time until Redis answers; the answer also refreshes the clock offset. */
  private async probe(client: RedisClient): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      while (this.openedAt !== null && !this.closed) {
        try {
          await this.calibrate(client);
          this.log?.info({ stalledMs: Date.now() - this.openedAt }, 'redis answers again');
          this.openedAt = null;
        } catch (err) {
          // A timeout already waited timeoutMs; a refused or closed connection fails at once, so
          // pace those (the connection is reconnecting meanwhile).
          if (!(err instanceof Error && err.message === TIMEOUT_MESSAGE)) {
            await new Promise((ok) => setTimeout(ok, Math.min(250, this.timeoutMs)).unref());
          }
        }
      }
    } finally {
      this.probing = false;
    }
  }

  private sendBypassing(client: RedisClient, name: string, args: string[] = []): Promise<unknown> {
    const command = new Command(name, args, { replyEncoding: 'utf8' }) as Command & { [BYPASS]?: true };
    command[BYPASS] = true;
    return (client as unknown as Sendable).sendCommand(command);
  }
}

const commandTimeouts = new WeakMap<object, number>();
/** The command timeout a client was made with (redis-client.ts arms it per command, not ioredis). */
export function recordCommandTimeout(client: object, ms: number): void {
  commandTimeouts.set(client, ms);
}
export function commandTimeoutOf(client: object): number | undefined {
  const options = (client as { options?: { commandTimeout?: number; redisOptions?: { commandTimeout?: number } } }).options;
  return commandTimeouts.get(client) ?? options?.commandTimeout ?? options?.redisOptions?.commandTimeout;
}

/** The guard protecting `client`, if any. */
export function guardOf(client: RedisClient): RedisGuard | undefined {
  return (client as Guarded)[GUARD];
}

/**
 * The deadline for a write that must not land late: from the client's guard, or — for a bare
 * client (tools, tests) — its own command timeout, or none (a day away).
 */
export function writeDeadline(client: RedisClient, now = Date.now()): number {
  const guard = guardOf(client);
  if (guard) return guard.deadline(now);
  return now + (commandTimeoutOf(client) ?? 86_400_000);
}

/**
 * Lua fragment: `deadline` (ms, Redis clock) is a local; answers LATE, having done nothing, once
 * Redis's clock is past it — the sender has been told UNAVAILABLE by then.
 */
export const DEADLINE_LUA = `
local dlNow = redis.call('TIME')
if tonumber(dlNow[1]) * 1000 + math.floor(tonumber(dlNow[2]) / 1000) > deadline then return {'ERR', 'LATE'} end
`;
