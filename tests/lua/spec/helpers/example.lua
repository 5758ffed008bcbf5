-- One examples/home script in a runtime with a fake clock and a fake
-- transport, for the example specs: send messages, let time pass, restart,
-- read what the script published.
--
--   local ex = example.new("thermostat.lua")   -- in before_each
--   ex:send("zigbee2mqtt/living_temp", { temperature = 19 })
--   ex:wait(60 * 1000)                        -- ms of fake time
--   ex:sent("zigbee2mqtt/living_heater/set")  -- decoded payloads, in order
--   ex:restart()                              -- a new process, same state dir
--   ex:close()                                -- in after_each
local runtime = require "lunamq.runtime"
local util = require "helpers.util"
local cjson = require "cjson"

local M = {}
local E = {}
E.__index = E

local ROOT = debug.getinfo(1, "S").source:sub(2):match("^(.*)/tests/lua/spec/helpers/[^/]*$")
             or "."

function M.source(file)
  return assert(util.read(ROOT .. "/examples/home/" .. file))
end

-- opts.wall_start: the wall clock (ms since the epoch) when the fake clock
-- reads 0; default a fixed date.
function M.new(file, opts)
  opts = opts or {}
  local self = setmetatable({ file = file, dir = util.tmpdir(), clock = util.fake_clock(0),
                              wall_start = opts.wall_start or 1.7e12 }, E)
  util.write(self.dir .. "/" .. file, M.source(file))
  self:start()
  return self
end

function E:start()
  self.tr = util.fake_transport()
  self.logs = util.log_sink()
  self.rt = runtime.new { dir = self.dir, state_dir = self.dir .. "/.state",
                          transport = self.tr, clock = self.clock.now,
                          wall_clock = function() return self.clock.now() + self.wall_start end,
                          log = self.logs.log }
  local n = self.rt:scan()
  assert(n == 1, self.file .. " did not load: " .. tostring(self.logs.lines[#self.logs.lines] and self.logs.lines[#self.logs.lines].msg))
  self.rt:run_timers()
  self.rt:flush()
end

-- A payload: a table goes as JSON, anything else as text.
function E:send(topic, payload, qos)
  if type(payload) == "table" then payload = cjson.encode(payload) end
  self.rt:deliver { topic = topic, payload = tostring(payload), qos = qos or 1, retain = false }
  self.rt:flush()
end

function E:wait(ms)
  self.clock.advance(ms)
  self.rt:run_timers()
  self.rt:flush()
end

-- A new process: the runtime closed (state saved), a new one on the same
-- files; the fake clock goes on (down_ms passes meanwhile).
function E:restart(down_ms)
  self.rt:close()
  self.clock.advance(down_ms or 0)
  self:start()
end

-- What went to topic (all topics when nil): payloads decoded when JSON,
-- in order; clear = true forgets them afterwards.
function E:sent(topic, clear)
  local r = {}
  for _, p in ipairs(self.tr.published) do
    if topic == nil or p.topic == topic then
      local ok, v = pcall(cjson.decode, p.payload)
      r[#r + 1] = ok and type(v) == "table" and v or p.payload
    end
  end
  if clear then self.tr.published = {} end
  return r
end

-- The published records themselves (topic, payload, qos, retain).
function E:records(topic)
  local r = {}
  for _, p in ipairs(self.tr.published) do
    if topic == nil or p.topic == topic then r[#r + 1] = p end
  end
  return r
end

function E:clear() self.tr.published = {} end

function E:close()
  self.rt:close()
  util.rmrf(self.dir)
end

return M
