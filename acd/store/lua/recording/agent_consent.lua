-- An agent gives or withdraws its consent to recordings: its consent with the time, and the
-- step on the append-only audit stream, in one step.
-- KEYS: 1 the agent's consent (hash: consent, at, by), 2 the audit stream
-- ARGV: 1 consent "1" | "0", 2 now (epoch s), 3 who gave it (the agent's session),
--       4 .. audit field, value, ...
redis.call('HSET', KEYS[1], 'consent', ARGV[1], 'at', ARGV[2], 'by', ARGV[3])
local audit = {}
for i = 4, #ARGV do audit[#audit + 1] = ARGV[i] end
return redis.call('XADD', KEYS[2], '*', unpack(audit))
