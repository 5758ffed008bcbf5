-- examples/home/thermostat.lua with fake sensors and a fake clock.
local example = require "helpers.example"

local TEMP = "zigbee2mqtt/living_temp"
local WINDOW = "zigbee2mqtt/living_window"
local SETPOINT = "home/thermostat/setpoint"
local HEATER = "zigbee2mqtt/living_heater/set"
local MIN = 60 * 1000

describe("examples/home/thermostat.lua #unit", function()
  local ex
  before_each(function() ex = example.new("thermostat.lua") end)
  after_each(function() ex:close() end)

  local function heater()
    local r = {}
    for _, p in ipairs(ex:sent(HEATER)) do r[#r + 1] = p.state end
    return r
  end
  local function temp(t) ex:send(TEMP, { temperature = t }) end

  it("heats below the set point minus the hysteresis, not inside the band", function()
    temp(20.6)            -- 21 - 0.5 < 20.6: inside the band
    assert.are.same({}, heater())
    temp(20.4)
    assert.are.same({ "ON" }, heater())
  end)

  it("stops above the set point plus the hysteresis, not before", function()
    temp(19)
    ex:wait(10 * MIN)
    temp(21.4)
    assert.are.same({ "ON" }, heater())
    temp(21.6)
    assert.are.same({ "ON", "OFF" }, heater())
  end)

  it("waits the minimum cycle time before switching again", function()
    temp(19)
    temp(22)               -- too warm at once: the switch waits
    assert.are.same({ "ON" }, heater())
    ex:wait(5 * MIN - 1)
    assert.are.same({ "ON" }, heater())
    ex:wait(1)             -- the minimum cycle is over: evaluated again
    assert.are.same({ "ON", "OFF" }, heater())
  end)

  it("does not switch at the end of the cycle when nothing calls for it", function()
    temp(19)
    ex:wait(6 * MIN)
    assert.are.same({ "ON" }, heater())
  end)

  it("switches off at once when a window opens, cycle time or not", function()
    temp(19)
    ex:wait(1 * MIN)
    ex:send(WINDOW, { contact = false })
    assert.are.same({ "ON", "OFF" }, heater())
    temp(15)               -- cold, but the window is open
    ex:wait(30 * MIN)
    assert.are.same({ "ON", "OFF" }, heater())
  end)

  it("heats again once the window is closed (after the cycle time)", function()
    temp(19)
    ex:send(WINDOW, { contact = false })
    ex:send(WINDOW, { contact = true })
    assert.are.same({ "ON", "OFF" }, heater())
    ex:wait(5 * MIN)
    assert.are.same({ "ON", "OFF", "ON" }, heater())
  end)

  it("follows a new set point and ignores a bad one", function()
    temp(20.8)
    assert.are.same({}, heater())
    ex:send(SETPOINT, "23")
    assert.are.same({ "ON" }, heater())
    ex:send(SETPOINT, "hot")
    assert.truthy(ex.logs.find("warn", "set point"))
  end)

  it("reports its state, retained", function()
    temp(19)
    local st = ex:records("home/thermostat/state")
    assert.are.equal(1, #st)
    assert.is_true(st[1].retain)
    assert.are.same(true, ex:sent("home/thermostat/state")[1].heating)
  end)

  it("keeps the minimum cycle across a restart", function()
    temp(19)
    ex:wait(2 * MIN)
    ex:restart(1 * MIN)
    temp(22)
    ex:wait(2 * MIN - 1)
    assert.are.same({}, heater())     -- (the new process has sent nothing yet)
    ex:wait(1)
    assert.are.same({ "OFF" }, heater())
  end)
end)
