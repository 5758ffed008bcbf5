-- ha_switch.lua - a virtual "Guest mode" switch that Home Assistant finds
-- by MQTT discovery: the config is published retained under
-- homeassistant/switch/<id>/config, HA sends ON/OFF to the command topic,
-- the script answers on the (retained) state topic, and announces itself
-- again whenever HA says homeassistant/status "online" (HA restarted and
-- forgot what it had not kept).
--
-- Availability: HA shows the switch as unavailable when its availability
-- topic says "offline".  The script publishes "online" (retained) when it
-- loads and at every re-announce.  "offline" on a crash needs the MQTT
-- will, which belongs to the host's connection, not to a script: run the
-- host with --will-topic lunamq/guest_mode/availability --will-payload
-- offline --will-retain (or the same keys in --config) to get it.
local ID = "lunamq_guest_mode"
local BASE = "lunamq/guest_mode"
local CONFIG = "homeassistant/switch/" .. ID .. "/config"
local COMMAND = BASE .. "/set"
local STATE = BASE .. "/state"
local AVAILABILITY = BASE .. "/availability"

local function publish_state()
  publish(STATE, state.on and "ON" or "OFF", { qos = 1, retain = true })
end

local function announce()
  publish(CONFIG, {
    name = "Guest mode",
    unique_id = ID,
    command_topic = COMMAND,
    state_topic = STATE,
    availability_topic = AVAILABILITY,
    payload_on = "ON", payload_off = "OFF",
    payload_available = "online", payload_not_available = "offline",
    device = { identifiers = { "lunamq_host" }, name = "lunamq host", model = "lunamq host" },
  }, { qos = 1, retain = true })
  publish(AVAILABILITY, "online", { qos = 1, retain = true })
  publish_state()
end

on(COMMAND, function(p)
  if p ~= "ON" and p ~= "OFF" then
    log.warn("guest mode: %q is not ON or OFF", p)
    return
  end
  state.on = p == "ON"
  log.info("guest mode %s", p)
  publish_state()
end, { qos = 1 })

on("homeassistant/status", function(p)
  if p == "online" then announce() end
end, { qos = 1 })

announce()
