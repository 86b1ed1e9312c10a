-- Write entries of the run-time overlay, unless someone changed it since the caller read it.
-- KEYS: 1 the overlay hash (entry -> JSON), 2 its version counter
-- ARGV: 1 the version the caller read ("" = whatever it is), then pairs: entry, JSON ("" deletes)
-- Returns the new version, or -1 when the version is not the one read (read again, retry).
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= current then return -1 end
for i = 2, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return redis.call('INCR', KEYS[2])
