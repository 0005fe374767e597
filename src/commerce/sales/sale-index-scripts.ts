/**
 * The scripts of the global due index (`sales:due`), apart from the room scripts in
 * sale-scripts.ts: they touch that one global key and never a room's keys.
 */
import { CLOCK_LUA } from '../../core/lua-clock.js';


// ---- The global due index -------------------------------------------------------------------
// `sales:due` is a sorted set `<roomId>/<saleId>` → the time (ms, Redis clock) the sweeper must
// next look at the sale. It is global, so these scripts touch it alone (one key, one slot) and
// never a room's keys; the room scripts (sale-scripts.ts, sale-lifecycle-scripts.ts) return the times. What keeps an entry from ever
// being later than its sale needs, without a transaction across slots:
// - the entry is written before its sale exists (create), and a reserve lowers it (INDEX_LOWER)
//   before its script can add a hold, so a process killed between two commands loses nothing;
// - the sweeper claims due entries by moving them to a lease (INDEX_CLAIM), and sets the sale's
//   next time only if nobody lowered the entry since and the lease is far from over
//   (INDEX_RESCHEDULE); otherwise the entry stays early and the sale is simply swept once more.

// KEYS: 1 index. ARGV: now|'', max, leaseMs. → {lease, ref1, ref2, ...}: up to max due entries,
// each now leased to the caller until `lease`.
export const INDEX_CLAIM_SCRIPT = `${CLOCK_LUA}
local now = clock(ARGV[1])
local lease = now + tonumber(ARGV[3])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', int(now), 'LIMIT', 0, tonumber(ARGV[2]))
local out = {int(lease)}
for _, ref in ipairs(due) do
  redis.call('ZADD', KEYS[1], int(lease), ref)
  out[#out + 1] = ref
end
return out
`;

// KEYS: 1 index. ARGV: ref, lease, nextDue ('' = unindex), now|'', safetyMs. → 1 set, 0 left alone
// (lowered by a reserve meanwhile, claimed again, or too close to the lease's end to be sure).
export const INDEX_RESCHEDULE_SCRIPT = `${CLOCK_LUA}
local cur = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not cur or tonumber(cur) ~= tonumber(ARGV[2]) then return 0 end
if clock(ARGV[4]) >= tonumber(ARGV[2]) - tonumber(ARGV[5]) then return 0 end
if ARGV[3] == '' then redis.call('ZREM', KEYS[1], ARGV[1]) else redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) end
return 1
`;

// KEYS: 1 index. ARGV: ref, now|'', guardMs. Before a reserve may add a hold (which expires no
// sooner than guardMs from now), the sale's entry is brought to at most now + guardMs. Only an
// existing entry: a sale without one is over and retired (or never existed).
// → the entry's score, or nil when there is none.
export const INDEX_LOWER_SCRIPT = `${CLOCK_LUA}
redis.call('ZADD', KEYS[1], 'XX', 'LT', int(clock(ARGV[2]) + tonumber(ARGV[3])), ARGV[1])
return redis.call('ZSCORE', KEYS[1], ARGV[1])
`;
