/**
 * The heart script: the taps of one room that reached this node in one event-loop turn, decided
 * one after the other in arrival order — the same answers N separate calls would give — and
 * counted with one HINCRBY (heart-tap-batcher.ts builds the call).
 *
 * KEYS: 1 the room's stats hash, 2 and 3 the room's heart rate limits (current and previous
 * generation, see below). ARGV: deadline, weight, rlMax, rlWindowMs, then one `count userId`
 * per tap (user ids match idSchema: no spaces, never '#born').
 * → {'ERR', 'LATE'} when Redis's clock is past the deadline (nothing counted, nothing limited:
 * every sender has been told UNAVAILABLE by then), else one answer per tap: the room's heart
 * total just after that tap (an integer) or 'RATE_LIMITED' (not counted).
 *
 * The rate limit is the one the per-user keys gave: at most rlMax taps per user per fixed window
 * of rlWindowMs that starts at the user's first counted tap (refused taps do not move it). A
 * script may only touch keys it was given, so the windows live in hashes of the room,
 * userId → 'windowStart|count', not in a key per user. One hash would keep an entry for every
 * user who ever tapped while the room's taps never paused a whole window (a show of hours), so
 * there are two generations: entries are written to the current one; once it is a window old
 * (its '#born' field) it becomes the previous one, replacing the one before, whose entries were
 * all written before the current one was born, so their windows are over. A user's entry is
 * read from the current generation, else the previous. The two hold the users of the last two
 * windows or so; each expires a window after its last write (RENAME keeps the TTL), when every
 * window in it is over.
 */
import { DEADLINE_LUA } from '../core/redis-guard.js';

export const HEART_TAP_KEYS = 3;

export const HEART_TAP_SCRIPT = `
local deadline = tonumber(ARGV[1])
${DEADLINE_LUA}
-- DEADLINE_LUA's reading of Redis's clock: the time of every window decided here.
local now = tonumber(dlNow[1]) * 1000 + math.floor(tonumber(dlNow[2]) / 1000)
local weight, rlMax, rlWindowMs = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local current, previous = KEYS[2], KEYS[3]
local born = tonumber(redis.call('HGET', current, '#born'))
if born and now - born >= rlWindowMs then
  redis.call('RENAME', current, previous)
  born = nil
end
-- This call's view of each user's window ({start, count}), written back once per user.
local windows, written = {}, {}
local total = tonumber(redis.call('HGET', KEYS[1], 'hearts') or '0')
local added = 0
local out = {}
for i = 1, #ARGV - 4 do
  local count, user = string.match(ARGV[4 + i], '^(%d+) (.+)$')
  local w = windows[user]
  if not w then
    w = {now, 0}
    local stored = redis.call('HGET', current, user) or redis.call('HGET', previous, user)
    if stored then
      local s, c = string.match(stored, '^(%d+)|(%d+)$')
      if s and now - tonumber(s) < rlWindowMs then w = {tonumber(s), tonumber(c)} end
    end
    windows[user] = w
  end
  if w[2] >= rlMax then
    out[i] = 'RATE_LIMITED'
  else
    if not w.dirty then
      w.dirty = true
      written[#written + 1] = user
    end
    w[2] = w[2] + 1
    added = added + tonumber(count)
    out[i] = total + added
  end
end
if #written > 0 then
  local fields = {}
  for _, user in ipairs(written) do
    local w = windows[user]
    fields[#fields + 1] = user
    fields[#fields + 1] = string.format('%d|%d', w[1], w[2])
  end
  if not born then
    fields[#fields + 1] = '#born'
    fields[#fields + 1] = string.format('%d', now)
  end
  redis.call('HSET', current, unpack(fields))
  redis.call('PEXPIRE', current, rlWindowMs)
  redis.call('HINCRBY', KEYS[1], 'hearts', added)
  redis.call('HINCRBY', KEYS[1], 'engagement', added * weight)
end
return out
`;
