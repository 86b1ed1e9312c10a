-- Find the best offerable agents of a queue that meet skill requirements (read-only but for lazy
-- removal of stale match-set entries; reserve.lua then takes one atomically). See _score.lua for
-- the match sets and their scores.
-- mode 'best-match'   : the highest total proficiency on the required skills wins, ties to the
--                       longest idle; a lower tier level always wins. With the match set of exactly
--                       the required skills (KEYS[2] ~= KEYS[1]), its order IS that order: the first
--                       entry that meets every minimum is the answer. Otherwise the rarest skill's
--                       set is walked band by band (its proficiency high to low), stopping once no
--                       later entry can beat what was found.
-- mode 'longest-idle' : walk the exact match set (or the rarest skill's): first qualified wins.
-- mode 'filter'       : walk the queue's avail zset in its strategy's order: first qualified wins.
-- KEYS: 1 avail zset of the queue, 2 match set of exactly the required skills, or KEYS[1] again
--       when none is kept (a real key of the deployment's slot: Redis Cluster),
--       3.. k match sets of the single required skills, then k skill hashes (agent id ->
--       proficiency), same order
-- ARGV: 1 mode, 2 max tier level (-1 = any), 3 k, 4 limit, 5 scan cap, 6 excluded ids (JSON
--       array), 7.. k pairs (skill name, minimum proficiency)
-- Returns {found (flat: id, total, ...), qualified agents seen, entries scanned, exact (0 when the
-- scan cap cut it short: the best may have been missed)}
local mode, max_level, k = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local limit, cap = tonumber(ARGV[4]), tonumber(ARGV[5])
local excluded = {}
for _, id in ipairs(cjson.decode(ARGV[6])) do excluded[id] = true end
local mins = {}
for i = 1, k do mins[i] = tonumber(ARGV[6 + i * 2]) end
local SKILL_KEY = function(i) return KEYS[2 + i] end
local HASH_KEY = function(i) return KEYS[2 + k + i] end

local scanned, qualified = 0, 0
local found = {}   -- {id, total, idle}, best first

-- total proficiency if the agent meets every requirement, else nil
local function check(id)
  local sum = 0
  for i = 1, k do
    local p = tonumber(redis.call('HGET', HASH_KEY(i), id) or 0) or 0
    if p < mins[i] then return nil end
    sum = sum + p
  end
  return sum
end

local function better(a, b)
  if a[2] ~= b[2] then return a[2] > b[2] end
  return a[3] < b[3]
end

-- the walk band by band keeps the best `limit` by (total, idle); the others keep scan order
local sorting = false
local function keep(id, total, idle)
  qualified = qualified + 1
  table.insert(found, {id, total, idle})
  if sorting then table.sort(found, better) end
  if #found > limit then table.remove(found) end
end

local function exact_score(x) return type(x) == 'number' and string.format('%.0f', x) or x end

-- Visit the members of zset `key` with min <= score < max in order; visit(id, score) returns
-- true to stop. Stale entries (not offerable: absent from the avail zset) are removed on the way.
-- Returns 'stop', 'end' or 'cap'.
local function scan(key, min, max, visit, lazy)
  min, max = exact_score(min), exact_score(max)  -- tostring would round scores to 14 digits
  local offset = 0
  while true do
    local batch = redis.call('ZRANGEBYSCORE', key, min, '(' .. max, 'WITHSCORES', 'LIMIT', offset, 64)
    if #batch == 0 then return 'end' end
    local removed = 0
    for j = 1, #batch, 2 do
      local id, score = batch[j], tonumber(batch[j + 1])
      if scanned >= cap then return 'cap' end
      scanned = scanned + 1
      if lazy and not redis.call('ZSCORE', KEYS[1], id) then
        redis.call('ZREM', key, id)
        removed = removed + 1
      elseif not excluded[id] then
        if visit(id, score) then return 'stop' end
      end
    end
    offset = offset + #batch / 2 - removed
  end
end

local function result(how)
  local flat = {}
  for _, f in ipairs(found) do flat[#flat + 1] = f[1]; flat[#flat + 1] = f[2] end
  return {flat, qualified, scanned, how ~= 'cap' and 1 or 0}
end

-- first `limit` qualified entries of `key`, in its order, below score `high`
local function first_qualified(key, high, lazy, idle_of)
  return scan(key, '-inf', high, function(id, score)
    local total = check(id)
    if total then keep(id, total, idle_of(score)) end
    return #found >= limit
  end, lazy)
end

local function idle_part(score) return score % SKILL_UNIT end

if mode == 'filter' or k == 0 then
  local high = max_level < 0 and '+inf' or (max_level + 1) * LEVEL
  return result(first_qualified(KEYS[1], high, false, function(score) return score end))
end

if KEYS[2] ~= KEYS[1] then  -- the match set of exactly these skills: its order is the answer's order
  local width = mode == 'best-match' and skill_band_width(k) or 1
  local high = max_level < 0 and '+inf' or (max_level + 1) * width * SKILL_UNIT
  return result(first_qualified(KEYS[2], high, true, idle_part))
end

-- the rarest required skill drives the walk
local primary = 1
for i = 2, k do
  if redis.call('ZCARD', SKILL_KEY(i)) < redis.call('ZCARD', SKILL_KEY(primary)) then primary = i end
end
local pkey = SKILL_KEY(primary)

if mode == 'longest-idle' then
  local high = max_level < 0 and '+inf' or (max_level + 1) * SKILL_UNIT
  return result(first_qualified(pkey, high, true, idle_part))
end

-- best-match over single-skill sets, tier level by tier level
sorting = true
local LEVEL_WIDTH = skill_band_width(1) * SKILL_UNIT
local pmin = mins[primary]
local how = 'end'
local level = nil
while true do
  local first = level == nil
    and redis.call('ZRANGE', pkey, 0, 0, 'WITHSCORES')
    or redis.call('ZRANGEBYSCORE', pkey, exact_score((level + 1) * LEVEL_WIDTH), '+inf',
                  'WITHSCORES', 'LIMIT', 0, 1)
  if #first == 0 then break end
  level = math.floor(tonumber(first[2]) / LEVEL_WIDTH)
  if max_level >= 0 and level > max_level then break end
  -- the best proficiency any offerable agent of this level has in each other required skill
  local others = 0
  for i = 1, k do
    if i ~= primary then
      local top = redis.call('ZRANGEBYSCORE', SKILL_KEY(i), exact_score(level * LEVEL_WIDTH),
                             '(' .. exact_score((level + 1) * LEVEL_WIDTH), 'WITHSCORES', 'LIMIT', 0, 1)
      if #top == 0 then others = nil; break end
      others = others + 10 - (math.floor(tonumber(top[2]) / SKILL_UNIT) - level * 11)
    end
  end
  if others ~= nil then
    local base = level * LEVEL_WIDTH
    -- band by band: proficiency in the rarest skill from 10 down to its minimum
    for band = 0, 10 - pmin do
      local bound = (10 - band) + others      -- the best total any entry of this band can have
      local worst = #found >= limit and found[#found] or nil
      if worst and bound < worst[2] then break end
      local lo = base + band * SKILL_UNIT
      local hi = lo + SKILL_UNIT
      if worst and bound == worst[2] then hi = lo + worst[3] end  -- a tie wins only if more idle
      how = scan(pkey, lo, hi, function(id, score)
        local total = check(id)
        if total then
          keep(id, total, idle_part(score))
          -- later entries of this band are less idle: they win only with a higher total
          if #found >= limit and found[#found][2] >= bound then return true end
        end
        return false
      end, true)
      if how == 'cap' then break end
    end
    if #found > 0 or how == 'cap' then break end
  end
end
return result(how)
