/**
 * The Lua scripts that own a sale's units. Each runs atomically inside Redis, so whatever the
 * number of nodes and buyers, every unit is in exactly one of available / held / sold and
 * initial + added = available + held + sold after every script.
 *
 * Conventions shared by all scripts:
 * - KEYS[1..5] are always the sale hash, holds, quota, held-by and expiries (see sale-keys.ts);
 *   script-specific keys follow. All carry the room's hash tag.
 * - Time comes from ARGV (tests drive a virtual clock) or, when that is '', from Redis TIME, so
 *   every node agrees on when a sale opens and a hold expires whatever its own clock says.
 * - A hold record is `state|userId|qty|expiresAt|orderId|at`; state is held, sold, released or
 *   expired, or offered (a waitlist offer: a one-unit hold made by the scripts, waitlist-lua.ts).
 *   Records stay after the hold ends so a late checkout can tell HOLD_EXPIRED apart.
 * - Waitlist: a script that can give units back calls useWaitlist(...) with its last three keys
 *   (room bans, the sale's waitlist, its offer notices) so returning units go to the waitlist's
 *   head as offers first (giveBack, waitlist-lua.ts); the ledger is then
 *   initial + added = available + held + offered + sold.
 * - Scripts that answer a client request store their first answer under the requestId and
 *   return {'NEW', answer, unitsSwept} the first time, {'REPLAY', answer, 0} afterwards;
 *   {'ERR', CODE} means nothing was recorded or changed (no such sale, rate limited, banned).
 * - The host's writes (create, restock) also take a deadline (core/redis-guard.ts): reaching Redis
 *   after it — the host was told UNAVAILABLE and may retry — they change nothing and answer
 *   {'ERR', 'LATE'}. Their requestId is optional; '' means none (nothing remembered).
 * - Every action of a buyer first reads the room's ban set (`{room:<id>}:bans`, written by
 *   moderation) inside the same script, so a ban is never raced by a reserve or checkout in flight.
 * - Scripts that can change when a sale next needs the sweeper return that time (`nextDue`); the
 *   sweeper keeps it in the global due index (sale-index-scripts.ts), which no room script touches.
 */
import { DEADLINE_LUA } from '../../core/redis-guard.js';
import { SALE_MAX_DURATION_SEC } from '../../protocol/index.js';
import { WAITLIST_PRELUDE_LUA } from './waitlist-lua.js';
// Vouchers: claims helpers and VOUCHER_CLAIMS, which scripts that end holds bind (voucher-lua.ts).
import { VOUCHER_LUA } from '../vouchers/voucher-lua.js';
import { CLOCK_LUA } from '../../core/lua-clock.js';

