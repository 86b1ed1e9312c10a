-- Say (again) that an agent is in a call of this daemon: at a resync after Redis may have lost
-- writes (a failover promoted a replica that lacked them, a restart loaded an older snapshot),
-- and each time an agent answers. Redis may have forgotten the reservation, or even given the
-- agent to another call since; the daemon knows better from FreeSWITCH (acd/store/daemons.py).
-- KEYS: 1 agent hash, 2 leases zset, 3 pending zset, 4.. n+3 avail zsets of all the agent's queues
-- ARGV: 1 agent id, 2 call uuid, 3 owner (daemon id), 4 now, 5 lease until, 6 n, 7 leg uuid,
--       8 state (ringing | in-call), 9 take ('1': from another call too -- the agent talks with
--       us), 10 answered at ('' = now)
-- Returns {result, the call the agent had}: 1 held already, 2 taken back (it had no call),
-- 3 taken over from another call, 0 refused (another call has it; no such agent)
local id, call, owner, now, lease, n = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local leg, state, take = ARGV[7], ARGV[8], ARGV[9] == '1'
local answered = ARGV[10] ~= '' and ARGV[10] or now
local key = KEYS[1]
local agent = hash_to_table(redis.call('HGETALL', key))
if agent.id == nil then return {0, ''} end
local had = agent.call or ''
if had == call then
  if state == 'in-call' and agent.state ~= 'in-call' then  -- the answer was lost
    redis.call('HSET', key, 'state', 'in-call', 'answered_at', answered, 'owner', owner)
    if leg ~= '' then redis.call('HSET', key, 'leg', leg) end
    redis.call('ZADD', KEYS[2], lease, id)
  end
  return {1, had}
end
if had ~= '' and not take then return {0, had} end
redis.call('HDEL', key, 'direction', 'dialed', 'answered_at')
redis.call('HSET', key, 'state', state, 'call', call, 'owner', owner, 'leg', leg,
           'lease_until', lease, 'offered_at', now)
if state == 'in-call' then redis.call('HSET', key, 'answered_at', answered) end
redis.call('ZADD', KEYS[2], lease, id)
redis.call('ZREM', KEYS[3], id)
remove_from(id, n, 4)
if had == '' then return {2, had} end
return {3, had}
