/**
 * Configuration from environment variables, parsed by one zod schema at start-up. A bad value
 * stops the server with a message naming the variable.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A URL ioredis can connect to by host and port; anything else would fail only at first use. */
function usableRedisUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return false;
  if (!url.hostname) return false;
  if (url.port && (Number(url.port) < 1 || Number(url.port) > 65535)) return false;
  return url.pathname === '' || url.pathname === '/' || /^\/\d{1,2}$/.test(url.pathname);
}

export const configSchema = z.object({
  HOST: z.string().default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Unset: start an embedded redis-server (data under REDIS_DATA_DIR). */
  REDIS_URL: z.string().refine(usableRedisUrl, 'want redis://[user:password@]host[:port][/db] or rediss://… (unix socket paths are not supported)').optional(),
  /** `host:port,host:port,…`: seed nodes of a Redis Cluster (takes precedence over REDIS_URL). */
  REDIS_CLUSTER_NODES: z.string().regex(/^[^,:\s]+:\d+(,[^,:\s]+:\d+)*$/, 'want host:port,host:port,…').optional(),
  /** Every Redis command fails with UNAVAILABLE after this long: a stalled Redis is an error, not a hang. */
  REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(2000),
  REDIS_DATA_DIR: z.string().default('var/redis'),
  JWT_SECRET: z.string().min(16, 'must be at least 16 characters'),
  JWT_ISSUER: z.string().default('live-commerce'),
  /** Expected `aud` of tokens (and set on dev tokens); unset: not checked. */
  JWT_AUDIENCE: z.string().min(1).max(200).optional(),
  /** Tokens must carry `exp`, at most this many seconds after `iat`; sockets close when it passes. */
  TOKEN_MAX_LIFETIME_S: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(24 * 3600),
  /** Development token endpoint: mints tokens for anyone. Never enable in production. */
  DEV_TOKENS: bool.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Serve the built demo pages from this directory at `/` (empty: don't). */
  DEMO_DIR: z.string().default(''),
  CHAT_HISTORY_MAX: z.coerce.number().int().min(50).max(100_000).default(1000),
  CHAT_RATE_PER_10S: z.coerce.number().int().min(1).max(1000).default(10),
  HEART_RATE_PER_SEC: z.coerce.number().int().min(1).max(1000).default(20),
  /** How often every node sweeps expired flash-sale holds back to stock and notices sale ends. */
  SALE_SWEEP_MS: z.coerce.number().int().min(20).max(60_000).default(250),
  /** Flash sales counting down or open at once in one room; one more is refused (LIMIT_EXCEEDED). */
  SALE_MAX_RUNNING_PER_ROOM: z.coerce.number().int().min(1).max(10_000).default(20),
  /** People one sale's sold-out waitlist holds at most; one more join is WAITLIST_FULL. */
  WAITLIST_MAX: z.coerce.number().int().min(1).max(100_000).default(10_000),
  /** How long a waitlist offer (a unit offered to the waitlist's head) waits for its checkout. */
  WAITLIST_OFFER_SEC: z.coerce.number().int().min(1).max(3600).default(60),
  /**
   * Waitlist entries, from the head, told personally of every move (sale:waitlist-position); those
   * further back bound their place from the room's frame and are told on entering this window.
   */
  WAITLIST_POSITIONS_TOLD: z.coerce.number().int().min(1).max(100_000).default(500),
  /** Reserve attempts per user per sale per second. */
  SALE_RESERVE_RATE_PER_SEC: z.coerce.number().int().min(1).max(1000).default(10),
  /** Consumer group created on every room's orders stream for the merchant's order service. */
  SALE_ORDERS_GROUP: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/).default('merchant'),
  /** How long a buy-now reservation holds its units before they go back to stock. */
  BUY_NOW_HOLD_SEC: z.coerce.number().int().min(1).max(3600).default(120),
  /** POST every order (sale, buy-now, auction) here as JSON, signed with WEBHOOK_SECRET. Unset: no webhooks. */
  WEBHOOK_URL: z.string().url().refine((u) => /^https?:\/\//i.test(u), 'must be an http(s) URL').optional(),
  /** HMAC-SHA256 key of the webhook signature (required with WEBHOOK_URL). */
  WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').max(512).optional(),
  /** Consumer group the webhook deliverer reads every room's orders stream with (beside SALE_ORDERS_GROUP). */
  WEBHOOK_GROUP: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/).default('webhooks'),
  /** A delivery that has not answered 2xx within this long failed (and is retried). */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  /** Retry delays: BASE, 2×BASE, 4×BASE, … capped at MAX (each with up to 20% jitter). */
  WEBHOOK_BACKOFF_BASE_MS: z.coerce.number().int().min(10).max(600_000).default(1000),
  WEBHOOK_BACKOFF_MAX_MS: z.coerce.number().int().min(10).max(3600_000).default(5 * 60_000),
  /** An order pending this long (its node died or stalled) is taken over by another node (XAUTOCLAIM).
   * Must exceed WEBHOOK_BACKOFF_MAX_MS + WEBHOOK_TIMEOUT_MS: a live node retries more often than that. */
  WEBHOOK_CLAIM_IDLE_MS: z.coerce.number().int().min(100).max(24 * 3600_000).default(10 * 60_000),
  /** How often each node looks for new orders to deliver and for abandoned ones to take over. */
  WEBHOOK_POLL_MS: z.coerce.number().int().min(20).max(60_000).default(500),
  /** Deliveries one node has in flight at once. */
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(16),
  /** An order still failing this long after it was made is given up: taken off the retries and
   * listed for the host (GET /api/rooms/:roomId/webhooks/failed), who can redeliver it. 3 days. */
  WEBHOOK_GIVE_UP_AFTER_MS: z.coerce.number().int().min(1000).max(30 * 24 * 3600_000).default(3 * 24 * 3600_000),
  /** Bids per user per lot per second (auction:bid); more are RATE_LIMITED. */
  AUCTION_BID_RATE_PER_SEC: z.coerce.number().int().min(1).max(1000).default(5),
  /** Whether a muted user may still bid (muting is about chat); default: no (MUTED). */
  AUCTION_MUTED_MAY_BID: bool.default(false),
  /** Accepted bids one lot takes at most; one more is LIMIT_EXCEEDED. */
  AUCTION_MAX_BIDS_PER_LOT: z.coerce.number().int().min(10).max(10_000_000).default(100_000),
  /** How often every node looks for lots to close and winners' holds to settle. */
  AUCTION_CLOSE_TICK_MS: z.coerce.number().int().min(10).max(10_000).default(100),
  /** How often every node looks for giveaways past their deadline and races to draw them (one wins). */
  GIVEAWAY_SWEEP_MS: z.coerce.number().int().min(20).max(60_000).default(250),
  /** Giveaways one room may hold over its life; one more is refused (LIMIT_EXCEEDED). */
  GIVEAWAY_MAX_PER_ROOM: z.coerce.number().int().min(1).max(10_000).default(50),
  /** Entries of one giveaway; one more is refused (LIMIT_EXCEEDED). Also bounds the published list. */
  GIVEAWAY_MAX_ENTRIES: z.coerce.number().int().min(1).max(1_000_000).default(100_000),
  /** Vouchers open for claiming at once in one room; one more drop is refused (LIMIT_EXCEEDED). */
  VOUCHER_MAX_ACTIVE_PER_ROOM: z.coerce.number().int().min(1).max(1000).default(5),
  /** Vouchers one room may drop over its life; one more is refused (LIMIT_EXCEEDED). */
  VOUCHER_MAX_PER_ROOM: z.coerce.number().int().min(1).max(1000).default(100),
  /** Most vouchers one drop may offer (the protocol's own cap is 100,000). */
  VOUCHER_MAX_QUANTITY: z.coerce.number().int().min(1).max(100_000).default(100_000),
  /** voucher:claim + voucher:apply per user per room per second; more are RATE_LIMITED. */
  VOUCHER_ACTIONS_PER_SEC: z.coerce.number().int().min(1).max(1000).default(5),
  /** How long a giveaway winner's zero-price prize hold lasts (so they can claim it with their address
   * later); unclaimed, it expires like any hold and nobody else gets the prize. */
  GIVEAWAY_PRIZE_HOLD_SEC: z.coerce.number().int().min(10).max(7 * 24 * 3600).default(24 * 3600),
  /** Rooms one user hosts at once (scheduled or live); one more is refused (LIMIT_EXCEEDED). */
  ROOMS_PER_USER: z.coerce.number().int().min(1).max(100_000).default(10),
  /** A scheduled room whose start (or, unscheduled, its creation) is this long past is ended by a sweep. */
  ROOM_SCHEDULED_STALE_MS: z.coerce.number().int().min(1000).max(365 * 24 * 3600_000).default(24 * 3600_000),
  /** How often some node sweeps stale scheduled rooms (at most ROOM_SWEEP_BATCH per sweep). */
  ROOM_SWEEP_MS: z.coerce.number().int().min(100).max(3600_000).default(60_000),
  /** Products in one room's bag (also bounds the bag in the join snapshot). */
  ROOM_PRODUCTS_MAX: z.coerce.number().int().min(1).max(10_000).default(50),
  /** Moderators of one room. */
  ROOM_MODERATORS_MAX: z.coerce.number().int().min(1).max(10_000).default(20),
  /** Guest connections from one IP counted in a room's viewers (signed-in users count once each anyway). */
  GUESTS_PER_IP_COUNTED: z.coerce.number().int().min(1).max(10_000).default(3),
  /** Entries kept in the Socket.IO Streams adapter's stream (every broadcast is one entry). */
  ADAPTER_STREAM_MAXLEN: z.coerce.number().int().min(100).max(10_000_000).default(10_000),
  /** A node that dies stops being counted in presence within this long (it beats every fifth of it). */
  PRESENCE_HEARTBEAT_MS: z.coerce.number().int().min(500).max(600_000).default(5000),
  /** SIGTERM/SIGINT: the node drains and exits within this long whatever clients do (Docker's
   * stop grace period / Kubernetes' terminationGracePeriodSeconds must be longer). */
  DRAIN_TIMEOUT_MS: z.coerce.number().int().min(100).max(10 * 60_000).default(8000),
  /** Room micro-batching (docs/PROTOCOL.md, "Batched room events"): the longest a batchable room
   * event waits for its frame. The window between two frames of a room widens from a quarter of
   * this (idle event loop) to all of it (busy loop); 0 turns batching off. */
  BATCH_MAX_DELAY_MS: z.coerce.number().int().min(0).max(1000).default(50),
  /** A room's pending frame is flushed at once when it holds this many events. */
  BATCH_MAX_EVENTS: z.coerce.number().int().min(1).max(10_000).default(128),
  RECOVERY_WINDOW_MS: z.coerce.number().int().min(0).max(30 * 60_000).default(2 * 60_000),
  /** Video through mediasoup. Off: media events answer UNKNOWN_EVENT and no worker is started. */
  MEDIA_ENABLED: bool.default(true),
  /** mediasoup worker processes (each uses at most one core). */
  MEDIA_WORKERS: z.coerce.number().int().min(1).max(64).default(availableParallelism()),
  /** Address the media sockets bind to (0.0.0.0 in containers). */
  MEDIA_LISTEN_IP: z.union([z.ipv4(), z.ipv6()]).default('127.0.0.1'),
  /** Address or hostname announced to peers in ICE candidates and ingest answers (NAT, cloud). */
  MEDIA_ANNOUNCED_ADDRESS: z.string().max(253).optional(),
  /** Worker i's WebRtcServer takes UDP and TCP port BASE+i; 0 picks free ports from the RTC range. */
  MEDIA_PORT_BASE: z.coerce.number().int().min(0).max(65535).default(40000),
  /** Ports for RTP ingest (PlainTransports), and for WebRtcServers when MEDIA_PORT_BASE=0. */
  MEDIA_RTC_MIN_PORT: z.coerce.number().int().min(1024).max(65535).default(40100),
  MEDIA_RTC_MAX_PORT: z.coerce.number().int().min(1024).max(65535).default(40999),
  /** RTP ingests one user runs at once on one node (each holds 2-4 UDP ports of the RTC range). */
  MEDIA_INGESTS_PER_USER: z.coerce.number().int().min(1).max(1000).default(2),
  /** Pipes between nodes (origin → edge cascade): the address pipe transports bind to (default:
   * MEDIA_LISTEN_IP), the address other nodes reach them at (default: the bind address, or for a
   * wildcard bind MEDIA_ANNOUNCED_ADDRESS, else this host's first non-internal address; in a cloud,
   * its private network address), and their UDP port range. */
  MEDIA_PIPE_LISTEN_IP: z.union([z.ipv4(), z.ipv6()]).optional(),
  MEDIA_PIPE_ANNOUNCED_ADDRESS: z.string().max(253).optional(),
  MEDIA_PIPE_MIN_PORT: z.coerce.number().int().min(1024).max(65535).default(41000),
  MEDIA_PIPE_MAX_PORT: z.coerce.number().int().min(1024).max(65535).default(41999),
  /** A node asked to pipe a producer (or to pause/resume/close it for a host on another node) that
   * does not answer within this long: MEDIA_ERROR. */
  MEDIA_PIPE_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3000),
  /** A media node without a heartbeat for this long is dead: edges reset its rooms' viewers. */
  MEDIA_NODE_DEAD_MS: z.coerce.number().int().min(200).max(60_000).default(2000),
  /** A pipe with no RTP for this long while its producer is not paused is reported stalled. */
  MEDIA_PIPE_STALL_MS: z.coerce.number().int().min(500).max(600_000).default(4000),
  /** Consumers per router before a room's producers are piped to a router on another worker. */
  MEDIA_CONSUMERS_PER_ROUTER: z.coerce.number().int().min(1).max(100_000).default(400),
  // Hostile-client limits (docs/PROTOCOL.md, "Limits"). 0 turns a limit off.
  /** Requests one socket may have unanswered at once; more are refused with RATE_LIMITED. */
  SOCKET_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(10_000).default(16),
  /** Per-socket event rate (token bucket): sustained events per second and the burst on top. */
  SOCKET_EVENTS_PER_SEC: z.coerce.number().min(0.1).max(100_000).default(30),
  SOCKET_EVENT_BURST: z.coerce.number().int().min(1).max(100_000).default(60),
  /** room:join per minute, per signed-in user and per client IP (cluster-wide, in Redis). */
  ROOM_JOIN_PER_MIN_USER: z.coerce.number().int().min(0).max(1_000_000).default(60),
  ROOM_JOIN_PER_MIN_IP: z.coerce.number().int().min(0).max(1_000_000).default(600),
  /** History reads (chat:history, pin:history, mod:audit, media signalling) per minute, per user and per IP. */
  READS_PER_MIN_USER: z.coerce.number().int().min(0).max(1_000_000).default(240),
  READS_PER_MIN_IP: z.coerce.number().int().min(0).max(1_000_000).default(2400),
  /** HTTP API requests (every /api route, ingest included) per minute, per signed-in user and per client IP. */
  HTTP_PER_MIN_USER: z.coerce.number().int().min(0).max(1_000_000).default(300),
  HTTP_PER_MIN_IP: z.coerce.number().int().min(0).max(1_000_000).default(3000),
  /** Open sockets per node, per signed-in user and per client IP (NATs put many viewers behind one IP). */
  MAX_CONNECTIONS_PER_USER: z.coerce.number().int().min(0).max(1_000_000).default(20),
  MAX_CONNECTIONS_PER_IP: z.coerce.number().int().min(0).max(1_000_000).default(1000),
  /** Browser origins (`https://shop.example`, comma-separated) allowed besides this server's own. */
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s,]+$/, 'want origins like https://shop.example (scheme://host[:port]), comma-separated'))),
  /** Behind N reverse proxies: the client IP is the Nth address from the right of X-Forwarded-For. */
  TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  /** Bearer token for GET /metrics and /admin/*. With neither this nor METRICS_PORT, they are not served. */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').max(512).optional(),
  /** Serve /metrics and /admin/* on this port (on METRICS_HOST) instead of the public one; 0 picks a free port. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z.string().default('127.0.0.1'),
});

export type Config = z.infer<typeof configSchema>;

/** Cross-field rules a field schema cannot express. */
function checkConfig(c: Config): string[] {
  const problems: string[] = [];
  if (c.MEDIA_RTC_MIN_PORT > c.MEDIA_RTC_MAX_PORT) problems.push('  MEDIA_RTC_MIN_PORT: must not exceed MEDIA_RTC_MAX_PORT');
  if (c.MEDIA_PIPE_MIN_PORT > c.MEDIA_PIPE_MAX_PORT) problems.push('  MEDIA_PIPE_MIN_PORT: must not exceed MEDIA_PIPE_MAX_PORT');
  if (c.MEDIA_PORT_BASE > 0 && c.MEDIA_PORT_BASE + c.MEDIA_WORKERS - 1 > 65535) {
    problems.push('  MEDIA_PORT_BASE: MEDIA_PORT_BASE + MEDIA_WORKERS - 1 exceeds 65535');
  }
  if (c.WEBHOOK_URL && !c.WEBHOOK_SECRET) problems.push('  WEBHOOK_SECRET: required with WEBHOOK_URL (deliveries are signed)');
  if (c.WEBHOOK_BACKOFF_BASE_MS > c.WEBHOOK_BACKOFF_MAX_MS) problems.push('  WEBHOOK_BACKOFF_BASE_MS: must not exceed WEBHOOK_BACKOFF_MAX_MS');
  if (c.WEBHOOK_CLAIM_IDLE_MS <= c.WEBHOOK_BACKOFF_MAX_MS + c.WEBHOOK_TIMEOUT_MS) {
    problems.push('  WEBHOOK_CLAIM_IDLE_MS: must exceed WEBHOOK_BACKOFF_MAX_MS + WEBHOOK_TIMEOUT_MS (or live nodes lose their retries to each other)');
  }
  return problems;
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof Config, string>> = {}): Config {
  const source: Record<string, string | undefined> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const v = overrides[key as keyof Config] ?? env[key];
    if (v !== undefined && v !== '') source[key] = v;
  }
  const parsed = configSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const problems = checkConfig(parsed.data);
  if (problems.length) throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
  return parsed.data;
}
