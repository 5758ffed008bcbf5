-- ha_discovery.lua - an "Away mode" switch for Home Assistant by MQTT
-- discovery, announced on every connect (on_connect): after a broker
-- restart that lost the retained config, HA finds the switch again without
-- restarting the host.  The availability goes "offline" through the host's
-- will (--will-topic lunamq/away/availability --will-payload offline
-- --will-retain).  The away temperature comes from the config's settings.
local ID = "lunamq_away_mode"
local BASE = "lunamq/away"

local function publish_state()
  publish(BASE .. "/state", state.away and "ON" or "OFF", { qos = 1, retain = true })
end

on_connect(function()
  publish("homeassistant/switch/" .. ID .. "/config", {
    name = "Away mode", unique_id = ID,
    command_topic = BASE .. "/set", state_topic = BASE .. "/state",
    availability_topic = BASE .. "/availability",
    device = { identifiers = { "lunamq_host" }, name = "lunamq host" },
  }, { qos = 1, retain = true })
  publish(BASE .. "/availability", "online", { qos = 1, retain = true })
  publish_state()
end)

on(BASE .. "/set", function(p)
  if p ~= "ON" and p ~= "OFF" then return log.warn("away mode: %q is not ON or OFF", p) end
  state.away = p == "ON"
  publish_state()
  local temp = state.away and (settings.away_temp or 16) or (settings.home_temp or 21)
  publish("zigbee2mqtt/living_thermostat/set", { current_heating_setpoint = temp }, { qos = 1 })
end, { qos = 1 })
