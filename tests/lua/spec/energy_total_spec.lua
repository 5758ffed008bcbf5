-- examples/home/energy_total.lua with a fake meter and a fake clock that
-- starts at 23:00 local time, so midnight is an hour away.
local example = require "helpers.example"

local METER = "zigbee2mqtt/house_meter"
local TODAY = "home/energy/today"
local DAILY = "home/energy/daily"
local MIN = 60 * 1000

describe("examples/home/energy_total.lua #unit", function()
  local ex
  before_each(function()
    local eleven_pm = os.time { year = 2026, month = 1, day = 10, hour = 23, min = 0, sec = 0 }
    ex = example.new("energy_total.lua", { wall_start = eleven_pm * 1000 })
  end)
  after_each(function() ex:close() end)

  local function meter(kwh) ex:send(METER, { energy = kwh, power = 300 }) end
  local function kwh(list)
    local r = {}
    for _, v in ipairs(list) do r[#r + 1] = v.kwh end
    return r
  end

  it("publishes today's use so far, retained, when it changes", function()
    meter(1000)
    meter(1000.25)
    meter(1000.25)
    meter(1001)
    assert.are.same({ 0, 0.25, 1 }, kwh(ex:sent(TODAY)))
    assert.is_true(ex:records(TODAY)[1].retain)
  end)

  it("publishes the day's total at midnight and starts a new day", function()
    meter(1000)
    ex:wait(30 * MIN)
    meter(1002.5)
    ex:wait(30 * MIN - 1)
    assert.are.same({}, ex:sent(DAILY))
    ex:wait(1)
    assert.are.same({ 2.5 }, kwh(ex:sent(DAILY)))
    assert.is_true(ex:records(DAILY)[1].retain)
    ex:clear()
    meter(1003)
    assert.are.same({ 0.5 }, kwh(ex:sent(TODAY)))
  end)

  it("does it again the next midnight", function()
    meter(1000)
    ex:wait(60 * MIN)
    meter(1010)
    ex:wait(24 * 60 * MIN)
    assert.are.same({ 0, 10 }, kwh(ex:sent(DAILY)))
  end)

  it("counts from the new reading when the meter is reset", function()
    meter(1000)
    meter(1001)
    meter(3)
    meter(4)
    assert.are.same({ 0, 1, 0, 1 }, kwh(ex:sent(TODAY)))
  end)

  it("keeps the day's start across a restart", function()
    meter(1000)
    ex:restart(10 * MIN)
    meter(1001.5)
    assert.are.same({ 1.5 }, kwh(ex:sent(TODAY)))
    ex:wait(50 * MIN)
    assert.are.same({ 1.5 }, kwh(ex:sent(DAILY)))
  end)
end)
