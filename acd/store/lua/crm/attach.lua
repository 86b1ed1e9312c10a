-- Attach a field (the CRM card, a wrap-up code) to a call that still exists: a call that
-- ended meanwhile is not brought back as a stray hash.
-- KEYS[1] the call's hash (Keys.call)
-- ARGV[1] field name, ARGV[2] value (JSON text)
-- Returns 1 if attached, 0 if the call is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
