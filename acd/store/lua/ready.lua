-- A caller holds no offer any more (the agents it rang did not answer, it moved to another
-- queue): it is back in its queue's ready zset, at its place in the callers zset (global order).
-- KEYS: 1 queue callers zset, 2 queue ready zset, 3 ready-owners hash
-- ARGV: 1 call uuid, 2 owner daemon
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
redis.call('ZADD', KEYS[2], score, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return 1
