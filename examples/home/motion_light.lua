-- motion_light.lua - the hall light follows a zigbee2mqtt motion sensor:
-- on when motion is seen, off once there has been none for OFF_AFTER
-- seconds.
--
-- zigbee2mqtt publishes the sensor as JSON on zigbee2mqtt/<friendly name>,
-- e.g. {"occupancy":true,"illuminance":12,"battery":97}, and takes commands
-- for the light on zigbee2mqtt/<friendly name>/set, e.g. {"state":"ON"}.
local SENSOR = "zigbee2mqtt/hall_motion"
local LIGHT = "zigbee2mqtt/hall_light/set"
local OFF_AFTER = 5 * 60 -- seconds without motion

local function light(on)
  publish(LIGHT, { state = on and "ON" or "OFF" }, { qos = 1 })
  state.on = on
end

local function light_off()
  log.info("no motion for %d s: light off", OFF_AFTER)
  light(false)
end

on(SENSOR, function(sensor)
  -- The sensor reports occupancy=false on its own timeout; only motion
  -- matters here: each one restarts the wait.
  if sensor.occupancy ~= true then return end
  if not state.on then
    log.info("motion: light on")
    light(true)
  end
  after("off", OFF_AFTER, light_off)
end, { json = true, qos = 1 })

-- The light is on (state survives restarts and reloads) but nothing is
-- waiting to switch it off, e.g. after a restart: start the wait.  On a
-- reload the running "off" timer is re-attached and keeps its deadline.
if state.on then after("off", OFF_AFTER, light_off) end
