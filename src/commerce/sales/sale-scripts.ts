/**
 * A buyer's scripts on a sale: reserve (batched), checkout and release. Conventions, the hold
 * record and the PRELUDE they start with: sale-prelude-lua.ts; the host's and the sweeper's
 * scripts: sale-lifecycle-scripts.ts.
 */
import { PRELUDE } from './sale-prelude-lua.js';

// Reserve for a batch of N requests of one sale, decided one after the other in order, exactly as
// N separate calls would (the server batches the requests that arrive in the same event-loop
// turn, sale-reserve-batcher.ts, which also builds these arguments: reserveScriptCall).
// KEYS: 1-5, 6 requests, 7 room bans, 8 the sale's reserve rate limits, 9-11 waitlist (bans,
// waitlist, notices), 12 room voucher claims. ARGV: now, rlMax, rlWindowMs, sweepBatch, holdPrefix, holdSeq, then one per request:
// 'qty requestId userId' (ids never contain spaces). Only a request that gets a hold needs a hold
// id: the i-th request's is holdPrefix .. base36(holdSeq + i), made here.
// → {unitsSwept, answer1, answer2, ...}: each answer is 'N' (decided by this call) or 'R' (the
// stored first answer) followed by OK|holdId|qty|expiresAt|remaining or ERR|CODE|available; or 'E'
// followed by NOT_FOUND, BANNED or RATE_LIMITED (refused before deciding, nothing recorded).
// The rate limit: at most rlMax attempts per user per fixed window of rlWindowMs (on the scripts'
// clock), kept as userId → 'windowStart|count' in one hash per sale that expires a window after
// its last write, when every window in it is over.
export const RESERVE_SCRIPT = `${PRELUDE}
local DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz'
local function base36(n)
  local s = ''
  repeat
    local d = n % 36
    s = string.sub(DIGITS, d + 1, d + 1) .. s
    n = math.floor(n / 36)
  until n == 0
  return s
end
VOUCHER_CLAIMS = KEYS[12]
local n = #ARGV - 6
local out = {0}
if redis.call('EXISTS', KEYS[1]) == 0 then
  for i = 1, n do out[i + 1] = 'ENOT_FOUND' end
  return out
end
local now = clock(ARGV[1])
local rlMax, rlWindowMs = tonumber(ARGV[2]), tonumber(ARGV[3])
local rlWritten = false
local function rateLimited(user)
  local start, count = now, 1
  local w = redis.call('HGET', KEYS[8], user)
  if w then
    local s, c = string.match(w, '^(%d+)|(%d+)$')
    if s and now - tonumber(s) < rlWindowMs then start, count = tonumber(s), tonumber(c) + 1 end
  end
  if count > rlMax then return true end
  redis.call('HSET', KEYS[8], user, int(start) .. '|' .. count)
  rlWritten = true
  return false
end
-- Holds past their time go back first, so a unit in an expired hold is never refused (or, while
-- people wait, goes to the waitlist's head).
useWaitlist(now, KEYS[9], KEYS[10], KEYS[11])
out[1] = sweepDue(now, tonumber(ARGV[4]))
local s = redis.call('HMGET', KEYS[1], 'startsAt', 'endsAt', 'available', 'limit', 'holdMs')
local startsAt, endsAt, available, limit = tonumber(s[1]), tonumber(s[2]), tonumber(s[3]), tonumber(s[4])
local expiresAt = now + tonumber(s[5])
local holdPrefix, holdSeq = ARGV[5], tonumber(ARGV[6])
local taken = 0
for i = 1, n do
  local qty, requestId, user = string.match(ARGV[6 + i], '^(%d+) (%S+) (%S+)$')
  qty = tonumber(qty)
  local reqField = 'r|' .. user .. '|' .. requestId
  local first = redis.call('HGET', KEYS[6], reqField)
  local answer
  if redis.call('SISMEMBER', KEYS[7], user) == 1 then
    answer = 'EBANNED'
  elseif first then
    answer = 'R' .. first
  elseif rateLimited(user) then
    answer = 'ERATE_LIMITED'
  else
    local text
    if now < startsAt then text = 'ERR|SALE_NOT_STARTED|' .. available
    elseif now >= endsAt then text = 'ERR|SALE_ENDED|' .. available
    elseif tonumber(redis.call('HGET', KEYS[3], user) or '0') + qty > limit then text = 'ERR|LIMIT_EXCEEDED|' .. available
    elseif available < qty then text = 'ERR|SOLD_OUT|' .. available
    else
      local holdId = holdPrefix .. base36(holdSeq + i)
      available = available - qty
      taken = taken + qty
      redis.call('HINCRBY', KEYS[3], user, qty)
      redis.call('HSET', KEYS[2], holdId, packHold({ state = 'held', user = user, qty = qty, exp = expiresAt, order = '', at = int(now) }))
      redis.call('ZADD', KEYS[5], int(expiresAt), holdId)
      redis.call('ZADD', KEYS[4], 0, user .. '|' .. holdId)
      text = 'OK|' .. holdId .. '|' .. qty .. '|' .. int(expiresAt) .. '|' .. int(available)
    end
    redis.call('HSET', KEYS[6], reqField, text)
    answer = 'N' .. text
  end
  out[i + 1] = answer
end
if rlWritten then redis.call('PEXPIRE', KEYS[8], rlWindowMs) end
if taken > 0 then
  redis.call('HINCRBY', KEYS[1], 'available', -taken)
  redis.call('HINCRBY', KEYS[1], 'held', taken)
end
return out
`;

