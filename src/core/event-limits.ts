/**
 * The router's limits (EventGuard). Two layers, cheapest first:
 * - per socket, in memory, on every frame: at most SOCKET_MAX_IN_FLIGHT unanswered requests and a
 *   token bucket of SOCKET_EVENTS_PER_SEC (burst SOCKET_EVENT_BURST). A socket firing 20,000 joins
 *   without waiting costs a refusal ack each, not 20,000 Redis round trips;
 * - per user and per client IP, cluster-wide in Redis, on costly events (joins build a snapshot;
 *   history and audit reads scan streams; media signalling allocates transports).
 * Every refusal is RATE_LIMITED with `retryAfterMs`.
 */
import type { ClientEventName } from '../protocol/index.js';
import type { Config } from '../config.js';
import { rateLimited } from './errors.js';
import type { RedisClient } from './redis-client.js';
import type { EventGuard, LiveSocket } from './socket-kit.js';
import { TokenBucket } from './token-bucket.js';

type Group = 'join' | 'reads';

/** Events with a shared (Redis) limit, by group. */
export const LIMITED_EVENTS: Partial<Record<ClientEventName, Group>> = {
  'room:join': 'join',
  'chat:history': 'reads',
  'pin:history': 'reads',
  'mod:audit': 'reads',
  'auction:bids': 'reads',
  // Not a read, but a write anyone signed in may repeat: the shared per-user/IP window caps it.
  'sale:waitlist': 'reads',
  'buy:waitlist': 'reads',
  'media:create-transport': 'reads',
  'media:consume': 'reads',
};

// KEYS[1] the window's counter; ARGV window ms, max. Returns 0 (allowed) or the ms left in the window.
// Also the HTTP limits' script (http-rate-limit.ts).
export const WINDOW_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
  return ttl
end
return 0
`;

interface WindowCommands {
  rateWindow(key: string, windowMs: number, max: number): Promise<number>;
}

/** One socket's limits. `release` is made once per socket, not per event. */
class SocketState {
  inFlight = 0;
  readonly release = () => {
    this.inFlight--;
  };

  constructor(readonly bucket: TokenBucket) {}
}

type LimitConfig = Pick<
  Config,
  | 'SOCKET_MAX_IN_FLIGHT'
  | 'SOCKET_EVENTS_PER_SEC'
  | 'SOCKET_EVENT_BURST'
  | 'ROOM_JOIN_PER_MIN_USER'
  | 'ROOM_JOIN_PER_MIN_IP'
  | 'READS_PER_MIN_USER'
  | 'READS_PER_MIN_IP'
>;

export class EventLimits implements EventGuard {
  private readonly sockets = new WeakMap<LiveSocket, SocketState>();
  private readonly cmd: WindowCommands;
  private readonly perMin: Record<Group, { user: number; ip: number }>;

  constructor(
    redis: RedisClient,
    private readonly config: LimitConfig,
    /** The client IP of a socket (src/core/client-ip.ts, proxy-aware). */
    private readonly ipOf: (socket: LiveSocket) => string,
  ) {
    redis.defineCommand('rateWindow', { numberOfKeys: 1, lua: WINDOW_LUA });
    this.cmd = redis as unknown as WindowCommands;
    this.perMin = {
      join: { user: config.ROOM_JOIN_PER_MIN_USER, ip: config.ROOM_JOIN_PER_MIN_IP },
      reads: { user: config.READS_PER_MIN_USER, ip: config.READS_PER_MIN_IP },
    };
  }

  enter(socket: LiveSocket): () => void {
    let state = this.sockets.get(socket);
    if (!state) {
      state = new SocketState(new TokenBucket(this.config.SOCKET_EVENT_BURST, this.config.SOCKET_EVENTS_PER_SEC));
      this.sockets.set(socket, state);
    }
    const wait = state.bucket.take();
    if (wait > 0) throw rateLimited(`more than ${this.config.SOCKET_EVENTS_PER_SEC} events per second on this connection`, wait);
    if (state.inFlight >= this.config.SOCKET_MAX_IN_FLIGHT) {
      // No timer says when one finishes; a bucket's interval is a fair guess for a retry.
      throw rateLimited(`more than ${this.config.SOCKET_MAX_IN_FLIGHT} requests waiting for an answer`, Math.ceil(1000 / this.config.SOCKET_EVENTS_PER_SEC));
    }
    state.inFlight++;
    return state.release;
  }

  check(socket: LiveSocket, event: ClientEventName): Promise<void> | null {
    const group = LIMITED_EVENTS[event];
    return group ? this.checkShared(socket, group) : null;
  }

  private async checkShared(socket: LiveSocket, group: Group): Promise<void> {
    const { user, ip } = this.perMin[group];
    const userId = socket.data.user?.id;
    const [byUser, byIp] = await Promise.all([
      userId && user > 0 ? this.cmd.rateWindow(`rl:{user:${userId}}:${group}`, 60_000, user) : 0,
      ip > 0 ? this.cmd.rateWindow(`rl:{ip:${this.ipOf(socket)}}:${group}`, 60_000, ip) : 0,
    ]);
    if (byUser > 0) throw rateLimited(`more than ${user} ${describe(group)} per minute for this user`, byUser);
    if (byIp > 0) throw rateLimited(`more than ${ip} ${describe(group)} per minute from this address`, byIp);
  }
}

const describe = (group: Group) => (group === 'join' ? 'room joins' : 'history, audit or media requests');
