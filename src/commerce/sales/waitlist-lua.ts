/**
 * The sold-out waitlist, in Lua: the helpers interpolated into the sale scripts' PRELUDE
 * (sale-prelude-lua.ts) and the waitlist's own scripts (join / leave, the positions pass).
 *
 * The rules (docs/PROTOCOL.md, "Waitlist"):
 * - A viewer joins while the sale is open and sold out (available 0). The list is a sorted set
 *   userId → a per-sale sequence number taken inside the join script, so the order is exactly the
 *   order in which Redis ran the joins (FIFO by Redis time, no ties). One entry per user.
 * - One waitlist entry is a seat for ONE unit. Every unit that comes back (an expired or released
 *   hold, a lapsed or declined offer, a restock) goes to the head entry as an offer while the list
 *   is not empty and the sale is open; only when the list is empty (or the sale is over) does it go
 *   to `available`. So `available` stays 0 while anyone waits, and a reserve cannot jump the line.
 * - A head entry that cannot take the unit (banned in the room, or at the per-user limit) is
 *   dropped (counted in `waitlistDropped`) and the unit goes to the next one.
 * - An offer is a hold of its own: record `offered|userId|1|expiresAt||at` in the holds hash, in
 *   the expiries set and the user's held-by set like a hold, counted in the quota and in the
 *   sale's `offered` counter. Ledger: initial + added = available + held + offered + sold.
 *   Checking it out sells it (counted in `waitlistConversions`); releasing it passes it on; at its
 *   expiry it lapses (`waitlistLapsed`) and passes on.
 * - Each offer is also pushed to the sale's notices list (`holdId|userId|expiresAt`), which the
 *   node's waitlist pass pops to tell the user (`sale:offer`), so an offer made inside any script
 *   on any node (a reserve's sweep, the sweeper, a release) is announced.
 *
 * Buy-now: its offers (standing ledgers) sell through the same scripts and have the same list
 * (`buy:waitlist`). A host's stock edit reaches a buy-now ledger through standing-ledger.ts's
 * UPSERT_SCRIPT, which routes units it adds through giveBack too (a decrease takes only available
 * units, never held or offered ones); taking the product off sale (`listed` 0) closes the list.
 *
 * Positions: only the first WAITLIST_POSITIONS_TOLD entries (the told window) are told each move
 * personally; further back, the join's ack (position, ticket) and the room's frame (length, the
 * head's ticket) bound the position: it is at most min(ticket - headTicket + 1, length) (exact
 * unless someone between the head and the user left), and entering the window brings a personal
 * update.
 *
 * Sale hash fields used here: offered, offerMs (written by each join from WAITLIST_OFFER_SEC),
 * waitlistSeq, offerSeq, waitlistToldFrame, waitlistOffers, waitlistConversions, waitlistLapsed, waitlistDropped.
 */
import { CLOCK_LUA } from '../../core/lua-clock.js';

/** Offer duration when no join has written the sale's `offerMs` yet (cannot happen with a list). */
export const DEFAULT_OFFER_MS = 60_000;

/**
 * Interpolated into the PRELUDE after packHold. A script that can give units back calls
 * `useWaitlist(now, bansKey, waitlistKey, noticesKey)` first; without it (award, create) units go
 * to `available` as before. `giveBack(units)` is the one place where returning units are placed.
 */
export const WAITLIST_PRELUDE_LUA = `
local WL = nil
local function useWaitlist(now, bans, list, notices)
  WL = { now = now, bans = bans, list = list, notices = notices, firstOffer = nil }
end
-- Units leave a hold, an offer or a restock: the waitlist's heads first (one unit per entry),
-- the rest to available.
local function giveBack(units)
  if WL and units > 0 and redis.call('ZCARD', WL.list) > 0 then
    local s = redis.call('HMGET', KEYS[1], 'endsAt', 'limit', 'offerMs', 'id')
    if WL.now < tonumber(s[1]) then
      local limit, offerMs = tonumber(s[2]), tonumber(s[3] or '${DEFAULT_OFFER_MS}')
      while units > 0 do
        local head = redis.call('ZPOPMIN', WL.list)[1]
        if not head then break end
        if redis.call('SISMEMBER', WL.bans, head) == 1 or tonumber(redis.call('HGET', KEYS[3], head) or '0') + 1 > limit then
          redis.call('HINCRBY', KEYS[1], 'waitlistDropped', 1)
        else
          local holdId = s[4] .. '.o' .. redis.call('HINCRBY', KEYS[1], 'offerSeq', 1)
          local exp = WL.now + offerMs
          redis.call('HSET', KEYS[2], holdId, packHold({ state = 'offered', user = head, qty = 1, exp = exp, order = '', at = int(WL.now) }))
          redis.call('ZADD', KEYS[5], int(exp), holdId)
          redis.call('ZADD', KEYS[4], 0, head .. '|' .. holdId)
          redis.call('HINCRBY', KEYS[3], head, 1)
          redis.call('HINCRBY', KEYS[1], 'offered', 1)
          redis.call('HINCRBY', KEYS[1], 'waitlistOffers', 1)
          redis.call('RPUSH', WL.notices, holdId .. '|' .. head .. '|' .. int(exp))
          if not WL.firstOffer or exp < WL.firstOffer then WL.firstOffer = exp end
          units = units - 1
        end
      end
    end
  end
  if units > 0 then redis.call('HINCRBY', KEYS[1], 'available', units) end
end
-- The earliest expiry of the offers this call made ('' when none): the caller lowers the sale's
-- due-index entry to it, so the sweeper passes a lapsed offer on in time.
local function offerDue()
  return (WL and WL.firstOffer) and int(WL.firstOffer) or ''
end
`;