// KEYS: 1-5, 6 requests, 7 bought, 8 orders stream, 9 room buyers, 10 room bans, 11 room's order
// index (orderId → stream entry id), 12 price history, 13-15 waitlist (bans, waitlist, notices),
// 16 room vouchers, 17 room voucher claims. ARGV: userId, requestId, holdId, orderId, now, userName,
// roomId, saleId, voucherId|''. The order carries the ledger's `kind` (sale, buy-now, auction:
// every ledger that sells through these scripts); a sale's hash has none and is 'sale'.
// A hold is checked out at the price in force when it was taken: a standing ledger's price can
// change (standing-ledger.ts keeps its history, `price|currency|ms` scored by ms); a sale has no
// history and one price. The order made is kept (`o|<holdId>` in requests) for later replays.
// Vouchers (voucher-lua.ts): the voucher named, or else the one applied to the hold, is checked
// and consumed with the order; a voucher refusal is {'ERR', VOUCHER_*} (nothing recorded, the hold
// untouched, so the buyer may check out again without it). A waitlist offer checks out like a hold.
// Answer: OK|orderId|holdId|qty|unitPrice|amount|createdAt|productId|currency|voucherId|discount|paid
// or ERR|CODE|available; the reply's 4th element is offerDue (waitlist-lua.ts).
export const CHECKOUT_SCRIPT = `${PRELUDE}
VOUCHER_CLAIMS = KEYS[17]
local user, holdId = ARGV[1], ARGV[3]
if redis.call('SISMEMBER', KEYS[10], user) == 1 then return {'ERR', 'BANNED'} end
local reqField = 'c|' .. user .. '|' .. ARGV[2]
local first = redis.call('HGET', KEYS[6], reqField)
if first then return {'REPLAY', first, 0} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'ERR', 'NOT_FOUND'} end
local now = clock(ARGV[5])
useWaitlist(now, KEYS[13], KEYS[14], KEYS[15])
local swept = 0
local function answer(kind, text)
  redis.call('HSET', KEYS[6], reqField, text)
  return {kind, text, swept, offerDue()}
end
local function refuse(code)
  return answer('NEW', 'ERR|' .. code .. '|' .. redis.call('HGET', KEYS[1], 'available'))
end
local raw = redis.call('HGET', KEYS[2], holdId)
local h = raw and unpackHold(raw)
if not h or h.user ~= user then return refuse('NOT_FOUND') end
local s = redis.call('HMGET', KEYS[1], 'price', 'productId', 'currency', 'kind')
local unit, currency = s[1], s[3]
local price = tonumber(unit)
local voucherText = ''
local function orderText()
  return 'OK|' .. h.order .. '|' .. holdId .. '|' .. int(h.qty) .. '|' .. unit .. '|' .. int(price * h.qty) ..
    '|' .. h.at .. '|' .. s[2] .. '|' .. currency .. voucherText
end
-- A hold becomes at most one order: another requestId for a sold hold gets that same order.
if h.state == 'sold' then return answer('REPLAY', redis.call('HGET', KEYS[6], 'o|' .. holdId) or orderText()) end
if h.state == 'released' then return refuse('NOT_FOUND') end
if h.state == 'expired' then return refuse('HOLD_EXPIRED') end
if now >= h.exp then
  returnHold(holdId, h, 'expired')
  swept = h.qty
  return refuse('HOLD_EXPIRED')
end
local past = redis.call('ZREVRANGEBYSCORE', KEYS[12], h.at, '-inf', 'LIMIT', 0, 1)[1]
if past then
  unit, currency = string.match(past, '^([^|]*)|([^|]*)|')
  price = tonumber(unit)
end
local voucher, voucherRefusal = checkoutVoucher(KEYS[16], KEYS[17], holdId, user, ARGV[9], price * h.qty, now)
if voucherRefusal then return {'ERR', voucherRefusal} end
local was = h.state -- 'held', or 'offered': a waitlist conversion
h.state, h.order, h.at = 'sold', ARGV[4], int(now)
local amount = price * h.qty
local discount = voucher and voucher.discount or 0
if voucher then consumeVoucher(KEYS[16], KEYS[17], holdId, user, voucher, h.order) end
voucherText = '|' .. (voucher and voucher.id or '') .. '|' .. int(discount) .. '|' .. int(amount - discount)
redis.call('HSET', KEYS[2], holdId, packHold(h))
redis.call('HINCRBY', KEYS[1], was, -h.qty)
if was == 'offered' then redis.call('HINCRBY', KEYS[1], 'waitlistConversions', 1) end
redis.call('HINCRBY', KEYS[1], 'sold', h.qty)
redis.call('HINCRBY', KEYS[1], 'orders', 1)
redis.call('HINCRBY', KEYS[1], 'gmv', int(amount))
redis.call('ZREM', KEYS[4], user .. '|' .. holdId)
redis.call('ZREM', KEYS[5], holdId)
if redis.call('HINCRBY', KEYS[7], user, h.qty) == h.qty then redis.call('HINCRBY', KEYS[1], 'buyers', 1) end
-- A giveaway prize is not a purchase: its winner does not become one of the room's buyers (who
-- may enter a 'buyers' giveaway).
if s[4] ~= 'giveaway' then redis.call('SADD', KEYS[9], user) end
local entry = redis.call('XADD', KEYS[8], '*', 'orderId', h.order, 'kind', s[4] or 'sale', 'roomId', ARGV[7],
  'saleId', ARGV[8], 'holdId', holdId, 'productId', s[2], 'userId', user, 'userName', ARGV[6], 'qty', int(h.qty),
  'unitPrice', unit, 'amount', int(amount), 'currency', currency, 'requestId', ARGV[2], 'createdAt', h.at,
  'voucherId', voucher and voucher.id or '', 'discount', int(discount), 'paid', int(amount - discount))
redis.call('HSET', KEYS[11], h.order, entry)
local text = orderText()
redis.call('HSET', KEYS[6], 'o|' .. holdId, text)
return answer('NEW', text)
`;

