-- thermostat.lua - the living room heater follows a temperature sensor,
-- with a hysteresis band, a minimum time between two switchings (relays
-- and boilers wear out), and a failsafe: an open window switches the heat
-- off at once, whatever the minimum cycle time says.
--
-- zigbee2mqtt: zigbee2mqtt/living_temp {"temperature":19.5},
-- zigbee2mqtt/living_window {"contact":false} (false: open), the heater's
-- smart plug takes zigbee2mqtt/living_heater/set {"state":"ON"}.  The set
-- point comes from home/thermostat/setpoint (a number, retained).
local TEMP = "zigbee2mqtt/living_temp"
local WINDOW = "zigbee2mqtt/living_window"
local SETPOINT = "home/thermostat/setpoint"
local HEATER = "zigbee2mqtt/living_heater/set"
local STATUS = "home/thermostat/state"
local DEFAULT_SETPOINT = 21.0
local HYSTERESIS = 0.5      -- on below set point - 0.5, off above set point + 0.5
local MIN_CYCLE = 5 * 60    -- seconds between two switchings

local evaluate -- below

local function switch(on, why)
  publish(HEATER, { state = on and "ON" or "OFF" }, { qos = 1 })
  state.heating = on
  -- the next switching waits for this timer (restored after a restart)
  state.locked = true
  after("min_cycle", MIN_CYCLE, function()
    state.locked = false
    evaluate()
  end)
  publish(STATUS, { heating = on, temperature = state.temperature,
                    setpoint = state.setpoint or DEFAULT_SETPOINT,
                    window_open = state.window_open or false, reason = why },
          { qos = 1, retain = true })
  log.info("heater %s (%s)", on and "on" or "off", why)
end

function evaluate()
  if state.window_open then
    -- the failsafe does not wait for the minimum cycle time
    if state.heating then switch(false, "window open") end
    return
  end
  local t = state.temperature
  if not t or state.locked then return end
  local sp = state.setpoint or DEFAULT_SETPOINT
  if not state.heating and t < sp - HYSTERESIS then
    switch(true, ("%.1f < %.1f"):format(t, sp - HYSTERESIS))
  elseif state.heating and t > sp + HYSTERESIS then
    switch(false, ("%.1f > %.1f"):format(t, sp + HYSTERESIS))
  end
end

on(TEMP, function(m)
  if type(m.temperature) ~= "number" then return end
  state.temperature = m.temperature
  evaluate()
end, { json = true })

on(WINDOW, function(m)
  if type(m.contact) ~= "boolean" then return end
  state.window_open = not m.contact
  evaluate()
end, { json = true, qos = 1 })

on(SETPOINT, function(p)
  local sp = tonumber(p)
  if not sp or sp < 5 or sp > 30 then
    log.warn("set point %q ignored (a number from 5 to 30)", tostring(p))
    return
  end
  state.setpoint = sp
  evaluate()
end, { qos = 1 })

-- A switching shortly before a restart still holds the next one back for
-- the rest of its minimum cycle (a reload keeps the running timer).
if state.locked then
  after("min_cycle", MIN_CYCLE, function()
    state.locked = false
    evaluate()
  end)
end
