/**
 * The clock every time-keeping Lua script shares: `clock(arg)` is the ARGV virtual time when one is
 * given (tests drive a virtual clock) or else Redis TIME in ms, so every node agrees on when
 * something opens, expires or closes whatever its own clock says; `int(n)` formats a number
 * without an exponent for keys, scores and answers.
 */
export const CLOCK_LUA = `
local function clock(arg)
  if arg and arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function int(n) return string.format('%d', n) end
`;