// KEYS: 1-5, 6 room bans, 7-9 waitlist (bans, waitlist, notices), 10 room voucher claims.
// ARGV: userId, holdId, now. Releasing a waitlist offer declines it: the unit passes to the next in line.
// → {'OK', released 0|1, available, unitsReturned, offerDue} | {'ERR', code, available, unitsReturned, offerDue}
export const RELEASE_SCRIPT = `${PRELUDE}
VOUCHER_CLAIMS = KEYS[10]
if redis.call('SISMEMBER', KEYS[6], ARGV[1]) == 1 then return {'ERR', 'BANNED', 0, 0, ''} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'ERR', 'NOT_FOUND', 0, 0, ''} end
local now = clock(ARGV[3])
useWaitlist(now, KEYS[7], KEYS[8], KEYS[9])
local raw = redis.call('HGET', KEYS[2], ARGV[2])
local h = raw and unpackHold(raw)
local function available() return tonumber(redis.call('HGET', KEYS[1], 'available')) end
if not h or h.user ~= ARGV[1] then return {'ERR', 'NOT_FOUND', available(), 0, ''} end
if h.state == 'sold' then return {'ERR', 'CONFLICT', available(), 0, ''} end
if h.state == 'expired' then return {'ERR', 'HOLD_EXPIRED', available(), 0, ''} end
if h.state == 'released' then return {'OK', 0, available(), 0, ''} end
if now >= h.exp then
  returnHold(ARGV[2], h, 'expired')
  return {'ERR', 'HOLD_EXPIRED', available(), h.qty, offerDue()}
end
returnHold(ARGV[2], h, 'released')
return {'OK', 1, available(), h.qty, offerDue()}
`;
