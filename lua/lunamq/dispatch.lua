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

return M
