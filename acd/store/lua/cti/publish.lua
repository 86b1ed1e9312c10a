-- Append one CTI event to the event stream and trim the stream to its window. An agent.status
-- event also takes the agent's status, state, call, reason and ready_at as they are now (the
-- reader merges them into its data), so nothing is read before the write.
-- KEYS: 1 events stream, 2 (optional) the agent's hash
-- ARGV: 1 event type, 2 data (JSON), 3 agents concerned (comma-separated, '' = none),
--       4 queue ('' = none), 5 max length (about), 6 retention in ms (0 = by length only)
-- Returns the entry id: every daemon's events share the stream's one order.
local fields = {'type', ARGV[1], 'data', ARGV[2], 'agents', ARGV[3], 'queue', ARGV[4]}
if KEYS[2] then
  local names = {'status', 'state', 'call', 'status_reason', 'ready_at'}
  local values = redis.call('HMGET', KEYS[2], unpack(names))
  for i, name in ipairs(names) do
    fields[#fields + 1] = 'agent_' .. name
    fields[#fields + 1] = values[i] or ''
  end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', unpack(fields))
local retention = tonumber(ARGV[6])
if retention > 0 then
  local ms = tonumber(string.match(id, '^(%d+)'))
  if ms > retention then redis.call('XTRIM', KEYS[1], 'MINID', '~', ms - retention) end
end
return id
