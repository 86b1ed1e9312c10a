-- End an agent's part in a call and decide when it may be offered again.
-- outcome: ended (talked; wrap-up follows) | no_answer | busy | rejected | unregistered |
--          cancelled (lost a ring-all race, caller gone) | lease_expired (owner daemon vanished)
-- KEYS: 1 agent hash, 2 leases zset, 3 pending zset, 4.. n avail zsets, then their n offers hashes
-- ARGV: 1 agent id, 2 call uuid, 3 outcome, 4 now, 5 unregistered delay, 6 n, 7.. 3 values per queue
local id, call, outcome, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local unregistered_delay, n = tonumber(ARGV[5]), tonumber(ARGV[6])
local key = KEYS[1]
local agent = hash_to_table(redis.call('HGETALL', key))
if agent.id == nil or agent.call ~= call then return {0, agent.state or '', agent.status or ''} end
local function num(v) return tonumber(v or 0) or 0 end
local ready, state = now, 'waiting'
if outcome == 'ended' then
  local answered = num(agent.answered_at)
  if answered > 0 then redis.call('HINCRBYFLOAT', key, 'talk_time', math.max(0, now - answered)) end
  ready = now + num(agent.wrap_up_time)
  if ready > now then state = 'wrap-up' end
  redis.call('HSET', key, 'idle_since', ready, 'last_call_end', now)
elseif outcome == 'no_answer' then
  local count = redis.call('HINCRBY', key, 'no_answer_count', 1)
  local max = num(agent.max_no_answer)
  if max > 0 and count >= max then
    redis.call('HSET', key, 'status', 'on-break', 'status_reason', 'max-no-answer', 'status_since', now)
  end
  ready = now + num(agent.no_answer_delay_time)
elseif outcome == 'busy' then
  ready = now + num(agent.busy_delay_time)
elseif outcome == 'rejected' then
  ready = now + num(agent.reject_delay_time)
elseif outcome == 'unregistered' then
  ready = now + unregistered_delay
end
redis.call('HSET', key, 'state', state, 'ready_at', ready)
redis.call('HDEL', key, 'call', 'leg', 'owner', 'lease_until', 'answered_at', 'offered_at', 'direction', 'dialed')
redis.call('ZREM', KEYS[2], id)
agent = hash_to_table(redis.call('HGETALL', key))
if ready <= now then
  if offerable(agent, now) then make_available(key, id, n, 4, 7) end
else
  redis.call('ZADD', KEYS[3], ready, id)
end
return {1, agent.state, agent.status}
