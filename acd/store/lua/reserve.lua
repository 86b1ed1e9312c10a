-- Reserve an agent for one call, atomically: never two offers to one agent, across queues and daemons.
-- With a leg uuid the agent goes straight to ringing on that leg (the originate follows at once),
-- and the offer's explanation is appended to the call's routing record in the same step.
-- KEYS: 1 agent hash, 2 leases zset, 3 pending zset, 4 offers hash of the offering queue,
--       5 routing list of the call, 6.. n avail zsets of all the agent's queues
-- ARGV: 1 agent id, 2 call uuid, 3 owner (daemon id), 4 now, 5 lease until, 6 n,
--       7 leg uuid ('' = only reserve), 8 explanation (JSON, '' = none), 9 seconds to keep it
local id, call, owner, now, lease, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local leg, explanation = ARGV[7] or '', ARGV[8] or ''
local key = KEYS[1]
local agent = hash_to_table(redis.call('HGETALL', key))
if agent.id == nil then
  remove_from(id, n, 6)
  return 0
end
if not offerable(agent, now) or (agent.call or '') ~= '' then
  -- it should not have been in an avail zset: repair that, and park a delayed agent in pending
  remove_from(id, n, 6)
  if agent.status == 'available' and agent.state == 'waiting' and tonumber(agent.ready_at or 0) > now then
    redis.call('ZADD', KEYS[3], agent.ready_at, id)
  end
  return 0
end
redis.call('HSET', key, 'state', leg == '' and 'reserved' or 'ringing', 'call', call, 'owner', owner,
           'leg', leg, 'lease_until', lease, 'offered_at', now)
redis.call('ZADD', KEYS[2], lease, id)
redis.call('HSET', KEYS[4], id, now)
remove_from(id, n, 6)
if explanation ~= '' then
  redis.call('RPUSH', KEYS[5], explanation)
  redis.call('EXPIRE', KEYS[5], tonumber(ARGV[9]))
end
return 1
