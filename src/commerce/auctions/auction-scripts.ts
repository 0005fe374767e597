/**
 * The Lua scripts that own a lot. Every change to a lot's state is one of these, run atomically
 * inside Redis, so whatever the number of nodes and bidders a bid is accepted or refused exactly
 * once, no bid lands after the close, and a lot closes (and gets a winner) exactly once.
 *
 * Conventions:
 * - Time comes from ARGV (tests drive a virtual clock) or, when that is '', from Redis TIME. A lot
 *   is over the instant Redis's clock reaches its endsAt, whether or not a closer has run yet: the
 *   bid script refuses from then on, and the close only records what the clock decided.
 * - BID_SCRIPT mirrors decideBid() in auction-rules.ts line for line; change both together (the
 *   property test compares them).
 * - A bid's first answer is stored under `userId|requestId` and replayed verbatim: {'NEW', text}
 *   the first time, {'REPLAY', text} after. {'ERR', CODE} means nothing was recorded (banned,
 *   muted, rate limited, no such lot): the same requestId may be tried again.
 * - Answer texts are `|`-separated numbers and ids; names (free text) are never inside them.
 */
import { RATE_LIMIT_LUA } from '../../core/rate-limit.js';
import { DEADLINE_LUA } from '../../core/redis-guard.js';
import { CLOCK_LUA } from '../../core/lua-clock.js';

const PRELUDE = `
${CLOCK_LUA}
-- incrementAt() of auction-rules.ts over the lot's 'from:step,from:step' table.
local function incAt(table_, price)
  local step = nil
  for from, s in string.gmatch(table_, '(%d+):(%d+)') do
    if step == nil or price >= tonumber(from) then step = tonumber(s) else break end
  end
  return step
end
`;

// KEYS: 1 lot, 2 room auction hash, 3 room's lot list, 4 room start requests. ARGV: now, durationMs,
// lotId, request field|'', deadline, then field, value, ... of the definition.
// → {'OK', endsAt, now} | {'REPLAY', lotId of the first call} | {'ERR', code}
// (CONFLICT: another lot is open; LATE: past the deadline)
export const START_SCRIPT = `${PRELUDE}
local deadline = tonumber(ARGV[5])
${DEADLINE_LUA}
if ARGV[4] ~= '' then
  local first = redis.call('HGET', KEYS[4], ARGV[4])
  if first then return {'REPLAY', first} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'ERR', 'CONFLICT'} end
local open = redis.call('HGET', KEYS[2], 'open')
if open and open ~= '' then return {'ERR', 'BUSY'} end
local now = clock(ARGV[1])
local endsAt = now + tonumber(ARGV[2])
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HSET', KEYS[1], 'startedAt', int(now), 'endsAt', int(endsAt), 'status', 'open', 'leader', '', 'leaderName', '',
  'leaderMax', 0, 'bids', 0, 'price', redis.call('HGET', KEYS[1], 'startPrice'), 'closedAt', '', 'endReason', '',
  'saleId', '', 'holdId', '', 'holdExpiresAt', '', 'orderId', '')
redis.call('HSET', KEYS[2], 'current', ARGV[3], 'open', ARGV[3])
redis.call('ZADD', KEYS[3], int(now), ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], ARGV[4], ARGV[3]) end
return {'OK', int(endsAt), int(now)}
`;

