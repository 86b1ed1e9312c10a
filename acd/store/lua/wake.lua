-- An agent may have become free in these queues: wake the daemon of each queue's first ready
-- caller when that is another live daemon (global order: it offers the agent to its caller).
-- Returns how many daemons were woken.
-- KEYS: 1 ready-owners hash, 2 alive hash, then per queue its avail zset and its ready zset
-- ARGV: 1 owner (this daemon), 2 now, 3 wake channel prefix, 4.. the queues' names
local woken = 0
for i = 4, #ARGV do
  local avail, ready = KEYS[(i - 4) * 2 + 3], KEYS[(i - 4) * 2 + 4]
  if redis.call('ZCARD', avail) > 0 then
    local head = redis.call('ZRANGE', ready, 0, 0)[1]
    if head then
      local theirs = redis.call('HGET', KEYS[1], head)
      if theirs and theirs ~= ARGV[1] and tonumber(redis.call('HGET', KEYS[2], theirs) or 0) > tonumber(ARGV[2]) then
        redis.call('PUBLISH', ARGV[3] .. theirs, ARGV[i])
        woken = woken + 1
      end
    end
  end
end
return woken
