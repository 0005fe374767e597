/**
 * The voucher scripts. Each is atomic and takes the time from ARGV (tests' virtual clock) or, when
 * that is '', from Redis TIME, the clock the sale scripts use too: a claim's expiry and a hold's
 * are compared on one clock whichever node asks. Keys: voucher-keys.ts; the claim format and the
 * helpers shared with the sale scripts: voucher-lua.ts. {'ERR', code} changes nothing.
 */
import { RATE_LIMIT_LUA } from '../../core/rate-limit.js';
import { VOUCHER_LUA } from './voucher-lua.js';
import { CLOCK_LUA } from '../../core/lua-clock.js';

const PRELUDE = `
${CLOCK_LUA}
${VOUCHER_LUA}
-- Keep key at least ms longer (its expiry only ever moves later).
local function keepFor(key, ms)
  local ttl = redis.call('PTTL', key)
  if ttl ~= -2 and ttl < ms then redis.call('PEXPIRE', key, int(ms)) end
end
`;

// KEYS: 1 room vouchers, 2 voucher list, 3 audit. ARGV: 1 voucherId, 2 definition JSON, 3 now|'',
// 4 durationMs, 5 maxActive, 6 maxPerRoom, 7 request field|'', 8 actorId, 9 actorName, 10 auditMax,
// 11 keepMs (after the last claim can expire). → {'OK', voucherId} | {'REPLAY', voucherId of the first call}
// | {'ERR', 'LIMIT_EXCEEDED' | 'ACTIVE_LIMIT'}
export const DROP_SCRIPT = `${PRELUDE}
if ARGV[7] ~= '' then
  local first = redis.call('HGET', KEYS[1], ARGV[7])
  if first then return {'REPLAY', first} end
end
local now = clock(ARGV[3])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then return {'ERR', 'LIMIT_EXCEEDED'} end
local active = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local raw = redis.call('HGET', KEYS[1], id)
  if raw then
    local d = cjson.decode(raw)
    if d.status == 'open' and now < d.endsAt then active = active + 1 end
  end
end
if active >= tonumber(ARGV[5]) then return {'ERR', 'ACTIVE_LIMIT'} end
local vid = ARGV[1]
local def = cjson.decode(ARGV[2])
def.startsAt, def.endsAt, def.status = now, now + tonumber(ARGV[4]), 'open'
redis.call('HSET', KEYS[1], vid, cjson.encode(def), vid .. '|claimed', 0, vid .. '|redeemed', 0, vid .. '|discount', 0)
redis.call('ZADD', KEYS[2], int(now), vid)
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], ARGV[7], vid) end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[10], '*', 'action', 'voucher-drop', 'actorId', ARGV[8],
  'actorName', ARGV[9], 'target', '', 'detail', cjson.encode({voucherId = vid, kind = def.kind, value = def.value,
  minSpend = def.minSpend, quantity = def.quantity, validSec = def.validMs / 1000, followersOnly = def.followersOnly,
  endsAt = def.endsAt}), 'at', now)
keepFor(KEYS[1], tonumber(ARGV[11]))
keepFor(KEYS[2], tonumber(ARGV[11]))
return {'OK', vid}
`;

// KEYS: 1 room vouchers, 2 audit. ARGV: voucherId, now|'', actorId, actorName, auditMax.
// Ends claiming now; claims already made stay usable. → {'OK'} | {'ERR', code}
export const STOP_SCRIPT = `${PRELUDE}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {'ERR', 'VOUCHER_NOT_FOUND'} end
local def = cjson.decode(raw)
local now = clock(ARGV[2])
if def.status ~= 'open' or now >= def.endsAt then return {'ERR', 'VOUCHER_CLOSED'} end
def.status, def.endsAt = 'stopped', now
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(def))
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'action', 'voucher-stop', 'actorId', ARGV[3],
  'actorName', ARGV[4], 'target', '', 'detail', cjson.encode({voucherId = ARGV[1],
  claimed = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. '|claimed'))}), 'at', now)
return {'OK'}
`;

// KEYS: 1 room vouchers, 2 claims, 3 bans, 4 followers, 5 the user's voucher rate limit.
// ARGV: 1 voucherId, 2 userId, 3 requestId, 4 now|'', 5 rlMax, 6 rlWindowMs, 7 keepMs (after the voucher's validity).
// One claim per user: the same requestId again gets the stored claim (REPLAY), another requestId
// ALREADY_CLAIMED. Never more claims than the quantity: the count and the claim are one step.
// → {'NEW' | 'REPLAY', claim, remaining} | {'ERR', code}
export const CLAIM_SCRIPT = `${PRELUDE}
if redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 1 then return {'ERR', 'BANNED'} end
local rlKey, rlMax, rlWindowMs = KEYS[5], tonumber(ARGV[5]), tonumber(ARGV[6])
${RATE_LIMIT_LUA}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {'ERR', 'VOUCHER_NOT_FOUND'} end
local def = cjson.decode(raw)
local claimed = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. '|claimed'))
local field = ARGV[1] .. '|' .. ARGV[2]
local priorRaw = redis.call('HGET', KEYS[2], field)
local prior = unpackClaim(priorRaw)
if prior then
  if prior.req == ARGV[3] then return {'REPLAY', priorRaw, def.quantity - claimed} end
  return {'ERR', 'ALREADY_CLAIMED'}
end
local now = clock(ARGV[4])
if def.status ~= 'open' or now >= def.endsAt then return {'ERR', 'VOUCHER_CLOSED'} end
if def.followersOnly and redis.call('SISMEMBER', KEYS[4], ARGV[2]) == 0 then return {'ERR', 'NOT_ELIGIBLE'} end
if claimed >= def.quantity then return {'ERR', 'VOUCHER_CLAIMED_OUT'} end
local c = { state = 'claimed', claimedAt = int(now), exp = now + def.validMs, hold = '', holdExp = 0, order = '', req = ARGV[3] }
local text = packClaim(c)
redis.call('HSET', KEYS[2], field, text)
redis.call('HINCRBY', KEYS[1], ARGV[1] .. '|claimed', 1)
redis.call('HINCRBY', KEYS[1], 't|claims', 1)
keepFor(KEYS[2], def.endsAt - now + def.validMs + tonumber(ARGV[7]))
return {'NEW', text, def.quantity - claimed - 1}
`;

