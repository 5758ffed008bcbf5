-- lunamq.dispatch - topic filters to handlers, and the subscriptions they
-- need.
--
-- Matching goes through the engine's topic trie (lunamq.trie, the `$` rule
-- and $share included): every add() gets a sequence number, the trie maps
-- the handler's filter to it, and a topic's handlers are one trie match,
-- whatever the number of filters, sorted back into registration order by
-- those numbers.  Without the C library (or with M.new(matches,
-- { trie = false })) the given matches(filter, topic) is tried against
-- every filter instead; both give the same lists.  The handlers for a topic
-- are cached until the set of filters changes.  Subscriptions are the union
-- of every enabled handler's filter at the highest QoS asked; diff() says
-- what to SUBSCRIBE and UNSUBSCRIBE to get from what the broker has to that.
local M = {}
local D = {}
D.__index = D

local function new_trie()
  local ok, lunamq = pcall(require, "lunamq")
  if not ok or type(lunamq.trie) ~= "function" then return nil end
  return lunamq.trie()
end

-- matches(filter, topic) -> bool, used when there is no trie.  opts.trie:
-- nil, use the trie when the binding loads; false, never.
function M.new(matches, opts)
  local self = setmetatable({
    matches = matches,
    list = {},      -- handlers, in registration order
    seqs = {},      -- seqs[i]: list[i]'s sequence number
    by_seq = {},    -- sequence number -> handler
    loose = {},     -- sequence numbers the trie refused (matched by `matches`)
    seq = 0,
    cache = {}, ncache = 0,
    ids = {},       -- scratch for trie matches
  }, D)
  if not (opts and opts.trie == false) then self.trie = new_trie() end
  self.mode = self.trie and "trie" or "plain"
  return self
end

local CACHE_MAX = 4096

function D:changed()
  self.cache, self.ncache = {}, 0
end

