-- remote_buttons.lua - an IKEA-style five-button remote drives the living
-- room lamp: toggle, brighter, dimmer, an evening scene, and everything off.
--
-- zigbee2mqtt publishes presses as zigbee2mqtt/living_remote
-- {"action":"toggle"} (and an empty action right after, which is ignored).
local REMOTE = "zigbee2mqtt/living_remote"
local LAMP = "zigbee2mqtt/living_lamp/set"
local HALL = "zigbee2mqtt/hall_light/set"

local ACTIONS = {
  toggle = function() publish(LAMP, { state = "TOGGLE" }) end,
  brightness_up_click = function() publish(LAMP, { brightness_step = 40 }) end,
  brightness_down_click = function() publish(LAMP, { brightness_step = -40 }) end,
  arrow_left_click = function()  -- evening: dim and warm
    publish(LAMP, { state = "ON", brightness = 80, color_temp = 454 })
  end,
  arrow_right_click = function() -- leaving: all off
    publish(LAMP, { state = "OFF" })
    publish(HALL, { state = "OFF" })
  end,
}

on(REMOTE, function(m)
  local act = ACTIONS[m.action]
  if not act then return end
  state.presses = (state.presses or 0) + 1
  log.info("remote: %s", m.action)
  act()
end, { json = true })