// KEYS: 1 room vouchers, 2 claims, 3 the hold's sale hash, 4 its holds, 5 its price history,
// 6 bans, 7 the user's voucher rate limit. ARGV: 1 voucherId, 2 userId, 3 holdId, 4 now|'',
// 5 rlMax, 6 rlWindowMs.
// Applies a claimed voucher to one of the user's holds (still held, not expired): the voucher is
// the hold's until the hold is checked out (consumed), released or expires (given back). A voucher
// on another hold moves here; another voucher on this hold goes back to claimed.
// → {'OK', amount, discount, currency, holdExpiresAt} | {'ERR', code}
export const APPLY_SCRIPT = `${PRELUDE}
if redis.call('SISMEMBER', KEYS[6], ARGV[2]) == 1 then return {'ERR', 'BANNED'} end
local rlKey, rlMax, rlWindowMs = KEYS[7], tonumber(ARGV[5]), tonumber(ARGV[6])
${RATE_LIMIT_LUA}
local vid, user, holdId = ARGV[1], ARGV[2], ARGV[3]
local raw = redis.call('HGET', KEYS[1], vid)
local field = vid .. '|' .. user
local c = unpackClaim(redis.call('HGET', KEYS[2], field))
if not raw or not c then return {'ERR', 'VOUCHER_NOT_FOUND'} end
-- The hold record (sale-prelude-lua.ts): state|userId|qty|expiresAt|orderId|at.
local hraw = redis.call('HGET', KEYS[4], holdId)
if not hraw then return {'ERR', 'NOT_FOUND'} end
local hst, hu, hq, he, _, hat = string.match(hraw, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
if hu ~= user or hst == 'released' then return {'ERR', 'NOT_FOUND'} end
if hst == 'sold' then return {'ERR', 'CONFLICT'} end
local now = clock(ARGV[4])
if hst ~= 'held' or now >= tonumber(he) then return {'ERR', 'HOLD_EXPIRED'} end
if c.state == 'used' then return {'ERR', 'VOUCHER_USED'} end
local same = c.state == 'applied' and c.hold == holdId
if not same and now >= c.exp then return {'ERR', 'VOUCHER_EXPIRED'} end
-- The price the hold checks out at (as CHECKOUT_SCRIPT): a standing ledger's price when it was taken.
local s = redis.call('HMGET', KEYS[3], 'price', 'currency')
local unit, currency = s[1], s[2]
local past = redis.call('ZREVRANGEBYSCORE', KEYS[5], hat, '-inf', 'LIMIT', 0, 1)[1]
if past then unit, currency = string.match(past, '^([^|]*)|([^|]*)|') end
local amount = tonumber(unit) * tonumber(hq)
local def = cjson.decode(raw)
if amount < def.minSpend then return {'ERR', 'VOUCHER_MIN_SPEND'} end
if not same then
  local prev = redis.call('HGET', KEYS[2], 'h|' .. holdId)
  if prev and prev ~= vid then unapplyClaim(KEYS[2], prev .. '|' .. user, holdId) end
  if c.state == 'applied' and c.hold ~= '' and redis.call('HGET', KEYS[2], 'h|' .. c.hold) == vid then
    redis.call('HDEL', KEYS[2], 'h|' .. c.hold)
  end
  c.state, c.hold, c.holdExp = 'applied', holdId, tonumber(he)
  redis.call('HSET', KEYS[2], field, packClaim(c), 'h|' .. holdId, vid)
end
return {'OK', int(amount), int(voucherDiscount(def, amount)), currency, he}
`;

// KEYS: 1 room vouchers, 2 frame. ARGV: voucherId, ttlMs, onlyIfZero ('1': the claimed-out
// announcement). → the remaining count the room should be told, or nil when that is what it was
// last told (or, for claimed-out, when vouchers are left).
export const FRAME_SCRIPT = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return nil end
local remaining = cjson.decode(raw).quantity - tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. '|claimed') or '0')
if ARGV[3] == '1' and remaining > 0 then return nil end
if redis.call('HGET', KEYS[2], ARGV[1]) == tostring(remaining) then return nil end
redis.call('HSET', KEYS[2], ARGV[1], remaining)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return remaining
`;
