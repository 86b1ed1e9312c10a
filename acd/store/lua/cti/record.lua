-- Append one call record, trim the records stream, and index the record under each agent it
-- concerns (offered to or answered by), newest first, for GET /api/v1/agents/{id}/calls.
-- KEYS: 1 records stream, 2.. the agents' recent lists
-- ARGV: 1 max length (about), 2 oldest id to keep in ms (0 = by length only),
--       3 entries kept per agent, 4 seconds an agent's list outlives its last call,
--       5.. field, value, field, value, ...
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(fields))
if tonumber(ARGV[2]) > 0 then redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[2]) end
local keep = tonumber(ARGV[3])
for i = 2, #KEYS do
  redis.call('LPUSH', KEYS[i], id)
  redis.call('LTRIM', KEYS[i], 0, keep - 1)
  redis.call('EXPIRE', KEYS[i], ARGV[4])
end
return id
