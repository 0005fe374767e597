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

// KEYS: giveaway, entries, bans, followers, commenters, buyers. ARGV: userId, name, free ('1'|'0'), maxEntries
// → {'OK', via, alreadyEntered (0|1)} | {'ERR', code}
export const ENTER_SCRIPT = `
local g = redis.call('HMGET', KEYS[1], 'status', 'endsAt', 'rule')
if not g[1] then return {'ERR', 'NOT_FOUND'} end
${NOW}
if g[1] ~= 'open' or now >= tonumber(g[2]) then return {'ERR', 'GIVEAWAY_CLOSED'} end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return {'ERR', 'BANNED'} end
local prior = redis.call('HGET', KEYS[2], ARGV[1])
if prior then return {'OK', string.match(prior, '^[^|]*'), 1} end
local rule = g[3]
local via = 'rule'
if rule ~= 'everyone' then
  if ARGV[3] == '1' then via = 'free'
  else
    local fact = ({followers = KEYS[4], commenters = KEYS[5], buyers = KEYS[6]})[rule]
    if redis.call('SISMEMBER', fact, ARGV[1]) == 0 then return {'ERR', 'NOT_ELIGIBLE'} end
  end
end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return {'ERR', 'LIMIT_EXCEEDED'} end
redis.call('HSET', KEYS[2], ARGV[1], via .. '|' .. ARGV[2])
redis.call('HINCRBY', KEYS[1], 'entries', 1)
if via == 'free' then redis.call('HINCRBY', KEYS[1], 'entriesFree', 1) end
return {'OK', via, 0}
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
