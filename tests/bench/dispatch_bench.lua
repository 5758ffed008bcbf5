-- dispatch_bench.lua - how fast lunamq.dispatch finds the handlers of a
-- topic it has not seen (no cache hit), with 1 and with 1,000 filters:
-- the dispatch.lua of a given git revision (default: the one before the
-- trie) against the working tree's, in the same run.
--
-- usage, from the repository root (LUNAMQ_LIBRARY / LUNAMQ_CDEF as for the
-- specs):
--   luajit tests/bench/dispatch_bench.lua [REV | path/to/old/dispatch.lua]
package.path = "lua/?.lua;" .. package.path
local lunamq = require "lunamq"

local old_src = arg[1] or "948596d^"
local old
if old_src:match("%.lua$") then
  old = assert(loadfile(old_src))()
else
  local p = assert(io.popen("git show " .. old_src .. ":lua/lunamq/dispatch.lua"))
  local text = p:read("*a")
  p:close()
  assert(text ~= "", "git show " .. old_src .. ": no dispatch.lua there")
  old = assert(loadstring(text, "=old dispatch.lua"))()
end
local new = require "lunamq.dispatch"

local function matches(f, t) return lunamq.topic_matches(f, t) == true end

-- 1 filter, or 1,000 shaped like a home's: per-device "+" filters, rooms,
-- and some "#" subtrees.
local function filters(n)
  if n == 1 then return { "home/+/+/state" } end
  local r = {}
  for i = 1, 700 do r[#r + 1] = "zigbee2mqtt/dev" .. i .. "/+" end
  for i = 1, 200 do r[#r + 1] = "home/room" .. i .. "/+/state" end
  for i = 1, 100 do r[#r + 1] = "sensors/" .. i .. "/#" end
  return r
end

-- Every topic is new (a unique level), so each one misses the cache.
local function topic(i)
  local k = i % 3
  if k == 0 then return "home/room" .. (i % 200 + 1) .. "/d" .. i .. "/state" end
  if k == 1 then return "sensors/" .. (i % 100 + 1) .. "/t" .. i end
  return "zigbee2mqtt/dev" .. (i % 700 + 1) .. "/u" .. i
end

-- Topics per second over about `ms` milliseconds, best of 3.
local function rate(mod, nfilters, ms)
  local d = mod.new(matches)
  for i, f in ipairs(filters(nfilters)) do d:add({ filter = f, qos = 0, id = i }) end
  local best, i, found = 0, 0, 0
  for _ = 1, 3 do
    local t0, n = lunamq.monotonic_ms(), 0
    repeat
      for _ = 1, 64 do
        i = i + 1
        found = found + #d:handlers_for(topic(i))
        n = n + 1
      end
    until lunamq.monotonic_ms() - t0 >= ms
    best = math.max(best, n / ((lunamq.monotonic_ms() - t0) / 1000))
  end
  assert(found > 0, "the topics reach handlers")
  return best
end

local ms = tonumber(os.getenv("BENCH_MS") or "") or 400
local r = {}
for _, n in ipairs { 1, 1000 } do
  r[n] = { old = rate(old, n, ms), new = rate(new, n, ms) }
end
print(("dispatch of new topics (topics/s, best of 3 x %d ms; old = %s)"):format(ms, old_src))
print(("%-12s %12s %12s %8s"):format("filters", "old", "trie", "trie/old"))
for _, n in ipairs { 1, 1000 } do
  print(("%-12d %12.0f %12.0f %7.1fx"):format(n, r[n].old, r[n].new, r[n].new / r[n].old))
end
print(("1,000 filters cost, against 1: old %.0fx slower, trie %.1fx slower")
      :format(r[1].old / r[1000].old, r[1].new / r[1000].new))
