/**
 * The giveaway scripts. Each is atomic and reads the time from Redis TIME, so every node agrees
 * when entries close whatever its own clock says.
 *
 * The draw is exactly once with every node's sweeper racing, in two steps:
 * - CLAIM: after the deadline, takes a lease (a token and an expiry) unless a live lease is held,
 *   drops entries of users banned since they entered and returns the final entries with the
 *   seed. Nobody can enter any more (ENTER checks the deadline), so the list is frozen.
 * - FINISH: records the winners only if the caller's token still holds the lease and nothing was
 *   recorded; only that call answers OK, and only its node announces `giveaway:drawn`. A node
 *   that dies between the two leaves the lease to expire and another node claims again; a node
 *   that was merely slow finds its token replaced and answers LOST, so the winners recorded are
 *   always computed from the entry list as it is stored (and published).
 * - Then the prizes: FINISH keeps the lease and marks the awards pending; the finishing node gives
 *   each winner a zero-price hold (SaleStore.award, idempotent per giveaway + winner) and AWARDED
 *   records them. Only the call that records them answers OK, and only its node announces
 *   `giveaway:drawn` and the `giveaway:won`s. A node that dies in between leaves the lease to
 *   expire; CLAIM then hands the awards (not the draw: the winners are recorded) to another node,
 *   whose awards replay the holds already made.
 */
import { DEADLINE_LUA } from '../../core/redis-guard.js';

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// KEYS: giveaway, room giveaways, audit, room's start requests. ARGV: giveawayId, prize JSON, rule,
// winners, durationMs, commitment, seed, salt, actorId, actorName, maxPerRoom, auditMax,
// request field ('' = none), requestsTtlMs
// → {'OK', startedAt, endsAt} | {'REPLAY', giveawayId of the first call} | {'ERR', 'LIMIT_EXCEEDED'}
export const START_SCRIPT = `
if ARGV[13] ~= '' then
  local first = redis.call('HGET', KEYS[4], ARGV[13])
  if first then return {'REPLAY', first} end
end
${NOW}
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[11]) then return {'ERR', 'LIMIT_EXCEEDED'} end
local endsAt = now + tonumber(ARGV[5])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'prize', ARGV[2], 'rule', ARGV[3], 'winnersWanted', ARGV[4],
  'startedAt', now, 'endsAt', endsAt, 'commitment', ARGV[6], 'seed', ARGV[7], 'salt', ARGV[8],
  'status', 'open', 'entries', 0, 'hostId', ARGV[9])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[12], '*', 'action', 'giveaway-start', 'actorId', ARGV[9],
  'actorName', ARGV[10], 'target', '', 'detail', cjson.encode({giveawayId = ARGV[1], rule = ARGV[3],
  winners = tonumber(ARGV[4]), endsAt = endsAt, commitment = ARGV[6]}), 'at', now)
-- Only a giveaway made is remembered (a refusal changed nothing: a retry may simply try again).
if ARGV[13] ~= '' then
  redis.call('HSET', KEYS[4], ARGV[13], ARGV[1])
  redis.call('PEXPIRE', KEYS[4], ARGV[14])
end
return {'OK', now, endsAt}
`;

// The entries of one giveaway that arrived in one event-loop turn (giveaway-entry-batcher.ts),
// decided one after the other in arrival order exactly as separate calls would be: the time read
// once, each user checked on its own (ban, earlier entry — also one made earlier in this call —,
// rule, cap), the counters written once at the end.
// KEYS: giveaway, entries, bans, followers, commenters, buyers. ARGV: maxEntries, deadline (Redis
// clock ms, core/redis-guard.ts), then per entry userId, name, free ('1'|'0')
// → per entry three slots: 'OK', via, alreadyEntered (0|1) | 'ERR', code, rule (for NOT_ELIGIBLE; else '')
// | {'ERR', 'LATE'} (two slots, for the whole call): Redis ran it after its deadline — the senders
// were told UNAVAILABLE by then, so nothing is entered.
export const ENTER_SCRIPT = `
local deadline = tonumber(ARGV[2])
${DEADLINE_LUA}
local out = {}
local n = (#ARGV - 2) / 3
local g = redis.call('HMGET', KEYS[1], 'status', 'endsAt', 'rule')
local refused = nil
if not g[1] then refused = 'NOT_FOUND'
else
  ${NOW}
  if g[1] ~= 'open' or now >= tonumber(g[2]) then refused = 'GIVEAWAY_CLOSED' end
end
if refused then
  for i = 1, n do out[#out + 1] = 'ERR'; out[#out + 1] = refused; out[#out + 1] = '' end
  return out
end
local rule = g[3]
local fact = ({followers = KEYS[4], commenters = KEYS[5], buyers = KEYS[6]})[rule]
local maxEntries = tonumber(ARGV[1])
local count = redis.call('HLEN', KEYS[2])
local added, addedFree = 0, 0
for i = 1, n do
  local userId, name, free = ARGV[3 * i], ARGV[3 * i + 1], ARGV[3 * i + 2]
  if redis.call('SISMEMBER', KEYS[3], userId) == 1 then
    out[#out + 1] = 'ERR'; out[#out + 1] = 'BANNED'; out[#out + 1] = ''
  else
    local prior = redis.call('HGET', KEYS[2], userId)
    if prior then
      out[#out + 1] = 'OK'; out[#out + 1] = string.match(prior, '^[^|]*'); out[#out + 1] = 1
    else
      local via = 'rule'
      if rule ~= 'everyone' then
        if free == '1' then via = 'free'
        elseif redis.call('SISMEMBER', fact, userId) == 0 then via = nil end
      end
      if not via then
        out[#out + 1] = 'ERR'; out[#out + 1] = 'NOT_ELIGIBLE'; out[#out + 1] = rule
      elseif count >= maxEntries then
        out[#out + 1] = 'ERR'; out[#out + 1] = 'LIMIT_EXCEEDED'; out[#out + 1] = ''
      else
        redis.call('HSET', KEYS[2], userId, via .. '|' .. name)
        count = count + 1
        added = added + 1
        if via == 'free' then addedFree = addedFree + 1 end
        out[#out + 1] = 'OK'; out[#out + 1] = via; out[#out + 1] = 0
      end
    end
  end
end
if added > 0 then redis.call('HINCRBY', KEYS[1], 'entries', added) end
if addedFree > 0 then redis.call('HINCRBY', KEYS[1], 'entriesFree', addedFree) end
return out
`;

