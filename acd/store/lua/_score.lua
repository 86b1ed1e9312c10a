-- Shared prelude (prepended to scripts that put an agent into a queue's avail zset).
-- The score of an agent in a queue: lowest is offered first. level * 1e13 keeps tier levels apart;
-- within a level the strategy decides (all values stay below 1e13 and exact in a double).
local LEVEL = 1e13
local function agent_score(strategy, level, position, agent, last_offer)
  local base = tonumber(level) * LEVEL
  position = tonumber(position)
  if strategy == 'longest-idle-agent' or strategy == 'skills' then
    return base + math.floor(tonumber(agent.idle_since or 0) * 1000)
  elseif strategy == 'round-robin' then
    return base + math.floor(tonumber(last_offer or 0) * 1000)
  elseif strategy == 'agent-with-fewest-calls' then
    return base + tonumber(agent.calls_answered or 0) * 1e6 + position
  elseif strategy == 'agent-with-least-talk-time' then
    return base + math.floor(tonumber(agent.talk_time or 0)) * 1e3 + position
  end
  -- top-down, ring-all, sequentially-by-agent-order, ring-progressively: tier order; random:
  -- any order (the store picks a random rank within the caller's tier levels)
  return base + position
end

local function hash_to_table(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

-- A skills queue keeps *match sets*: sorted sets of its offerable agents who have every skill of a
-- set (one set per skill, and one per requirement set its config names). best-match scores:
-- tier level, then total proficiency on the set's skills high to low, then longest idle;
-- longest-idle: level, then idle. Idle is in ms since 2023-11-14 (SKILL_EPOCH) so a level band
-- fits 10^12. Entries are removed lazily: pick.lua checks the queue's avail zset (the truth).
local SKILL_UNIT, SKILL_EPOCH = 1e12, 1.7e12
local function skill_band_width(width) return 10 * width + 1 end
local function skill_score(order, level, total, width, agent)
  local idle = math.max(0, math.floor(tonumber(agent.idle_since or 0) * 1000) - SKILL_EPOCH)
  if order == 'best-match' then
    width = tonumber(width)
    return (tonumber(level) * skill_band_width(width) + 10 * width - tonumber(total)) * SKILL_UNIT
           + idle
  end
  return tonumber(level) * SKILL_UNIT + idle
end

-- Put the agent (KEYS[1] hash) into every avail zset it belongs to, with its score.
-- first: index in KEYS of the first avail key; the queues' offers keys follow the n avail keys
-- one-to-one; from ARGV[argv_first], three values per queue: strategy, level, position.
-- Then the match-set section: ARGV[argv_first + 3n] = s, then s quadruples (queue index 0-based,
-- skill order, total proficiency, number of skills in the set), with the s match-set keys in KEYS
-- right after the offers keys.
local function make_available(agent_key, agent_id, n, first, argv_first)
  local agent = hash_to_table(redis.call('HGETALL', agent_key))
  for i = 0, n - 1 do
    local a = argv_first + i * 3
    local last_offer = redis.call('HGET', KEYS[first + n + i], agent_id)
    local score = agent_score(ARGV[a], ARGV[a + 1], ARGV[a + 2], agent, last_offer)
    redis.call('ZADD', KEYS[first + i], string.format('%.0f', score), agent_id)
  end
  local s0 = argv_first + 3 * n
  for j = 0, tonumber(ARGV[s0] or 0) - 1 do
    local a = s0 + 1 + j * 4
    local level = ARGV[argv_first + tonumber(ARGV[a]) * 3 + 1]
    local score = skill_score(ARGV[a + 1], level, ARGV[a + 2], ARGV[a + 3], agent)
    redis.call('ZADD', KEYS[first + 2 * n + j], string.format('%.0f', score), agent_id)
  end
end

local function remove_from(agent_id, n, first)
  for i = 0, n - 1 do redis.call('ZREM', KEYS[first + i], agent_id) end
end

-- Is the agent offerable: logged in as available, waiting, past its wrap-up/delay?
local function offerable(agent, now)
  return agent.status == 'available' and agent.state == 'waiting'
     and tonumber(agent.ready_at or 0) <= now
end
