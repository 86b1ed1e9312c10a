-- Change an agent's status (logged-out | available | on-break) and its offerability; remember
-- why (a break reason, '' for none) and since when the status holds.
-- KEYS: 1 agent hash, 2 pending zset, 3.. n avail zsets of its queues, then their n offers hashes
-- ARGV: 1 agent id, 2 now, 3 new status, 4 n, 5 reason, 6.. 3 values per queue (see _score.lua)
local id, now, status, n = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return redis.error_reply('no such agent ' .. id) end
local old = redis.call('HGET', key, 'status')
redis.call('HSET', key, 'status', status, 'status_reason', ARGV[5])
if status ~= old then redis.call('HSET', key, 'status_since', now) end
if status == 'available' and old ~= 'available' then
  redis.call('HSET', key, 'no_answer_count', 0)
end
local agent = hash_to_table(redis.call('HGETALL', key))
if offerable(agent, now) then
  make_available(key, id, n, 3, 6)
else
  remove_from(id, n, 3)
  if status == 'available' and agent.state ~= 'reserved' and agent.state ~= 'ringing'
     and agent.state ~= 'in-call' and tonumber(agent.ready_at or 0) > now then
    redis.call('ZADD', KEYS[2], agent.ready_at, id)
  end
end
return old