/** The helpers every script that moves units starts with; standing-ledger.ts's upsert uses it too. */
export const PRELUDE = `
${CLOCK_LUA}
local function unpackHold(raw)
  local st, u, q, e, o, a = string.match(raw, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  return { state = st, user = u, qty = tonumber(q), exp = tonumber(e), order = o, at = a }
end
local function packHold(h)
  return h.state .. '|' .. h.user .. '|' .. int(h.qty) .. '|' .. int(h.exp) .. '|' .. h.order .. '|' .. h.at
end
${WAITLIST_PRELUDE_LUA}
${VOUCHER_LUA}
-- A hold (or a waitlist offer) leaves 'held' / 'offered' (expired or released): its units go
-- back at once, to the waitlist's head first (giveBack, waitlist-lua.ts), and a voucher applied
-- to it returns to its owner (returnVoucher, voucher-lua.ts).
local function returnHold(holdId, h, state)
  local was = h.state -- 'held' or 'offered': the counter the units leave
  h.state = state
  redis.call('HSET', KEYS[2], holdId, packHold(h))
  redis.call('HINCRBY', KEYS[1], was, -h.qty)
  if was == 'offered' and state == 'expired' then redis.call('HINCRBY', KEYS[1], 'waitlistLapsed', 1) end
  redis.call('HINCRBY', KEYS[3], h.user, -h.qty)
  redis.call('ZREM', KEYS[4], h.user .. '|' .. holdId)
  redis.call('ZREM', KEYS[5], holdId)
  giveBack(h.qty)
  returnVoucher(holdId, h)
end
-- A hold or an offer that can still be checked out or released.
local function live(h) return h.state == 'held' or h.state == 'offered' end
-- When the sweeper must next look at this sale: its first hold expiry, its opening (countdown)
-- and its end, whichever comes first and is still pending; '' when nothing is pending.
local function nextDue()
  local s = redis.call('HMGET', KEYS[1], 'startsAt', 'endsAt', 'opened', 'ended')
  local due = nil
  local first = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
  if first[2] then due = tonumber(first[2]) end
  if s[3] ~= '1' and (not due or tonumber(s[1]) < due) then due = tonumber(s[1]) end
  if s[4] ~= '1' and (not due or tonumber(s[2]) < due) then due = tonumber(s[2]) end
  return due and int(due) or ''
end
-- Expire up to batch holds that are due; returns the units given back.
local function sweepDue(now, batch)
  local units = 0
  for _, holdId in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', int(now), 'LIMIT', 0, batch)) do
    local raw = redis.call('HGET', KEYS[2], holdId)
    local h = raw and unpackHold(raw)
    if h and live(h) then
      returnHold(holdId, h, 'expired')
      units = units + h.qty
    else
      redis.call('ZREM', KEYS[5], holdId)
    end
  end
  return units
end
`;

// KEYS: 1-5, 6 active set, 7 room's sale list, 8 room's start requests. ARGV: now, startInMs,
// durationMs|'', endsAt|'', saleId, maxRunning, deadline, request field|'', then field, value, ...
// of the definition.
// → {'OK', startsAt, endsAt, nextDue} | {'REPLAY', saleId of the first call} | {'ERR', code}
// (LIMIT_EXCEEDED: maxRunning sales counting down or open; LATE: past the deadline; TOO_LONG:
// endsAt more than SALE_MAX_DURATION_SEC after the start)
export const CREATE_SCRIPT = `${PRELUDE}
local deadline = tonumber(ARGV[7])
${DEADLINE_LUA}
if ARGV[8] ~= '' then
  local first = redis.call('HGET', KEYS[8], ARGV[8])
  if first then return {'REPLAY', first} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'ERR', 'CONFLICT'} end
if redis.call('SCARD', KEYS[6]) >= tonumber(ARGV[6]) then return {'ERR', 'LIMIT_EXCEEDED'} end
local now = clock(ARGV[1])
local startsAt = now + tonumber(ARGV[2])
local endsAt = ARGV[3] ~= '' and startsAt + tonumber(ARGV[3]) or tonumber(ARGV[4])
if endsAt <= startsAt then return {'ERR', 'BAD_REQUEST'} end
if endsAt - startsAt > ${SALE_MAX_DURATION_SEC * 1000} then return {'ERR', 'TOO_LONG'} end
local fields = {}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HSET', KEYS[1], 'startsAt', int(startsAt), 'endsAt', int(endsAt), 'createdAt', int(now),
  'added', 0, 'available', redis.call('HGET', KEYS[1], 'initial'), 'held', 0, 'sold', 0,
  'orders', 0, 'gmv', 0, 'buyers', 0, 'opened', ARGV[2] == '0' and 1 or 0, 'ended', 0, 'endReason', '')
redis.call('SADD', KEYS[6], ARGV[5])
redis.call('ZADD', KEYS[7], int(now), ARGV[5])
-- Only a sale made is remembered (a refusal changed nothing, so a retry may simply try again).
if ARGV[8] ~= '' then redis.call('HSET', KEYS[8], ARGV[8], ARGV[5]) end
return {'OK', int(startsAt), int(endsAt), nextDue()}
`;

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

