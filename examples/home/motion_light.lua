-- motion_light.lua - the hall light follows a zigbee2mqtt motion sensor:
-- on when motion is seen and the hall is dark (the sensor's illuminance
-- below DARK lux), off once there has been no motion for OFF_AFTER seconds.
--
-- zigbee2mqtt publishes the sensor as JSON on zigbee2mqtt/<friendly name>,
-- e.g. {"occupancy":true,"illuminance":12,"battery":97}, and takes commands
-- for the light on zigbee2mqtt/<friendly name>/set, e.g. {"state":"ON"}.
local SENSOR = "zigbee2mqtt/hall_motion"
local LIGHT = "zigbee2mqtt/hall_light/set"
local OFF_AFTER = 5 * 60 -- seconds without motion
local DARK = 50          -- lux: brighter than this, motion does not switch on

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
    -- daylight: no need for light (a sensor without a light meter: always)
    if type(sensor.illuminance) == "number" and sensor.illuminance >= DARK then return end
    log.info("motion: light on")
    light(true)
  end
  -- the light is on: every motion restarts the wait, however bright it is
  after("off", OFF_AFTER, light_off)
end, { json = true, qos = 1 })

-- The light is on (state survives restarts and reloads) but nothing is
-- waiting to switch it off, e.g. after a restart: start the wait.  On a
-- reload the running "off" timer is re-attached and keeps its deadline.
if state.on then after("off", OFF_AFTER, light_off) end
