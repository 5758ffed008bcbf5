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

-- What the "off" timer does.  Named with on_timer, so the wait lives in
-- the timer alone: a reload gives the running timer this function and
-- keeps its deadline; a restart restores the deadline from the state dir
-- and attaches it here (a light left on when it ran out meanwhile goes off
-- at once).
on_timer("off", function()
  log.info("no motion for %d s: light off", OFF_AFTER)
  light(false)
end)

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
  after("off", OFF_AFTER)
end, { json = true, qos = 1 })
