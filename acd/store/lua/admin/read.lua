-- The run-time overlay and its version, read together.
-- KEYS: 1 the overlay hash (entry -> JSON), 2 its version counter
-- ARGV: none
-- Returns {version, {entry, JSON, entry, JSON, ...}}.
return {tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('HGETALL', KEYS[1])}
