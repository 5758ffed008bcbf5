-- examples/home/rules: the rule folder of the newer host parts (sun,
-- weekday schedules, cron with wait_for, a leak alarm kept across a
-- restart, discovery on connect, a shared lib module), run together in one
-- runtime on the fake clock from Friday 5 June 2026, 12:00 Europe/Berlin.
local ffi = require "ffi"
local runtime = require "lunamq.runtime"
local calendar = require "lunamq.calendar"
local util = require "helpers.util"
local json = require "lunamq.json"

pcall(ffi.cdef, "int setenv(const char *, const char *, int); int unsetenv(const char *); void tzset(void);")
local ROOT = debug.getinfo(1, "S").source:sub(2):match("^(.*)/tests/lua/spec/[^/]*$") or "."
local LOC = { lat = 52.52, lon = 13.405 }

describe("examples/home/rules #unit", function()
  local dir, clock, tr, rt, sink, start
  local function boot()
    tr, sink = util.fake_transport(), util.log_sink()
    rt = runtime.new { dir = dir, state_dir = dir .. "/.state", transport = tr, log = sink.log, clock = clock.now,
                       wall_clock = function() return start * 1000 + clock.now() end, location = LOC,
                       protocol = 5, settings = { away_temp = 15 } }
    assert.are.equal(4, rt:scan())
  end
  before_each(function()
    ffi.C.setenv("TZ", "Europe/Berlin", 1); ffi.C.tzset()
    start = os.time { year = 2026, month = 6, day = 5, hour = 12, min = 0, sec = 0 }
    dir = util.tmpdir()
    os.execute(("cp -r '%s/examples/home/rules/.' '%s/'"):format(ROOT, dir))
    clock = util.fake_clock(0)
    boot()
  end)
  after_each(function()
    rt:close()
    for _, l in ipairs(sink.lines) do assert(l.level ~= "error", l.msg) end
    ffi.C.unsetenv("TZ"); ffi.C.tzset()
    util.rmrf(dir)
  end)

  local function at_local(y, m, d, h, mi) return os.time { year = y, month = m, day = d, hour = h, min = mi } end
  local function run_to(t) util.run_timers_to(rt, clock, (t - start) * 1000) end
  local function sent(topic)
    local r = {}
    for _, p in ipairs(tr.published) do
      if p.topic == topic then r[#r + 1] = p.payload end
    end
    return r
  end
  local function deliver(topic, payload)
    rt:deliver { topic = topic, payload = payload, qos = 1, retain = false }
    rt:run_timers(); rt:flush()
  end

  it("porch light: on at sunset-00:30, off at 23:30, through lib/house.lua", function()
    run_to(at_local(2026, 6, 5, 23, 59))
    local on_at = calendar.sun(LOC.lat, LOC.lon, 2026, 6, 5).sunset - 1800
    assert.are.same({ '{"brightness":180,"state":"ON"}', '{"state":"OFF"}' }, sent("zigbee2mqtt/porch_light/set"))
    assert.is_not_nil(sink.find("info", "porch light on"))
    assert.is_true(on_at > at_local(2026, 6, 5, 20, 0) and on_at < at_local(2026, 6, 5, 21, 30))
  end)

  it("blinds: working days 07:00, weekend 09:00, close at dusk, polled by cron with wait_for", function()
    run_to(at_local(2026, 6, 8, 12, 0))
    local moves = sent("zigbee2mqtt/bedroom_blinds/set")
    -- Fri dusk, Sat 09:00 + dusk, Sun 09:00 + dusk, Mon 07:00
    assert.are.same({ '{"state":"CLOSE"}', '{"state":"OPEN"}', '{"state":"CLOSE"}', '{"state":"OPEN"}',
                      '{"state":"CLOSE"}', '{"state":"OPEN"}' }, moves)
    local gets = #sent("zigbee2mqtt/bedroom_blinds/get")
    assert.is_true(gets > 50, "polls: " .. gets)
    -- a poll answered: the position is kept
    clock.advance(30 * 60000); rt:run_timers()
    deliver("zigbee2mqtt/bedroom_blinds", '{"position":40}')
    assert.are.equal(40, rt.scripts.blinds.state.position)
  end)

  it("leak alarm: reminders until acknowledged, across a restart", function()
    deliver("zigbee2mqtt/washer_leak", '{"water_leak":true,"battery":80}')
    assert.are.same({ '{"warning":{"duration":60,"mode":"burglar"}}' }, sent("zigbee2mqtt/siren/set"))
    clock.advance(300000); rt:run_timers(); rt:flush()
    assert.are.equal(2, #sent("notify/phone"))
    rt:close()      -- the host stops; a new one starts 2 minutes later
    clock.advance(120000)
    boot()
    clock.advance(180000); rt:run_timers(); rt:flush()
    local n = sent("notify/phone")
    assert.are.same({ message = "still not acknowledged (2)", title = "Water leak" }, json.decode(n[#n]))
    deliver("alarm/leak/ack", "")
    assert.are.same({ message = "acknowledged", title = "Water leak" }, json.decode(sent("notify/phone")[2]))
    clock.advance(3600000); rt:run_timers()
    assert.are.equal(2, #sent("notify/phone"))
  end)

  it("discovery: announced on every connect, away mode sets the thermostat from settings", function()
    rt:on_connected()
    rt:on_disconnected()
    rt:on_connected()
    local cfg = sent("homeassistant/switch/lunamq_away_mode/config")
    assert.are.equal(2, #cfg)
    assert.are.equal("lunamq/away/set", json.decode(cfg[1]).command_topic)
    assert.is_nil(cfg[1]:find("\\/", 1, true))
    deliver("lunamq/away/set", "ON")
    assert.are.same({ '{"current_heating_setpoint":15}' }, sent("zigbee2mqtt/living_thermostat/set"))
    assert.are.same({ "OFF", "OFF", "ON" }, sent("lunamq/away/state"))
  end)
end)
