-- How long a login must wait after wrong passwords: the longer of the agent's and the client
-- address's wait. Each allows `free` failures; then failure f waits delay * 2^(f - free)
-- seconds (at most max) counted from the last failure.
-- KEYS: 1 the agent's failures hash, 2 the address's failures hash (count, last)
-- ARGV: 1 now, 2 free failures per agent, 3 free failures per address, 4 delay, 5 max delay
-- Returns the seconds to wait as a string (0 = go ahead).
local now, delay, max = tonumber(ARGV[1]), tonumber(ARGV[4]), tonumber(ARGV[5])
local function wait(key, free)
  local count = tonumber(redis.call('HGET', key, 'count') or '0')
  if count < free then return 0 end
  local last = tonumber(redis.call('HGET', key, 'last') or '0')
  return math.max(0, last + math.min(delay * 2 ^ (count - free), max) - now)
end
return tostring(math.max(wait(KEYS[1], tonumber(ARGV[2])), wait(KEYS[2], tonumber(ARGV[3]))))
