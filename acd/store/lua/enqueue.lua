-- Put a call in its queue, keeping its place if it is already there (restart, repeated event).
-- Returns {0-based rank or -1, enqueued_at, queue_since or nil} as stored.
-- A caller who may take any agent of the queue (ordered) is also put in its ready zset, under
-- its owner daemon (global order, see reserve.lua).
-- KEYS: 1 call hash, 2 queue callers zset, 3 all calls zset, 4 queue ready zset, 5 ready-owners hash
-- ARGV: 1 call uuid, 2 score (enqueued_at - priority), 3 enqueued_at, 4 call fields (JSON object),
--       5 ordered ('1' or ''), 6 owner daemon
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then
  local fields = {}
  for k, v in pairs(cjson.decode(ARGV[4])) do fields[#fields + 1] = k; fields[#fields + 1] = tostring(v) end
  redis.call('HSET', key, 'uuid', ARGV[1], 'enqueued_at', ARGV[3], unpack(fields))
  redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
  redis.call('ZADD', KEYS[3], 'NX', ARGV[3], ARGV[1])
end
if ARGV[5] == '1' then
  local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if score then
    redis.call('ZADD', KEYS[4], score, ARGV[1])
    redis.call('HSET', KEYS[5], ARGV[1], ARGV[6])
  end
end
local found = redis.call('HMGET', key, 'enqueued_at', 'queue_since')
return {redis.call('ZRANK', KEYS[2], ARGV[1]) or -1, found[1], found[2] or false}