// Bids of one lot, N at a time (the server batches the bids that arrive in the same event-loop
// turn, auction-bid-batcher.ts), decided one after the other in order exactly as N separate calls
// would: the lot is read once, each bid sees the state the previous one left, and the state and
// history are written once at the end.
// KEYS: 1 lot, 2 bids list, 3 requests, 4 room bans, 5 room mutes, then one rate key per bid (5 + i).
// ARGV: now|'', rlMax, rlWindowMs, mutedMayBid 0|1, maxBids, then per bid i (at 6 + 6(i-1)):
// userId, requestId, amount, max 0|1, masked name, full name.
// → {kind1, text1, min1, kind2, text2, min2, ...}: kind NEW | REPLAY (text = the stored answer) or
// ERR (text = a code, nothing recorded: BANNED, NOT_FOUND, MUTED, FORBIDDEN, RATE_LIMITED, or
// AUCTION_ENDED, final anyway; min = the lowest acceptable bid). Stored answers:
// OK|seq|amount|max|price|leading|endsAt|extended|bidCount|nextMin|now|previousLeader
// or ERR|CODE|min|now
export const BID_SCRIPT = `${PRELUDE}
local function limited(rlKey, rlMax, rlWindowMs)
${RATE_LIMIT_LUA}
  return nil
end
local n = (#ARGV - 5) / 6
local out = {}
local exists = redis.call('EXISTS', KEYS[1]) == 1
local now = clock(ARGV[1])
local rlMax, rlWindowMs, mutedMayBid, maxBids = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1', tonumber(ARGV[5])
local s = exists and redis.call('HMGET', KEYS[1], 'status', 'endsAt', 'price', 'leader', 'leaderMax', 'bids', 'startPrice',
  'inc', 'mode', 'extendMs', 'hostId', 'leaderName') or {}
local status, endsAt, price, leader, leaderMax, bids = s[1], tonumber(s[2]), tonumber(s[3]), s[4], tonumber(s[5]), tonumber(s[6])
local startPrice, inc, mode, extendMs, hostId, leaderName = tonumber(s[7]), s[8], s[9], tonumber(s[10]), s[11], s[12]
local history = {}

-- decideBid() of auction-rules.ts for bid i → kind, text, min
local function decide(i)
  local a = 6 + 6 * (i - 1)
  local user, amount, isMax = ARGV[a], tonumber(ARGV[a + 2]), ARGV[a + 3] == '1'
  if redis.call('SISMEMBER', KEYS[4], user) == 1 then return 'ERR', 'BANNED', 0 end
  local reqField = user .. '|' .. ARGV[a + 1]
  local first = redis.call('HGET', KEYS[3], reqField)
  if first then return 'REPLAY', first, 0 end
  if not exists then return 'ERR', 'NOT_FOUND', 0 end
  if not mutedMayBid and tonumber(redis.call('HGET', KEYS[5], user) or '0') > now then return 'ERR', 'MUTED', 0 end
  if user == hostId then return 'ERR', 'FORBIDDEN', 0 end
  local min = leader == '' and startPrice or price + incAt(inc, price)
  -- Over is over for good, so it needs no stored answer (and costs no rate): a bid recorded
  -- before the close was found above as a replay.
  if status ~= 'open' or now >= endsAt then return 'ERR', 'AUCTION_ENDED', min end
  if limited(KEYS[5 + i], rlMax, rlWindowMs) then return 'ERR', 'RATE_LIMITED', 0 end
  local function answer(text)
    redis.call('HSET', KEYS[3], reqField, text)
    return 'NEW', text, min
  end
  local function refuse(code, m) return answer('ERR|' .. code .. '|' .. int(m) .. '|' .. int(now)) end
  if bids >= maxBids then return refuse('LIMIT_EXCEEDED', min) end
  local newLeader, newMax, newPrice = leader, leaderMax, price
  if leader == '' then
    if amount < min then return refuse('BID_TOO_LOW', min) end
    newLeader, newMax = user, amount
    newPrice = isMax and startPrice or amount
  elseif user == leader then
    if not isMax then return refuse('ALREADY_LEADING', min) end
    local raiseMin = math.max(min, leaderMax + 1)
    if amount < raiseMin then return refuse('BID_TOO_LOW', raiseMin) end
    newMax = amount
  else
    if amount < min then return refuse('BID_TOO_LOW', min) end
    if amount > leaderMax then
      newLeader, newMax = user, amount
      newPrice = isMax and math.min(amount, math.max(min, leaderMax + incAt(inc, leaderMax))) or amount
    else
      newPrice = math.min(leaderMax, amount + incAt(inc, amount))
    end
  end
  bids = bids + 1
  local extended = 0
  if mode == 'extend' and endsAt - now < extendMs then
    endsAt = now + extendMs
    extended = 1
  end
  local previous = leader
  if newLeader ~= leader then leaderName = ARGV[a + 4] end
  leader, leaderMax, price = newLeader, newMax, newPrice
  history[#history + 1] = bids .. '|' .. user .. '|' .. int(amount) .. '|' .. (isMax and 1 or 0) .. '|' .. int(now) .. '|' ..
    int(price) .. '|' .. leader .. '|' .. ARGV[a + 5]
  return answer('OK|' .. bids .. '|' .. int(amount) .. '|' .. (isMax and 1 or 0) .. '|' .. int(price) .. '|' ..
    (leader == user and 1 or 0) .. '|' .. int(endsAt) .. '|' .. extended .. '|' .. bids .. '|' ..
    int(price + incAt(inc, price)) .. '|' .. int(now) .. '|' .. previous)
end

for i = 1, n do
  local kind, text, min = decide(i)
  out[#out + 1] = kind
  out[#out + 1] = text
  out[#out + 1] = int(min)
end
if #history > 0 then
  redis.call('HSET', KEYS[1], 'price', int(price), 'leader', leader, 'leaderMax', int(leaderMax), 'bids', bids,
    'endsAt', int(endsAt), 'leaderName', leaderName)
  redis.call('RPUSH', KEYS[2], unpack(history))
end
return out
`;

