-- Create or update one configured agent; runtime state (status, state, stats) survives restarts.
-- KEYS: 1 agent hash, 2 agent tiers hash, 3 agents set, 4 pending zset,
--       5.. n avail zsets of its queues, then their n offers hashes, then s skill zsets (see
--       _score.lua), then m avail zsets it left
-- ARGV: 1 agent id, 2 now, 3 n, 4 m, 5 config (JSON object of hash fields),
--       6 initial status, 7 tiers (JSON object queue -> "level:position"), 8.. 3 values per queue,
--       then the match-set section (s, then s quadruples)
local id, now, n, m = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local key = KEYS[1]
local config = cjson.decode(ARGV[5])
local fields = {}
for k, v in pairs(config) do fields[#fields + 1] = k; fields[#fields + 1] = tostring(v) end
if redis.call('HEXISTS', key, 'id') == 0 then  -- (skills may be written first)
  redis.call('HSET', key, 'id', id, 'status', ARGV[6], 'state', 'waiting', 'calls_answered', 0,
             'talk_time', 0, 'no_answer_count', 0, 'idle_since', now, 'ready_at', 0)
end
if #fields > 0 then redis.call('HSET', key, unpack(fields)) end
redis.call('SADD', KEYS[3], id)
redis.call('DEL', KEYS[2])
for q, lp in pairs(cjson.decode(ARGV[7])) do redis.call('HSET', KEYS[2], q, lp) end
remove_from(id, m, 5 + 2 * n + tonumber(ARGV[8 + 3 * n]))
local agent = hash_to_table(redis.call('HGETALL', key))
if offerable(agent, now) then
  make_available(key, id, n, 5, 8)
else
  remove_from(id, n, 5)
  if agent.status == 'available' and tonumber(agent.ready_at or 0) > now then
    redis.call('ZADD', KEYS[4], agent.ready_at, id)
  end
end
return agent.status
