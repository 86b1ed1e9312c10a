-- Move a reserved agent along its call: reserved -> ringing -> in-call. Idempotent: a repeated or
-- stale step (another call, another state) changes nothing.
-- KEYS: 1 agent hash, 2 leases zset
-- ARGV: 1 agent id, 2 call uuid, 3 from state, 4 to state, 5 now, 6 lease until, 7 agent leg uuid ('' = keep)
local id, call, from, to, now, lease, leg = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local key = KEYS[1]
local agent = hash_to_table(redis.call('HGETALL', key))
if agent.call ~= call or agent.state ~= from then return 0 end
redis.call('HSET', key, 'state', to, 'lease_until', lease)
if leg ~= '' then redis.call('HSET', key, 'leg', leg) end
if to == 'in-call' then
  redis.call('HSET', key, 'answered_at', now, 'no_answer_count', 0)
  redis.call('HINCRBY', key, 'calls_answered', 1)
end
redis.call('ZADD', KEYS[2], lease, id)
return 1
