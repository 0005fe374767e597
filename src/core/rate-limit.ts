/**
 * A fixed-window rate limit as a Lua fragment, so domain scripts check the limit and do their
 * work in the same atomic round trip. Expects `rlKey`, `rlMax`, `rlWindowMs` locals; returns the
 * RATE_LIMITED marker when over.
 */
export const RATE_LIMIT_LUA = `
local rlCount = redis.call('INCR', rlKey)
if rlCount == 1 then redis.call('PEXPIRE', rlKey, rlWindowMs) end
if rlCount > rlMax then return {'ERR', 'RATE_LIMITED'} end
`;

/** Lua scripts answer `{'ERR', CODE}` or `{'OK', ...}`; this splits the two. */
export type ScriptReply = [string, ...(string | number)[]];
