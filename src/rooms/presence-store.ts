/**
 * Who is in a room, across all nodes, at O(1) per join, leave and count.
 *
 * Per room (all keys tagged `{room:<id>}`, so each script stays in one Cluster slot):
 *   presence:viewers      hash  userKey → connections of that user across nodes (HLEN = unique viewers)
 *   presence:staff        hash  the same for the host and moderators, counted apart
 *   presence:node:<node>  hash  `v<userKey>` / `s<userKey>` → this node incarnation's share
 *   presence:guest-extra  hash  `ip:<addr>` → how many of that address's guests count beyond the first
 *   stats                 hash  `peak` (raised atomically here), `viewers` (for room listings) and
 *                               `guestsExtra` (the sum of presence:guest-extra)
 * Guests (no account) are keyed by address, `ip:<addr>`, so a thousand guest sockets from one
 * machine are one field; an address counts as min(its guest connections, GUESTS_PER_IP_COUNTED)
 * viewers. Unique viewers = HLEN(viewers) + guestsExtra: still O(1). Each address's share of
 * guestsExtra is stored and recomputed from its count whenever that count changes, so it stays
 * exact in whatever order deltas land (and if nodes briefly disagree on the limit).
 * Every script changes a node hash and the room totals by the same amounts, so the totals are
 * always the sum of the node hashes; subtracting a dead node's hash (reap) leaves them exact.
 * A missing field means 0 and a field is deleted exactly when it reaches 0, so deltas commute:
 * the order in which a node's writes, its re-assertion and a reap land does not matter.
 *
 * Global keys (each only ever in single-key commands, never in a room's script):
 *   presence:nodes             zset  node incarnation → last heartbeat (Redis clock, ms)
 *   presence:node:<id>:rooms   set   rooms where that incarnation may hold a share (for reaping)
 *   presence:reap:<id>         lock  so one survivor reaps a dead node
 */
import type { RedisClient } from '../core/redis-client.js';
import type { PresenceCounts } from '../protocol/index.js';
import { roomKey, roomStatsKey } from '../core/keys.js';

/** A field of a node hash: kind prefix + userKey. */
export type PresenceField = `v${string}` | `s${string}`;

const KIND_OF_FIELD = `local h = (string.sub(f, 1, 1) == 's') and KEYS[2] or KEYS[1]
  local u = string.sub(f, 2)`;

// Runs after a guest address's connection count changed to `c`: keeps its share of guestsExtra
// (min(c, limit) - 1, never below 0) and the stats total in step. ARGV[1] is the limit.
const GUEST_EXTRA = `if string.sub(u, 1, 3) == 'ip:' then
    local e = math.max(0, math.min(c, tonumber(ARGV[1])) - 1)
    local was = tonumber(redis.call('HGET', KEYS[5], u) or '0')
    if e ~= was then
      if e == 0 then redis.call('HDEL', KEYS[5], u) else redis.call('HSET', KEYS[5], u, e) end
      redis.call('HINCRBY', KEYS[4], 'guestsExtra', e - was)
    end
  end`;

const VIEWERS = `(redis.call('HLEN', KEYS[1]) + tonumber(redis.call('HGET', KEYS[4], 'guestsExtra') or '0'))`;

const COUNTS_AND_PEAK = `
local v = ${VIEWERS}
local s = redis.call('HLEN', KEYS[2])
local peak = tonumber(redis.call('HGET', KEYS[4], 'peak') or '0')
if v > peak then peak = v; redis.call('HSET', KEYS[4], 'peak', v) end
redis.call('HSET', KEYS[4], 'viewers', v)
return {v, s, peak}`;

// KEYS: viewers, staff, node hash, stats, guest-extra. ARGV: guests per address counted, field, delta, field, delta, …
// Cost: O(number of fields passed): one for a join or leave, two for a role change.
const APPLY_SCRIPT = `
for i = 2, #ARGV, 2 do
  local f = ARGV[i]
  local d = tonumber(ARGV[i + 1])
  ${KIND_OF_FIELD}
  local c = redis.call('HINCRBY', h, u, d)
  if c == 0 then redis.call('HDEL', h, u) end
  ${GUEST_EXTRA}
  if redis.call('HINCRBY', KEYS[3], f, d) == 0 then redis.call('HDEL', KEYS[3], f) end
end
${COUNTS_AND_PEAK}`;

// KEYS: viewers, staff, node hash, stats, guest-extra. ARGV: guests per address counted, cursor, chunk size.
// Subtracts one chunk of a node's share from the totals and forgets it. Returns the next cursor.
const REAP_SCRIPT = `
local r = redis.call('HSCAN', KEYS[3], ARGV[2], 'COUNT', ARGV[3])
local kv = r[2]
for i = 1, #kv, 2 do
  local f = kv[i]
  local n = tonumber(kv[i + 1])
  ${KIND_OF_FIELD}
  local c = redis.call('HINCRBY', h, u, -n)
  if c == 0 then redis.call('HDEL', h, u) end
  ${GUEST_EXTRA}
  redis.call('HDEL', KEYS[3], f)
end
redis.call('HSET', KEYS[4], 'viewers', ${VIEWERS})
return r[1]`;

// Heartbeats use Redis's clock, so nodes with skewed clocks never reap each other.
const NOW_MS = `local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)`;
// KEYS: registry. ARGV: node. Registers a new incarnation.
const REGISTER_SCRIPT = `${NOW_MS}
redis.call('ZADD', KEYS[1], now, ARGV[1])
return 1`;
// KEYS: registry. ARGV: node. 0 when the node is no longer registered (reaped, or Redis lost its data).
const BEAT_SCRIPT = `${NOW_MS}
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[1])
return 1`;
// KEYS: registry. ARGV: ms without a heartbeat after which a node is dead.
const STALE_SCRIPT = `${NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[1])))`;

