-- examples/home/door_left_open.lua with a fake contact sensor and clock.
local example = require "helpers.example"

local DOOR = "zigbee2mqtt/front_door"
local NOTIFY = "home/notify"
local MIN = 60 * 1000

describe("examples/home/door_left_open.lua #unit", function()
  local ex
  before_each(function() ex = example.new("door_left_open.lua") end)
  after_each(function() ex:close() end)

  local function door(open) ex:send(DOOR, { contact = not open, battery = 90 }) end
  local function messages()
    local r = {}
    for _, n in ipairs(ex:sent(NOTIFY)) do r[#r + 1] = n.message end
    return r
  end

  it("says nothing when the door is closed within 10 minutes", function()
    door(true)
    ex:wait(10 * MIN - 1)
    door(false)
    ex:wait(60 * MIN)
    assert.are.same({}, messages())
  end)

  it("reminds after 10 minutes, then every 10, at most 3 times", function()
    door(true)
    ex:wait(10 * MIN - 1)
    assert.are.same({}, messages())
    ex:wait(1)
    assert.are.same({ "open for 10 minutes" }, messages())
    ex:wait(10 * MIN)
    ex:wait(10 * MIN)
    ex:wait(60 * MIN)
    assert.are.same({ "open for 10 minutes", "open for 20 minutes", "open for 30 minutes" },
                    messages())
  end)

  it("says closed once it is closed after a reminder", function()
    door(true)
    ex:wait(10 * MIN)
    door(false)
    door(false) -- the sensor repeats itself
    assert.are.same({ "open for 10 minutes", "closed" }, messages())
    assert.are.equal("Front door", ex:sent(NOTIFY)[2].title)
  end)

  it("starts counting again at the next opening", function()
    door(true)
    ex:wait(10 * MIN)
    door(false)
    ex:clear()
    door(true)
    door(true) -- a repeat does not restart the wait
    ex:wait(5 * MIN)
    door(true)
    ex:wait(5 * MIN)
    assert.are.same({ "open for 10 minutes" }, messages())
  end)

  it("keeps the countdown across a restart", function()
    door(true)
    ex:wait(4 * MIN)
    ex:restart(2 * MIN) -- down for 2 minutes: 4 to go
    ex:wait(4 * MIN - 1)
    assert.are.same({}, messages())
    ex:wait(1)
    assert.are.same({ "open for 10 minutes" }, messages())
  end)
end)
