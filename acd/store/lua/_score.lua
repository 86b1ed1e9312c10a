-- Shared prelude (prepended to scripts that put an agent into a queue's avail zset).
-- The score of an agent in a queue: lowest is offered first. level * 1e13 keeps tier levels apart;
-- within a level the strategy decides (all values stay below 1e13 and exact in a double).
local LEVEL = 1e13
local function agent_score(strategy, level, position, agent, last_offer)
  local base = tonumber(level) * LEVEL
  position = tonumber(position)
  if strategy == 'longest-idle-agent' then
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

-- Put the agent (KEYS[1] hash) into every avail zset it belongs to, with its score.
-- first: index in KEYS of the first avail key; the queues' offers keys follow the n avail keys
-- one-to-one; from ARGV[argv_first], three values per queue: strategy, level, position.
local function make_available(agent_key, agent_id, n, first, argv_first)
  local agent = hash_to_table(redis.call('HGETALL', agent_key))
  for i = 0, n - 1 do
    local a = argv_first + i * 3
    local last_offer = redis.call('HGET', KEYS[first + n + i], agent_id)
    local score = agent_score(ARGV[a], ARGV[a + 1], ARGV[a + 2], agent, last_offer)
    redis.call('ZADD', KEYS[first + i], score, agent_id)
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
