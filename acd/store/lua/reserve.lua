-- Reserve an agent for one call, atomically: never two offers to one agent, across queues and daemons.
-- With a leg uuid the agent goes straight to ringing on that leg (the originate follows at once),
-- and the offer's explanation is appended to the call's routing record in the same step.
-- Global order (ARGV 10 = '1', queues whose callers may all take any of their agents): the call
-- is refused (-1) while the offering queue's ready zset holds, ahead of it, a caller of another
-- live daemon that holds no offer; that daemon is woken (PUBLISH wake..owner, the queue) to
-- offer the agent to its caller. A caller held ahead for `grace` seconds without taking an
-- agent (its daemon stuck, its window full) stops holding others back (docs/redis.md).
-- KEYS: 1 agent hash, 2 leases zset, 3 pending zset, 4 offers hash of the offering queue,
--       5 routing list of the call, 6.. n+5 avail zsets of all the agent's queues, then of the
--       offering queue: n+6 callers zset, n+7 ready zset, n+8 nudged hash; n+9 ready-owners
--       hash, n+10 alive hash
-- ARGV: 1 agent id, 2 call uuid, 3 owner (daemon id), 4 now, 5 lease until, 6 n,
--       7 leg uuid ('' = only reserve), 8 explanation (JSON, '' = none), 9 seconds to keep it,
--       10 global order ('1' or ''), 11 grace seconds, 12 callers looked at ahead at most,
--       13 wake channel prefix, 14 the offering queue
local id, call, owner, now, lease, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local leg, explanation = ARGV[7] or '', ARGV[8] or ''
local key = KEYS[1]
local callers, ready, nudged, owners, alive = KEYS[n + 6], KEYS[n + 7], KEYS[n + 8], KEYS[n + 9], KEYS[n + 10]
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
if ARGV[10] == '1' then
  local mine = redis.call('ZSCORE', callers, call)
  if mine then
    local grace = tonumber(ARGV[11])
    for _, other in ipairs(redis.call('ZRANGEBYSCORE', ready, '-inf', '(' .. mine, 'LIMIT', 0, tonumber(ARGV[12]))) do
      local theirs = redis.call('HGET', owners, other)
      if theirs and theirs ~= owner and tonumber(redis.call('HGET', alive, theirs) or 0) > now then
        local first = tonumber(redis.call('HGET', nudged, other) or 0)
        if first == 0 then
          redis.call('HSET', nudged, other, now)
          first = now
        end
        if now - first < grace then
          redis.call('PUBLISH', ARGV[13] .. theirs, ARGV[14])
          return -1
        end
      end
    end
  end
end
redis.call('ZREM', ready, call)
redis.call('HDEL', owners, call)
redis.call('HDEL', nudged, call)
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
