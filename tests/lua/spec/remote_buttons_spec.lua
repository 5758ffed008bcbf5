-- examples/home/remote_buttons.lua with fake remote presses.
local example = require "helpers.example"

local REMOTE = "zigbee2mqtt/living_remote"
local LAMP = "zigbee2mqtt/living_lamp/set"
local HALL = "zigbee2mqtt/hall_light/set"

describe("examples/home/remote_buttons.lua #unit", function()
  local ex
  before_each(function() ex = example.new("remote_buttons.lua") end)
  after_each(function() ex:close() end)

  local function press(action) ex:send(REMOTE, { action = action, battery = 80 }, 0) end

  it("toggles the lamp", function()
    press("toggle")
    assert.are.same({ { state = "TOGGLE" } }, ex:sent(LAMP))
  end)

  it("steps the brightness up and down", function()
    press("brightness_up_click")
    press("brightness_down_click")
    assert.are.same({ { brightness_step = 40 }, { brightness_step = -40 } }, ex:sent(LAMP))
  end)

  it("sets the evening scene", function()
    press("arrow_left_click")
    assert.are.same({ { state = "ON", brightness = 80, color_temp = 454 } }, ex:sent(LAMP))
  end)

  it("switches everything off", function()
    press("arrow_right_click")
    assert.are.same({ { state = "OFF" } }, ex:sent(LAMP))
    assert.are.same({ { state = "OFF" } }, ex:sent(HALL))
  end)

  it("ignores the empty action after a press and unknown ones", function()
    press("")
    press("brightness_up_hold")
    ex:send(REMOTE, { battery = 80 }, 0)
    assert.are.same({}, ex:sent())
  end)

  it("skips a payload that is not JSON, with a warning naming the topic", function()
    ex:send(REMOTE, "not json", 0)
    assert.are.same({}, ex:sent())
    assert.truthy(ex.logs.find("warn", "zigbee2mqtt/living_remote is not JSON"))
  end)
end)
