/**
 * A sale's life outside a buyer's requests: create, the auction/giveaway award (a one-unit sale
 * already held), restock, stop, the sweeper's pass and the stock frames. Conventions, the hold
 * record and the PRELUDE they start with: sale-prelude-lua.ts; a buyer's scripts: sale-scripts.ts.
 */
import { DEADLINE_LUA } from '../../core/redis-guard.js';
import { SALE_MAX_DURATION_SEC } from '../../protocol/index.js';
import { PRELUDE } from './sale-prelude-lua.js';

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
