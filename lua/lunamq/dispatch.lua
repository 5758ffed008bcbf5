-- lunamq.dispatch - topic filters to handlers, and the subscriptions they
-- need.
--
-- Matching goes through the engine's lmq_topic_matches (the `$` rule and
-- $share included) once per (topic, filter) pair: the handlers for a topic
-- are cached until the set of filters changes.  Subscriptions are the union
-- of every enabled handler's filter at the highest QoS asked; diff() says
-- what to SUBSCRIBE and UNSUBSCRIBE to get from what the broker has to that.
local M = {}
local D = {}
D.__index = D

-- matches(filter, topic) -> bool
function M.new(matches)
  return setmetatable({ matches = matches, list = {}, cache = {}, ncache = 0 }, D)
end

local CACHE_MAX = 4096

function D:changed()
  self.cache, self.ncache = {}, 0
end

function D:add(h)
  self.list[#self.list + 1] = h
  self:changed()
end

-- Drop every handler for which pred(h) is true.
function D:remove(pred)
  local keep = {}
  for _, h in ipairs(self.list) do
    if not pred(h) then keep[#keep + 1] = h end
  end
  self.list = keep
  self:changed()
end

-- The handlers a topic reaches, in registration order (disabled ones
-- included: the caller skips them, so disabling needs no cache flush).
function D:handlers_for(topic)
  local r = self.cache[topic]
  if r then return r end
  r = {}
  for _, h in ipairs(self.list) do
    if self.matches(h.filter, topic) then r[#r + 1] = h end
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
