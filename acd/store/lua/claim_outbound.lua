-- Claim an agent for an outbound call it starts itself (click-to-dial): the agent is ringing on
-- its own leg at once and is offered no inbound call until the outbound call ends (release.lua).
-- Unlike reserve.lua the agent's status does not matter (an agent on break may call back a
-- customer) and its wrap-up may be cut short; only an agent already in a call is refused.
-- KEYS: 1 agent hash, 2 leases zset, 3 pending zset, 4.. n avail zsets of all the agent's queues
-- ARGV: 1 agent id, 2 call uuid (the agent's leg), 3 owner (daemon id), 4 now, 5 lease until, 6 n,
--       7 the number dialled
local id, call, owner, now, lease, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local key = KEYS[1]
local agent = hash_to_table(redis.call('HGETALL', key))
if agent.id == nil then return 0 end
if (agent.call or '') ~= '' or (agent.state ~= 'waiting' and agent.state ~= 'wrap-up') then
  return 0
end
redis.call('HSET', key, 'state', 'ringing', 'call', call, 'owner', owner, 'leg', call,
           'lease_until', lease, 'offered_at', now, 'direction', 'outbound', 'dialed', ARGV[7])
redis.call('ZADD', KEYS[2], lease, id)
redis.call('ZREM', KEYS[3], id)
remove_from(id, n, 4)
return 1