function D:add(h)
  local seq = self.seq + 1
  self.seq = seq
  self.list[#self.list + 1] = h
  self.seqs[#self.seqs + 1] = seq
  self.by_seq[seq] = h
  -- a filter the trie will not take (runtime.lua validates them first, so
  -- that is out of memory at most) is still matched, the slow way
  if self.trie and self.trie:add(h.filter, seq) ~= true then self.loose[seq] = true end
  self:changed()
end

-- Drop every handler for which pred(h) is true.
function D:remove(pred)
  local keep, keep_seqs = {}, {}
  for i, h in ipairs(self.list) do
    local seq = self.seqs[i]
    if pred(h) then
      if self.trie and not self.loose[seq] then self.trie:remove(h.filter, seq) end
      self.by_seq[seq], self.loose[seq] = nil, nil
    else
      keep[#keep + 1] = h
      keep_seqs[#keep_seqs + 1] = seq
    end
  end
  self.list, self.seqs = keep, keep_seqs
  self:changed()
end

local function plain_handlers(self, topic)
  local r = {}
  for _, h in ipairs(self.list) do
    if self.matches(h.filter, topic) then r[#r + 1] = h end
  end
  return r
end

-- One trie match (ascending sequence numbers: registration order).  An
-- invalid topic name matches nothing, as with matches().
local function trie_handlers(self, topic)
  local ids, n = self.trie:match(topic, self.ids)
  if not ids then ids, n = self.ids, 0 end
  if next(self.loose) then
    for seq in pairs(self.loose) do
      if self.matches(self.by_seq[seq].filter, topic) then
        n = n + 1
        ids[n] = seq
      end
    end
    for i = #ids, n + 1, -1 do ids[i] = nil end
    table.sort(ids)
  end
  local r, by_seq = {}, self.by_seq
  for i = 1, n do r[i] = by_seq[ids[i]] end
  return r
end

-- The handlers a topic reaches, in registration order (disabled ones
-- included: the caller skips them, so disabling needs no cache flush).
function D:handlers_for(topic)
  local r = self.cache[topic]
  if r then return r end
  if self.trie then
    r = trie_handlers(self, topic)
  else
    r = plain_handlers(self, topic)
  end
  if self.ncache >= CACHE_MAX then self:changed() end
  self.cache[topic] = r
  self.ncache = self.ncache + 1
  return r
end

-- { [filter] = qos } over enabled handlers.
function D:wanted()
  local w = {}
  for _, h in ipairs(self.list) do
    if not h.disabled then
      local q = w[h.filter]
      if not q or h.qos > q then w[h.filter] = h.qos end
    end
  end
  return w
end

-- From `have` ({ [filter] = qos }, what the broker has) to wanted(): a sorted
-- list of { filter, qos } to subscribe (new filters and changed QoS) and a
-- sorted list of filters to unsubscribe.
function D:diff(have)
  local want = self:wanted()
  local sub, unsub = {}, {}
  for f, q in pairs(want) do
    if have[f] ~= q then sub[#sub + 1] = { f, q } end
  end
  for f in pairs(have) do
    if want[f] == nil then unsub[#unsub + 1] = f end
  end
  table.sort(sub, function(a, b) return a[1] < b[1] end)
  table.sort(unsub)
  return sub, unsub, want
end

-- --------------------------------------------------- filter algebra
--
-- Used to pick subscriptions when copies cannot be told apart (no
-- Subscription Identifiers): a broker may send one copy per matching
-- subscription, so the host subscribes to a set of filters of which no two
-- can match the same topic, and dispatches by the trie as always.  The
-- `$` rule holds: a wildcard first level matches no topic starting with $.

local function levels(f)
  local l = {}
  for part in (f .. "/"):gmatch("([^/]*)/") do l[#l + 1] = part end
  return l
end
M.levels = levels

local function dollar(x) return x:byte(1) == 36 end

-- A filter, or the list of its levels already split.
local function as_levels(f) return type(f) == "table" and f or levels(f) end

-- Can some topic match both filters?
function M.overlap(f, g)
  local a, b = as_levels(f), as_levels(g)
  local i = 1
  while true do
    local x, y = a[i], b[i]
    if x == nil and y == nil then return true end
    if x == "#" or y == "#" then
      -- '#' matches its parent too; first level: not a $ topic
      local other = x == "#" and y or x
      return not (i == 1 and other and other ~= "#" and other ~= "+" and dollar(other))
    end
    if x == nil or y == nil then return false end
    if x ~= "+" and y ~= "+" then
      if x ~= y then return false end
    elseif i == 1 then
      local lit = x == "+" and y or x
      if lit ~= "+" and dollar(lit) then return false end
    end
    i = i + 1
  end
end

-- Does every topic matching g match f?
function M.covers(f, g)
  local a, b = as_levels(f), as_levels(g)
  local i = 1
  while true do
    local x, y = a[i], b[i]
    if x == "#" then return not (i == 1 and y and y ~= "+" and y ~= "#" and dollar(y)) end
    if y == nil then return x == nil end
    if x == nil or y == "#" then return false end
    if x == "+" then
      if i == 1 and y ~= "+" and dollar(y) then return false end
    elseif x ~= y then
      return false
    end
    i = i + 1
  end
end

-- The narrowest filter (level by level) covering two overlapping ones.
local function join(a, b)
  local r, i = {}, 1
  while true do
    local x, y = a[i], b[i]
    if x == nil and y == nil then break end
    if x == nil or y == nil or x == "#" or y == "#" then
      r[#r + 1] = "#"
      break
    end
    r[#r + 1] = x == y and x or "+"
    i = i + 1
  end
  return r
end

local function shared(f) return f:sub(1, 7) == "$share/" end

-- { [filter] = qos } -> { [filter] = qos } where no two filters overlap and
-- every topic a wanted filter matches is matched by exactly one of them,
-- at the highest QoS of the wanted filters it covers.  A filter covered by
-- another is dropped; two that overlap otherwise are replaced by their
-- join (a/+/c and a/b/+ by a/+/+), and so on until none overlap.  Shared
-- subscriptions ($share/...) are kept as they are (a broker delivers them
-- apart).
function M.cover(want)
  local list, out = {}, {}
  for f, q in pairs(want) do
    if shared(f) then out[f] = q else list[#list + 1] = { f = f, l = levels(f), q = q } end
  end
  table.sort(list, function(x, y) return x.f < y.f end)
  local changed = true
  while changed do
    changed = false
    local i = 1
    while i <= #list and not changed do
      local j = i + 1
      while j <= #list do
        local a, b = list[i], list[j]
        if M.overlap(a.l, b.l) then
          local keep
          if M.covers(a.l, b.l) then
            keep = a
          elseif M.covers(b.l, a.l) then
            keep = b
          else
            local l = join(a.l, b.l)
            keep = { f = table.concat(l, "/"), l = l }
          end
          keep.q = math.max(a.q, b.q)
          table.remove(list, j)
          list[i] = keep
          changed = true
          break
        end
        j = j + 1
      end
      i = i + 1
    end
  end
  for _, e in ipairs(list) do out[e.f] = math.max(out[e.f] or 0, e.q) end
  return out
end

return M