// KEYS: 1 sale, 2 waitlist, 3 told positions, 4 room bans, 5 quota. ARGV: userId, 'join'|'leave',
// now|'', max entries, offerMs, told window (WAITLIST_POSITIONS_TOLD).
// → {'OK', position, length, changed 0|1, ticket} | {'ERR', code}. Position 0: not on the list
// (after a leave; ticket 0). A join of a user already listed answers their position (changed 0).
// `ticket` is the entry's join sequence number (its score). A ledger taken off sale (`listed` 0: a
// buy-now product with no stock) has no waitlist: NOT_FOUND. The told positions record a join only
// inside the told window (so that hash stays bounded by the window, not the list).
export const WAITLIST_JOIN_SCRIPT = `${CLOCK_LUA}
local user = ARGV[1]
if redis.call('SISMEMBER', KEYS[4], user) == 1 then return {'ERR', 'BANNED'} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'ERR', 'NOT_FOUND'} end
if ARGV[2] == 'leave' then
  local removed = redis.call('ZREM', KEYS[2], user)
  redis.call('HDEL', KEYS[3], user)
  return {'OK', 0, redis.call('ZCARD', KEYS[2]), removed, 0}
end
local rank = redis.call('ZRANK', KEYS[2], user)
if rank then return {'OK', rank + 1, redis.call('ZCARD', KEYS[2]), 0, redis.call('ZSCORE', KEYS[2], user)} end
local now = clock(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'startsAt', 'endsAt', 'available', 'limit', 'listed')
if s[5] == '0' then return {'ERR', 'NOT_FOUND'} end
if now < tonumber(s[1]) then return {'ERR', 'SALE_NOT_STARTED'} end
if now >= tonumber(s[2]) then return {'ERR', 'SALE_ENDED'} end
if tonumber(s[3]) > 0 then return {'ERR', 'WAITLIST_NOT_SOLD_OUT'} end
if tonumber(redis.call('HGET', KEYS[5], user) or '0') + 1 > tonumber(s[4]) then return {'ERR', 'LIMIT_EXCEEDED'} end
local length = redis.call('ZCARD', KEYS[2])
if length >= tonumber(ARGV[4]) then return {'ERR', 'WAITLIST_FULL'} end
local ticket = redis.call('HINCRBY', KEYS[1], 'waitlistSeq', 1)
redis.call('ZADD', KEYS[2], ticket, user)
redis.call('HSET', KEYS[1], 'offerMs', ARGV[5])
if length + 1 <= tonumber(ARGV[6]) then redis.call('HSET', KEYS[3], user, length + 1) end
return {'OK', length + 1, length + 1, 1, ticket}
`;

// The positions pass of one ledger (run by one node at a time, waitlist-broadcasts.ts). Bounded
// by the told window W (WAITLIST_POSITIONS_TOLD), not by the list: it reads the first W entries
// (ZRANGE 0..W-1) and the told hash, which holds only users told a position inside the window
// (at most W, plus those who left the list since the last pass).
// KEYS: 1 sale, 2 waitlist, 3 told positions, 4 notices. ARGV: max notices to pop, W.
// → {length, frameChanged 0|1, headTicket, n, notice1..noticeN, user1, position1, ...}: the offers
// to announce, then every user in the window whose position differs from what they were last told
// (one entering the window is told for the first time); position 0 for users told a position
// before who are no longer listed (offered, dropped, left, or the list closed). The told positions
// are updated to match. `frameChanged`: the room's frame (length, headTicket) differs from the last
// one this pass reported. headTicket: the first entry's ticket (0 when the list is empty).
export const WAITLIST_POSITIONS_SCRIPT = `
local length = redis.call('ZCARD', KEYS[2])
local window = tonumber(ARGV[2])
local head = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2] or '0'
local frame = length .. '|' .. head
local changed = 0
if redis.call('HGET', KEYS[1], 'waitlistToldFrame') ~= frame then
  redis.call('HSET', KEYS[1], 'waitlistToldFrame', frame)
  changed = 1
end
local notices = redis.call('LPOP', KEYS[4], tonumber(ARGV[1])) or {}
local out = {length, changed, head, #notices}
for _, n in ipairs(notices) do out[#out + 1] = n end
local listed = {}
for i, user in ipairs(redis.call('ZRANGE', KEYS[2], 0, window - 1)) do
  listed[user] = true
  local told = redis.call('HGET', KEYS[3], user)
  if told ~= tostring(i) then
    redis.call('HSET', KEYS[3], user, i)
    out[#out + 1] = user
    out[#out + 1] = i
  end
end
for _, user in ipairs(redis.call('HKEYS', KEYS[3])) do
  if not listed[user] then
    redis.call('HDEL', KEYS[3], user)
    -- Still listed but behind the window (the window was made smaller): not told, as any other
    -- entry back there; it is told again on entering the window.
    if not redis.call('ZSCORE', KEYS[2], user) then
      out[#out + 1] = user
      out[#out + 1] = 0
    end
  end
end
return out
`;
