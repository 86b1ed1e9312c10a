-- Drop every run-time change (acd export-config --reset-overlay): the file alone counts again.
-- KEYS: 1 the overlay hash, 2 its version counter
-- ARGV: none
-- Returns the new version.
redis.call('DEL', KEYS[1])
return redis.call('INCR', KEYS[2])
