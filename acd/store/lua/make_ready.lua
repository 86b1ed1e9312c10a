-- An agent's wrap-up or delay is over: make it offerable again (if its status allows).
-- KEYS: 1 agent hash, 2 pending zset, 3.. n avail zsets of its queues, then their n offers hashes
-- ARGV: 1 agent id, 2 now, 3 n, 4.. 3 values per queue
local id, now, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local key = KEYS[1]
local agent = hash_to_table(redis.call('HGETALL', key))
if agent.id == nil then redis.call('ZREM', KEYS[2], id); return 0 end
if tonumber(agent.ready_at or 0) > now then
  redis.call('ZADD', KEYS[2], agent.ready_at, id)
  return 0
end
redis.call('ZREM', KEYS[2], id)
if agent.state == 'wrap-up' then
  redis.call('HSET', key, 'state', 'waiting')
  agent.state = 'waiting'
end
if offerable(agent, now) then make_available(key, id, n, 3, 4) end
return 1
