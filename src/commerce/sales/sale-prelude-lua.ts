/**
 * What the Lua scripts that own a sale's units share: the PRELUDE every one of them starts with,
 * and the conventions they keep (the scripts: sale-scripts.ts for a buyer's reserve, checkout and
 * release; sale-lifecycle-scripts.ts for create, award, restock, stop, sweep and the stock frames).
 *
 * The scripts that own a sale's units. Each runs atomically inside Redis, so whatever the
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