// What every node's closer runs for a due lot. KEYS: 1 lot, 2 room auction hash. ARGV: now|''.
// Exactly one call sees an open lot past its end and closes it (justClosed = 1): with a leader it
// awaits payment, without one it is unsold.
// → {'GONE'} | {phase, justClosed, status, now, due} where phase is
//   open (due = endsAt), award (a winner has no hold yet: the caller makes it),
//   holding (due = the hold's expiry), done.
export const ADVANCE_SCRIPT = `${PRELUDE}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'GONE'} end
local now = clock(ARGV[1])
local s = redis.call('HMGET', KEYS[1], 'status', 'endsAt', 'leader', 'holdId', 'holdExpiresAt', 'id')
local status, justClosed = s[1], 0
if status == 'open' then
  if now < tonumber(s[2]) then return {'open', 0, status, int(now), s[2]} end
  status = s[3] ~= '' and 'awaiting-payment' or 'unsold'
  redis.call('HSET', KEYS[1], 'status', status, 'closedAt', s[2], 'endReason', 'time')
  if redis.call('HGET', KEYS[2], 'open') == s[6] then redis.call('HSET', KEYS[2], 'open', '') end
  justClosed = 1
end
if status == 'awaiting-payment' then
  if s[4] == '' then return {'award', justClosed, status, int(now), int(now)} end
  return {'holding', justClosed, status, int(now), s[5]}
end
return {'done', justClosed, status, int(now), ''}
`;

// KEYS: 1 lot. ARGV: saleId, holdId, expiresAt. Records the winner's hold once (a second award of
// the same lot, by a racing closer, made the same hold: its sale request replayed).
// → {saleId, holdId, expiresAt} as recorded
export const RECORD_AWARD_SCRIPT = `
local s = redis.call('HMGET', KEYS[1], 'status', 'holdId')
if s[1] == 'awaiting-payment' and s[2] == '' then
  redis.call('HSET', KEYS[1], 'saleId', ARGV[1], 'holdId', ARGV[2], 'holdExpiresAt', ARGV[3])
end
return redis.call('HMGET', KEYS[1], 'saleId', 'holdId', 'holdExpiresAt')
`;

// KEYS: 1 lot. ARGV: now|'', the hold's state (held, sold, expired, released, missing), orderId,
// the hold's expiry. A paid hold makes the lot sold; a hold that can no longer be paid (expired,
// released, gone, or past its time: checkout refuses from then on) makes it unsold.
// → {'SETTLED', status} once | {'WAIT', expiresAt} | {'SAME', status}
export const SETTLE_SCRIPT = `${PRELUDE}
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'awaiting-payment' then return {'SAME', status or ''} end
local now = clock(ARGV[1])
if ARGV[2] == 'sold' then
  redis.call('HSET', KEYS[1], 'status', 'sold', 'orderId', ARGV[3])
  return {'SETTLED', 'sold'}
end
if ARGV[2] ~= 'held' or now >= tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'status', 'unsold', 'endReason', 'unpaid')
  return {'SETTLED', 'unsold'}
end
return {'WAIT', ARGV[4]}
`;

// KEYS: 1 lot, 2 room auction hash, 3 room audit stream. ARGV: now|'', reason (cancelled |
// room-ended), actorId, actorName, note, auditMax. Only an open lot before its end: past endsAt the
// clock has already decided the lot. The audit entry is written in the same step.
// → {'OK', now} | {'ERR', code}
export const CANCEL_SCRIPT = `${PRELUDE}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'ERR', 'NOT_FOUND'} end
local now = clock(ARGV[1])
local s = redis.call('HMGET', KEYS[1], 'status', 'endsAt', 'id', 'price', 'bids')
if s[1] ~= 'open' or now >= tonumber(s[2]) then return {'ERR', 'AUCTION_ENDED'} end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'closedAt', int(now), 'endReason', ARGV[2])
if redis.call('HGET', KEYS[2], 'open') == s[3] then redis.call('HSET', KEYS[2], 'open', '') end
local detail = { lotId = s[3], price = tonumber(s[4]), bids = tonumber(s[5]), reason = ARGV[2] }
if ARGV[5] ~= '' then detail.note = ARGV[5] end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'action', 'auction-cancel', 'actorId', ARGV[3], 'actorName', ARGV[4],
  'target', '', 'detail', cjson.encode(detail), 'at', int(now))
return {'OK', int(now)}
`;

// KEYS: 1 due index. ARGV: now|'', max, leaseMs. → {ref1, ref2, ...}: up to max due lots, each
// leased to the caller (due again at now + leaseMs, in case it dies before rescheduling).
export const CLAIM_DUE_SCRIPT = `${PRELUDE}
local now = clock(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', int(now), 'LIMIT', 0, tonumber(ARGV[2]))
for _, ref in ipairs(due) do redis.call('ZADD', KEYS[1], int(now + tonumber(ARGV[3])), ref) end
return due
`;