// KEYS: giveaway, entries, bans. ARGV: token, leaseMs
// → {'OK', seed, salt, winnersWanted, userId, value, userId, value, …} | {'AWARD'} (drawn, prizes not
// recorded, the finishing node's lease is over: the caller now holds it and gives the prizes) |
// {'DONE'} | {'GONE'} | {'BUSY'} | {'EARLY', endsAt}
export const CLAIM_SCRIPT = `
local g = redis.call('HMGET', KEYS[1], 'status', 'endsAt', 'leaseUntil', 'seed', 'salt', 'winnersWanted', 'awardsPending')
if not g[1] then return {'GONE'} end
if g[1] == 'drawn' and g[7] ~= '1' then return {'DONE'} end
${NOW}
if now < tonumber(g[2]) then return {'EARLY', g[2]} end
if g[3] and now < tonumber(g[3]) then return {'BUSY'} end
redis.call('HSET', KEYS[1], 'leaseToken', ARGV[1], 'leaseUntil', now + tonumber(ARGV[2]))
if g[1] == 'drawn' then return {'AWARD'} end
redis.call('HSET', KEYS[1], 'status', 'closing')
local flat = redis.call('HGETALL', KEYS[2])
local out = {'OK', g[4], g[5], g[6]}
local kept, free = 0, 0
for i = 1, #flat, 2 do
  if redis.call('SISMEMBER', KEYS[3], flat[i]) == 1 then redis.call('HDEL', KEYS[2], flat[i])
  else
    out[#out + 1] = flat[i]; out[#out + 1] = flat[i + 1]; kept = kept + 1
    if string.sub(flat[i + 1], 1, 5) == 'free|' then free = free + 1 end
  end
end
redis.call('HSET', KEYS[1], 'entries', kept, 'entriesFree', free)
return out
`;

// KEYS: giveaway, audit, entries. ARGV: token, winners JSON, auditMax, keepMs (how long the published
// data stays downloadable after the draw), leaseMs (the caller's time to give the prizes)
// → {'OK', drawnAt} | {'DONE'} | {'LOST'}
export const FINISH_SCRIPT = `
local g = redis.call('HMGET', KEYS[1], 'status', 'leaseToken', 'id', 'hostId')
if g[1] == 'drawn' then return {'DONE'} end
if g[2] ~= ARGV[1] then return {'LOST'} end
${NOW}
redis.call('HSET', KEYS[1], 'status', 'drawn', 'winners', ARGV[2], 'drawnAt', now, 'awardsPending', 1,
  'leaseUntil', now + tonumber(ARGV[5] or '10000'))
redis.call('HINCRBY', KEYS[1], 'draws', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'action', 'giveaway-draw', 'actorId', 'server',
  'actorName', 'server', 'target', '', 'detail', cjson.encode({giveawayId = g[3], winners = cjson.decode(ARGV[2])}), 'at', now)
return {'OK', now}
`;

// KEYS: giveaway. ARGV: awards JSON ([{userId, saleId, holdId, expiresAt}]). The prizes are
// recorded once; whoever records them announces the draw. → {'OK'} | {'DONE'} (already recorded)
export const AWARDED_SCRIPT = `
if redis.call('HGET', KEYS[1], 'awardsPending') ~= '1' then return {'DONE'} end
redis.call('HSET', KEYS[1], 'awards', ARGV[1])
redis.call('HDEL', KEYS[1], 'awardsPending', 'leaseToken', 'leaseUntil')
return {'OK'}
`;
