-- leak_alarm.lua - a water leak sensor under the washing machine: on a
-- leak the siren sounds and a notification goes out, repeated every 5
-- minutes until someone acknowledges it (alarm/leak/ack, e.g. a button in
-- Home Assistant).  The alarm is in `state`, the reminder a named timer
-- with on_timer: both come back after a restart, so a leak while the host
-- was down does not go quiet.
local SENSOR = "zigbee2mqtt/washer_leak"
local SIREN = "zigbee2mqtt/siren/set"
local NOTIFY = "notify/phone"
local REPEAT = 5 * 60

on_timer("remind", function()
  state.reminders = (state.reminders or 0) + 1
  publish(NOTIFY, { title = "Water leak", message = ("still not acknowledged (%d)"):format(state.reminders) },
          { qos = 1 })
end)

on(SENSOR, function(sensor)
  if sensor.water_leak and not state.alarm then
    state.alarm, state.since, state.reminders = true, time(), 0
    log.warn("leak under the washing machine")
    publish(SIREN, { warning = { mode = "burglar", duration = 60 } }, { qos = 1 })
    publish(NOTIFY, { title = "Water leak", message = "under the washing machine" }, { qos = 1 })
    every("remind", REPEAT)
  end
end, { json = true, qos = 1, changed_only = true })

on("alarm/leak/ack", function()
  if not state.alarm then return end
  log.info("leak acknowledged after %.0f s", time() - state.since)
  state.alarm = false
  cancel("remind")
  publish(SIREN, { warning = { mode = "stop" } }, { qos = 1 })
  publish(NOTIFY, { title = "Water leak", message = "acknowledged" }, { qos = 1 })
end, { qos = 1 })
