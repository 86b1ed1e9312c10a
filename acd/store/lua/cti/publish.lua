-- Append one CTI event to the event stream and trim the stream to its window.
-- KEYS: 1 events stream
-- ARGV: 1 event type, 2 data (JSON), 3 agents concerned (comma-separated, '' = none),
--       4 queue ('' = none), 5 max length (about), 6 retention in ms (0 = by length only)
-- Returns the entry id: every daemon's events share the stream's one order.
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*',
                      'type', ARGV[1], 'data', ARGV[2], 'agents', ARGV[3], 'queue', ARGV[4])
local retention = tonumber(ARGV[6])
if retention > 0 then
  local ms = tonumber(string.match(id, '^(%d+)'))
  if ms > retention then redis.call('XTRIM', KEYS[1], 'MINID', '~', ms - retention) end
end
return id
