/**
 * Lua shared by the voucher scripts (voucher-scripts.ts) and interpolated into the sale scripts'
 * prelude (sales/sale-prelude-lua.ts), so a checkout consumes a voucher and a hold that ends unpaid
 * gives its voucher back in the same atomic step as the hold itself. Expects `int` (the sale
 * prelude's, or voucher-scripts.ts's) to be defined before it.
 *
 * A claim is `state|claimedAt|expiresAt|holdId|holdExpiresAt|orderId|requestId` in the room's
 * claims hash (voucher-keys.ts), field `<voucherId>|<userId>`; `h|<holdId>` → voucherId links a
 * hold to the voucher applied to it. States stored: claimed, applied (to holdId, until
 * holdExpiresAt), used (by orderId). "Expired" is never stored: a claimed voucher past expiresAt
 * is expired when read, so no sweep is needed for it.
 *
 * Which scripts give vouchers back: every sale script that can end a hold unpaid (reserve's and
 * the sweeper's expiry pass, checkout's late expiry, release) binds the claims key with
 * `VOUCHER_CLAIMS = KEYS[n]` before anything else; returnHold then calls returnVoucher. A script
 * that ends a hold without binding it leaves the claim `applied` to a hold whose time is over,
 * which every reader already treats as claimed (claimAppliedTo), so the voucher is never lost.
 */
export const VOUCHER_LUA = `
-- The room's voucher claims hash, when the running script was given it (see voucher-lua.ts).
local VOUCHER_CLAIMS = nil
local function unpackClaim(raw)
  if not raw then return nil end
  local st, c, e, hd, he, o, r = string.match(raw, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  if not st then return nil end
  return { state = st, claimedAt = c, exp = tonumber(e), hold = hd, holdExp = tonumber(he) or 0, order = o, req = r }
end
local function packClaim(c)
  return c.state .. '|' .. c.claimedAt .. '|' .. int(c.exp) .. '|' .. c.hold .. '|' .. int(c.holdExp) .. '|' .. c.order .. '|' .. c.req
end
-- The hold a claim is on right now, or nil: applied, and that hold's time not over.
local function claimAppliedTo(c, now)
  if c.state == 'applied' and c.holdExp > now then return c.hold end
  return nil
end
-- The claim at field goes back to 'claimed' if it is applied to holdId.
local function unapplyClaim(claims, field, holdId)
  local c = unpackClaim(redis.call('HGET', claims, field))
  if c and c.state == 'applied' and c.hold == holdId then
    c.state, c.hold, c.holdExp = 'claimed', '', 0
    redis.call('HSET', claims, field, packClaim(c))
  end
end
-- A hold left 'held' unpaid (released or expired): its voucher returns to its owner, usable
-- again until the claim's own expiresAt (already past: it reads as expired).
local function returnVoucher(holdId, h)
  if not VOUCHER_CLAIMS then return end
  local vid = redis.call('HGET', VOUCHER_CLAIMS, 'h|' .. holdId)
  if not vid then return end
  redis.call('HDEL', VOUCHER_CLAIMS, 'h|' .. holdId)
  unapplyClaim(VOUCHER_CLAIMS, vid .. '|' .. h.user, holdId)
end
-- Minor units off an order of amount: percent rounds down, an amount off never exceeds the order.
local function voucherDiscount(def, amount)
  if def.kind == 'percent' then return math.floor(amount * def.value / 100) end
  return math.min(def.value, amount)
end
-- The voucher an order of holdId (held by user, worth amount) would use: the one named
-- (wanted ~= '') or else the one applied to the hold. Changes nothing.
-- → nil (no voucher), or the voucher {id, field, claim, applied, discount}, or nil, refusal code.
local function checkoutVoucher(defs, claims, holdId, user, wanted, amount, now)
  local applied = redis.call('HGET', claims, 'h|' .. holdId)
  local vid = wanted ~= '' and wanted or applied
  if not vid then return nil end
  local raw = redis.call('HGET', defs, vid)
  local c = unpackClaim(redis.call('HGET', claims, vid .. '|' .. user))
  if not raw or not c then return nil, 'VOUCHER_NOT_FOUND' end
  if c.state == 'used' then return nil, 'VOUCHER_USED' end
  -- Applied to this very hold: valid until the hold ends, even past the claim's expiresAt.
  if not (c.state == 'applied' and c.hold == holdId) then
    if claimAppliedTo(c, now) then return nil, 'VOUCHER_IN_USE' end
    if now >= c.exp then return nil, 'VOUCHER_EXPIRED' end
  end
  local def = cjson.decode(raw)
  if amount < def.minSpend then return nil, 'VOUCHER_MIN_SPEND' end
  return { id = vid, field = vid .. '|' .. user, claim = c, applied = applied, discount = voucherDiscount(def, amount) }
end
-- The order orderId of holdId took voucher v (from checkoutVoucher): it is used, the hold's link
-- goes (another voucher applied to the hold returns to the buyer), the figures count it.
local function consumeVoucher(defs, claims, holdId, user, v, orderId)
  if v.applied then
    redis.call('HDEL', claims, 'h|' .. holdId)
    if v.applied ~= v.id then unapplyClaim(claims, v.applied .. '|' .. user, holdId) end
  end
  local c = v.claim
  -- Still linked to another hold whose time is over (not swept yet): drop that stale link.
  if c.state == 'applied' and c.hold ~= holdId and redis.call('HGET', claims, 'h|' .. c.hold) == v.id then
    redis.call('HDEL', claims, 'h|' .. c.hold)
  end
  c.state, c.hold, c.holdExp, c.order = 'used', holdId, 0, orderId
  redis.call('HSET', claims, v.field, packClaim(c))
  redis.call('HINCRBY', defs, v.id .. '|redeemed', 1)
  redis.call('HINCRBY', defs, v.id .. '|discount', int(v.discount))
  redis.call('HINCRBY', defs, 't|redemptions', 1)
  redis.call('HINCRBY', defs, 't|discount', int(v.discount))
end
`;