const REGISTRY = 'presence:nodes';
const nodeRoomsKey = (node: string) => `presence:node:${node}:rooms`;
const reapLockKey = (node: string) => `presence:reap:${node}`;
/** Fields per reap script call: bounds how long one call holds Redis. */
const REAP_CHUNK = 500;

// KEYS: viewers, staff, stats. One command for the three O(1) reads (a MULTI is four, each with
// the client's transaction machinery: count runs on every join and presence broadcast).
const COUNT_SCRIPT = `
local extra = redis.call('HMGET', KEYS[3], 'peak', 'guestsExtra')
return {redis.call('HLEN', KEYS[1]), redis.call('HLEN', KEYS[2]), tonumber(extra[1] or '0'), tonumber(extra[2] or '0')}`;

interface PresenceCommands {
  presenceApply(...keysThenArgs: (string | number)[]): Promise<[number, number, number]>;
  presenceCount(viewers: string, staff: string, stats: string): Promise<[number, number, number, number]>;
  presenceReap(...keysThenArgs: (string | number)[]): Promise<string>;
  presenceRegister(registry: string, node: string): Promise<number>;
  presenceBeat(registry: string, node: string): Promise<number>;
  presenceStale(registry: string, deadAfterMs: number): Promise<string[]>;
}

export class PresenceStore {
  private readonly cmd: PresenceCommands;

  /** `guestsPerIp`: guest connections from one address counted as viewers at most (GUESTS_PER_IP_COUNTED). */
  constructor(
    private readonly redis: RedisClient,
    private readonly guestsPerIp = 3,
  ) {
    redis.defineCommand('presenceApply', { numberOfKeys: 5, lua: APPLY_SCRIPT });
    redis.defineCommand('presenceCount', { numberOfKeys: 3, lua: COUNT_SCRIPT });
    redis.defineCommand('presenceReap', { numberOfKeys: 5, lua: REAP_SCRIPT });
    redis.defineCommand('presenceRegister', { numberOfKeys: 1, lua: REGISTER_SCRIPT });
    redis.defineCommand('presenceBeat', { numberOfKeys: 1, lua: BEAT_SCRIPT });
    redis.defineCommand('presenceStale', { numberOfKeys: 1, lua: STALE_SCRIPT });
    this.cmd = redis as unknown as PresenceCommands;
  }

  private keys(roomId: string, node: string): [string, string, string, string, string] {
    return [
      roomKey(roomId, 'presence:viewers'),
      roomKey(roomId, 'presence:staff'),
      roomKey(roomId, `presence:node:${node}`),
      roomStatsKey(roomId),
      roomKey(roomId, 'presence:guest-extra'),
    ];
  }

  /** Add `delta` connections per field to this node's share and the room's totals; returns the counts. */
  async apply(roomId: string, node: string, deltas: Iterable<[PresenceField, number]>): Promise<PresenceCounts> {
    const args: (string | number)[] = [this.guestsPerIp];
    for (const [field, delta] of deltas) if (delta !== 0) args.push(field, delta);
    const [viewers, staff, peak] = await this.cmd.presenceApply(...this.keys(roomId, node), ...args);
    return { viewers, staff, peak };
  }

  /** Unique viewers, unique staff and the viewer peak: three O(1) reads. */
  async count(roomId: string): Promise<PresenceCounts> {
    const [v, s, , stats] = this.keys(roomId, '-');
    const [users, staff, peak, guestsExtra] = await this.cmd.presenceCount(v, s, stats);
    const viewers = users + guestsExtra;
    return { viewers, staff, peak: Math.max(peak, viewers) };
  }

  /** Subtract a node's whole share of a room from its totals, a chunk per call. */
  async reapRoom(roomId: string, node: string): Promise<void> {
    const keys = this.keys(roomId, node);
    // A full HSCAN pass sees every field that was there throughout; a second pass catches fields
    // a still-running (wrongly presumed dead) node wrote meanwhile.
    for (let pass = 0; pass < 3; pass++) {
      let cursor = '0';
      do cursor = await this.cmd.presenceReap(...keys, this.guestsPerIp, cursor, REAP_CHUNK);
      while (cursor !== '0');
      if ((await this.redis.exists(keys[2])) === 0) return;
    }
  }

  register(node: string): Promise<number> {
    return this.cmd.presenceRegister(REGISTRY, node);
  }

  /** Refresh a heartbeat; false when the node is not registered (reaped, or Redis lost its data). */
  async beat(node: string): Promise<boolean> {
    return (await this.cmd.presenceBeat(REGISTRY, node)) === 1;
  }

  stale(deadAfterMs: number): Promise<string[]> {
    return this.cmd.presenceStale(REGISTRY, deadAfterMs);
  }

  async addRooms(node: string, roomIds: string[]): Promise<void> {
    if (roomIds.length) await this.redis.sadd(nodeRoomsKey(node), ...roomIds);
  }

  async removeRooms(node: string, roomIds: string[]): Promise<void> {
    if (roomIds.length) await this.redis.srem(nodeRoomsKey(node), ...roomIds);
  }

  roomsOf(node: string): Promise<string[]> {
    return this.redis.smembers(nodeRoomsKey(node));
  }

  /** Take the lock to reap `node`; false if another survivor holds it. */
  async lockReap(node: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(reapLockKey(node), '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  /** After its rooms are reaped: forget the node (rooms set first, so a crash here only repeats a reap). */
  async forget(node: string): Promise<void> {
    await this.redis.del(nodeRoomsKey(node));
    await this.redis.zrem(REGISTRY, node);
  }
}

export const presenceField = (staff: boolean, userKey: string): PresenceField => (staff ? `s${userKey}` : `v${userKey}`);