// A sale of one unit already held by one buyer: how an auction's winner (and a giveaway's, at price
// 0) gets their hold, so it is checked out, expires and counts in the ledger and figures exactly
// like a flash-sale hold. The sale is over from the start (ended, endReason = its kind): nobody can
// reserve or restock it, and the unit goes back to `available` (never to anyone) if the hold
// expires unpaid. It is not in the room's active set, so no viewer sees it as a flash sale. Its
// `kind` ('auction' | 'giveaway') is its order's kind.
// KEYS: 1-5, 6 room's sale list, 7 room's start requests. ARGV: now, request field, saleId, holdId,
// userId, kind, then field, value, ... of the definition (qty 1). Replays by request field, so a
// racing second award of the same lot (or giveaway winner) makes nothing new.
// → {'NEW' | 'REPLAY', 'saleId|holdId|expiresAt', nextDue} | {'ERR', code}
export const AWARD_SCRIPT = `${PRELUDE}
local first = redis.call('HGET', KEYS[7], ARGV[2])
if first then return {'REPLAY', first, ''} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'ERR', 'CONFLICT'} end
local now = clock(ARGV[1])
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HSET', KEYS[1], 'startsAt', int(now), 'endsAt', int(now), 'createdAt', int(now), 'added', 0, 'available', 0,
  'held', 1, 'sold', 0, 'orders', 0, 'gmv', 0, 'buyers', 0, 'opened', 1, 'ended', 1, 'endReason', ARGV[6], 'kind', ARGV[6])
local expiresAt = now + tonumber(redis.call('HGET', KEYS[1], 'holdMs'))
local user, holdId = ARGV[5], ARGV[4]
redis.call('HINCRBY', KEYS[3], user, 1)
redis.call('HSET', KEYS[2], holdId, packHold({ state = 'held', user = user, qty = 1, exp = expiresAt, order = '', at = int(now) }))
redis.call('ZADD', KEYS[5], int(expiresAt), holdId)
redis.call('ZADD', KEYS[4], 0, user .. '|' .. holdId)
redis.call('ZADD', KEYS[6], int(now), ARGV[3])
local text = ARGV[3] .. '|' .. holdId .. '|' .. int(expiresAt)
redis.call('HSET', KEYS[7], ARGV[2], text)
return {'NEW', text, nextDue()}
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

// KEYS: 1-5, 6 requests, 7-9 waitlist (bans, waitlist, notices). ARGV: quantity, now, deadline,
// request field|''. New units go to the waitlist's head first. `held` in the answer counts the
// offers too (clients see an offer as a hold; the ledger separates them).
// → {'NEW' | 'REPLAY', 'OK|available|added|held|sold', offerDue} | {'ERR', code} (nothing recorded)
export const RESTOCK_SCRIPT = `${PRELUDE}
local deadline = tonumber(ARGV[3])
${DEADLINE_LUA}
if ARGV[4] ~= '' then
  local first = redis.call('HGET', KEYS[6], ARGV[4])
  if first then return {'REPLAY', first, ''} end
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'ERR', 'NOT_FOUND'} end
local now = clock(ARGV[2])
if now >= tonumber(redis.call('HGET', KEYS[1], 'endsAt')) then return {'ERR', 'SALE_ENDED'} end
useWaitlist(now, KEYS[7], KEYS[8], KEYS[9])
redis.call('HINCRBY', KEYS[1], 'added', ARGV[1])
giveBack(tonumber(ARGV[1]))
local s = redis.call('HMGET', KEYS[1], 'available', 'added', 'held', 'sold', 'offered')
local text = 'OK|' .. s[1] .. '|' .. s[2] .. '|' .. int(tonumber(s[3]) + tonumber(s[5] or '0')) .. '|' .. s[4]
if ARGV[4] ~= '' then redis.call('HSET', KEYS[6], ARGV[4], text) end
return {'NEW', text, offerDue()}
`;

// KEYS: 1 sale, 2 active set, 3 waitlist. ARGV: now, saleId, endReason. Ends the sale now; existing
// holds and waitlist offers may still be checked out until they expire (then their units go to
// available). The waitlist closes: its entries are dropped (the positions pass tells them 0).
// → {'OK', now} | {'ERR', code}
export const STOP_SCRIPT = `${PRELUDE}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'ERR', 'NOT_FOUND'} end
local now = clock(ARGV[1])
if now >= tonumber(redis.call('HGET', KEYS[1], 'endsAt')) then return {'ERR', 'SALE_ENDED'} end
redis.call('HSET', KEYS[1], 'endsAt', int(now), 'endReason', ARGV[3], 'ended', 1)
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3])
return {'OK', int(now)}
`;

// KEYS: 1-5, 6 requests, 7 bought, 8 active set, 9-11 waitlist (bans, waitlist, notices), 12 told
// positions, 13 room voucher claims. ARGV: now, batch, saleId, retentionMs. A lapsed offer passes
// to the next in line; at the sale's end the waitlist closes (as in STOP).
// Safe to run on every node at once: each hold is expired by exactly one call, and exactly one
// call sees a countdown finish (justOpened) or the sale end (justEnded) and announces it.
// → {'GONE'} | {'OK', unitsReturned, justOpened, justEnded, retired, sold, nextDue}
export const SWEEP_SCRIPT = `${PRELUDE}
VOUCHER_CLAIMS = KEYS[13]
if redis.call('EXISTS', KEYS[1]) == 0 then return {'GONE'} end
local now = clock(ARGV[1])
useWaitlist(now, KEYS[9], KEYS[10], KEYS[11])
local units = sweepDue(now, tonumber(ARGV[2]))
local s = redis.call('HMGET', KEYS[1], 'startsAt', 'endsAt', 'opened', 'ended', 'held', 'sold', 'offered')
local over = now >= tonumber(s[2])
local justOpened, justEnded = 0, 0
if not over and now >= tonumber(s[1]) and s[3] ~= '1' then
  redis.call('HSET', KEYS[1], 'opened', 1)
  justOpened = 1
