-- One step of a call's recording (consent asked/given/..., recording started/paused/...):
-- append it to the append-only audit stream, index it under the call, and update the call's
-- recording state -- in one step, so no state exists that the audit trail does not show.
-- KEYS: 1 the audit stream, 2 the call's audit index (list of entry ids),
--       3 the call's recording state (hash), 4 the live recordings (zset, scored by time)
-- ARGV: 1 call uuid, 2 now (epoch s), 3 live: "add" | "remove" | "" (leave it),
--       4 number of audit fields N, 5 .. 4+2N audit field, value, ...,
--       then state field, value, ... (may be none)
local n = tonumber(ARGV[4])
local audit = {}
for i = 5, 4 + 2 * n do audit[#audit + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[1], '*', unpack(audit))
redis.call('RPUSH', KEYS[2], id)
local state = {}
for i = 5 + 2 * n, #ARGV do state[#state + 1] = ARGV[i] end
if #state > 0 then redis.call('HSET', KEYS[3], unpack(state)) end
if ARGV[3] == 'add' then
  redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
elseif ARGV[3] == 'remove' then
  redis.call('ZREM', KEYS[4], ARGV[1])
  redis.call('DEL', KEYS[3])
end
return id
