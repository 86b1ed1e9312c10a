-- Take a lease, or renew it if we hold it already; another holder's lease is left alone.
-- KEYS: 1 lease key
-- ARGV: 1 holder (owner), 2 lease length in milliseconds
-- Returns 1 if ARGV[1] holds the lease now, else 0.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