end
if over and s[4] ~= '1' then
  redis.call('HSET', KEYS[1], 'ended', 1, 'endReason', 'time')
  redis.call('SREM', KEYS[8], ARGV[3])
  justEnded = 1
end
if over then redis.call('DEL', KEYS[10]) end
-- Over with no hold left: nothing can change any more. Keep the records for the retention time
-- (ledger, replays of old requests), then let Redis drop them.
local retired = 0
if over and tonumber(s[5]) == 0 and tonumber(s[7] or '0') == 0 then
  for i = 1, 7 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
  for i = 11, 12 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
  retired = 1
end
return {'OK', units, justOpened, justEnded, retired, tonumber(s[6]), nextDue()}
`;

// KEYS: 1 sale, 2 frame. ARGV: ttlMs. → {available, held, sold} the room should be told, or nil
// when that is exactly what it was last told (by a stock frame or a sold-out): after a sell-out
// the rush's remaining taps are refusals that change nothing, so no frame follows the sold-out.
export const STOCK_FRAME_SCRIPT = `
local s = redis.call('HMGET', KEYS[1], 'available', 'held', 'sold', 'offered')
if not s[1] then return nil end
-- Clients see a waitlist offer as a hold (held counts both; the ledger separates them).
s[2] = string.format('%d', tonumber(s[2]) + tonumber(s[4] or '0'))
s[4] = nil
local f = redis.call('HMGET', KEYS[2], 'available', 'held', 'sold')
if f[1] == s[1] and f[2] == s[2] and f[3] == s[3] then return nil end
redis.call('HSET', KEYS[2], 'available', s[1], 'held', s[2], 'sold', s[3])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return s
`;

// KEYS: 1 sale, 2 frame. ARGV: ttlMs. A reserve took the last unit: → {0, held, sold} for the
// sold-out announcement (recorded as the room's last frame), or nil when units came back in the
// meantime (the next stock frame tells that instead).
export const SOLD_OUT_FRAME_SCRIPT = `
local s = redis.call('HMGET', KEYS[1], 'available', 'held', 'sold', 'offered')
if s[1] ~= '0' then return nil end
s[2] = string.format('%d', tonumber(s[2]) + tonumber(s[4] or '0'))
s[4] = nil
redis.call('HSET', KEYS[2], 'available', s[1], 'held', s[2], 'sold', s[3])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return s
`;
