-- A required wrap-up code that wins over wrap-up-time: hold the agent in wrap-up until the code
-- is given ("hold"), or let it go at its wrap-up-time's end, or now if that passed ("release").
-- KEYS[1] the agent's hash (Keys.agent), KEYS[2] the pending zset (Keys.pending)
-- ARGV[1] hold | release, ARGV[2] agent id, ARGV[3] now, ARGV[4] seconds a hold lasts at most
-- Returns 1 if the agent was held or released, 0 if it was not in wrap-up (or not held).
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'wrap-up' then return 0 end
local now = tonumber(ARGV[3])
if ARGV[1] == 'hold' then
  local until_ = redis.call('HGET', KEYS[1], 'ready_at') or ARGV[3]
  local held = now + tonumber(ARGV[4])
  redis.call('HSET', KEYS[1], 'wrap_up_code_hold', until_, 'ready_at', held)
  redis.call('ZADD', KEYS[2], held, ARGV[2])
  return 1
end
local until_ = redis.call('HGET', KEYS[1], 'wrap_up_code_hold')
if not until_ then return 0 end
local ready = math.max(tonumber(until_), now)
redis.call('HDEL', KEYS[1], 'wrap_up_code_hold')
redis.call('HSET', KEYS[1], 'ready_at', ready)
redis.call('ZADD', KEYS[2], ready, ARGV[2])
return 1
