-- lib/house.lua - what several rules of this folder share: the names of
-- the zigbee2mqtt devices and how to switch a light.  Scripts load it with
-- require "house"; a save of this file reloads every script that does.
local M = {}

M.Z2M = "zigbee2mqtt"

-- the set topic of a zigbee2mqtt device
function M.set_topic(device) return M.Z2M .. "/" .. device .. "/set" end

-- switch a zigbee2mqtt light (on: true/false), brightness 0..254 optional
function M.light(device, on, brightness)
  publish(M.set_topic(device), { state = on and "ON" or "OFF", brightness = on and brightness or nil },
          { qos = 1 })
end

return M
