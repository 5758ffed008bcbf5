-- examples/home/motion_light.lua driven through the runtime with fake
-- zigbee2mqtt messages and a fake clock.
local runtime = require "lunamq.runtime"
local util = require "helpers.util"
local cjson = require "cjson"

local SENSOR = "zigbee2mqtt/hall_motion"
local LIGHT = "zigbee2mqtt/hall_light/set"
local MIN = 60 * 1000

local function example_source()
  local src = debug.getinfo(1, "S").source:sub(2)
  local root = src:match("^(.*)/tests/lua/spec/[^/]*$") or "."
  return assert(util.read(root .. "/examples/home/motion_light.lua"))
end

describe("examples/home/motion_light.lua #unit", function()
  local dir, rt, tr, clock

  -- A restart keeps the clock going (time passes for the house too); the
  -- wall clock is the fake one plus an epoch.
  local function start(keep_clock)
    if not keep_clock then clock = util.fake_clock() end
    tr = util.fake_transport()
    rt = runtime.new { dir = dir, state_dir = dir .. "/.state", transport = tr,
                       clock = clock.now, wall_clock = function() return clock.now() + 1.7e12 end,
                       log = util.log_sink().log }
    rt:scan()
  end

  before_each(function()
    dir = util.tmpdir()
    util.write(dir .. "/motion_light.lua", example_source())
    start()
  end)
  after_each(function() util.rmrf(dir) end)

  local function sensor(occupancy, lux)
    rt:deliver { topic = SENSOR, qos = 1, retain = false,
                 payload = cjson.encode { occupancy = occupancy, illuminance = lux or 12,
                                          battery = 97 } }
    rt:flush()
  end

  local function wait(ms)
    clock.advance(ms)
    rt:run_timers()
    rt:flush()
  end

  local function commands()
    local r = {}
    for _, p in ipairs(tr.published) do
      assert.are.equal(LIGHT, p.topic)
      assert.are.equal(1, p.qos)
      r[#r + 1] = cjson.decode(p.payload).state
    end
    return r
  end

  it("subscribes to the sensor at QoS 1", function()
    assert.are.same({ [SENSOR] = 1 }, rt.subscribed)
  end)

  it("switches the light on at motion, once", function()
    sensor(true)
    sensor(true)
    assert.are.same({ "ON" }, commands())
  end)

  it("leaves the light off in daylight", function()
    sensor(true, 50)
    sensor(true, 400)
    wait(10 * MIN)
    assert.are.same({}, commands())
  end)

  it("keeps a light that is on, on, at motion in a hall made bright by it", function()
    sensor(true, 10)
    wait(4 * MIN)
    sensor(true, 200) -- the light itself brightens the hall
    wait(4 * MIN)
    assert.are.same({ "ON" }, commands())
    wait(1 * MIN)
    assert.are.same({ "ON", "OFF" }, commands())
  end)

  it("switches it off after five minutes without motion", function()
    sensor(true)
    wait(5 * MIN - 1)
    assert.are.same({ "ON" }, commands())
    wait(1)
    assert.are.same({ "ON", "OFF" }, commands())
  end)

  it("waits five minutes from the last motion", function()
    sensor(true)
    wait(4 * MIN)
    sensor(true)
    wait(4 * MIN)
    assert.are.same({ "ON" }, commands())
    wait(1 * MIN)
    assert.are.same({ "ON", "OFF" }, commands())
  end)

  it("does not switch off early when the sensor reports no occupancy", function()
    sensor(true)
    wait(1 * MIN)
    sensor(false)
    wait(3 * MIN)
    assert.are.same({ "ON" }, commands())
    wait(1 * MIN)
    assert.are.same({ "ON", "OFF" }, commands())
  end)

  it("switches on again at the next motion after switching off", function()
    sensor(true)
    wait(5 * MIN)
    sensor(true)
    assert.are.same({ "ON", "OFF", "ON" }, commands())
  end)

  it("keeps the running wait when the file is edited", function()
    sensor(true)
    wait(3 * MIN)
    util.write(dir .. "/motion_light.lua", example_source() .. "\n-- edited\n")
    assert.are.equal(1, rt:scan())
    wait(2 * MIN)
    assert.are.same({ "ON", "OFF" }, commands())
  end)

  it("after a restart switches off when the wait begun before it ends", function()
    sensor(true)
    wait(3 * MIN)
    rt:close()
    start(true) -- a new process: the state files say the light is on, 2 min to go
    assert.are.equal(0, #tr.published)
    wait(2 * MIN - 1)
    assert.are.same({}, commands())
    wait(1)
    assert.are.same({ "OFF" }, commands())
  end)

  it("after a restart that outlasted the wait, switches off at once", function()
    sensor(true)
    rt:close()
    clock.advance(60 * MIN) -- the host was down for an hour
    start(true)
    wait(0)
    assert.are.same({ "OFF" }, commands())
  end)
end)
