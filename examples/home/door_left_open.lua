-- door_left_open.lua - a reminder when the front door stays open: after 10
-- minutes, then every 10 minutes, at most 3 times; once it is closed after
-- a reminder, one "closed" message.  A restart keeps the countdown.
--
-- zigbee2mqtt publishes the contact sensor as zigbee2mqtt/front_door
-- {"contact":false} (false: open); the reminders go to home/notify as
-- {"title":..., "message":...} for whatever sends them on (a phone app).
local DOOR = "zigbee2mqtt/front_door"
local NOTIFY = "home/notify"
local EVERY = 10 * 60  -- seconds
local MAX_REMINDERS = 3

local function notify(message)
  publish(NOTIFY, { title = "Front door", message = message }, { qos = 1 })
end

local function remind()
  state.reminders = (state.reminders or 0) + 1
  local minutes = state.reminders * EVERY / 60
  notify(("open for %d minutes"):format(minutes))
  log.info("front door open for %d min (reminder %d of %d)", minutes, state.reminders,
           MAX_REMINDERS)
  if state.reminders < MAX_REMINDERS then after("remind", EVERY, remind) end
end

on(DOOR, function(m)
  if type(m.contact) ~= "boolean" then return end
  local open = not m.contact
  if open == (state.open or false) then return end -- the sensor repeats itself
  state.open = open
  if open then
    state.reminders = 0
    after("remind", EVERY, remind)
    return
  end
  cancel("remind")
  if (state.reminders or 0) > 0 then notify("closed") end
  state.reminders = 0
end, { json = true, qos = 1 })

-- Open when the host stopped: the reminder it was waiting for comes at the
-- same time (the persisted deadline), or at once if that has passed.
if state.open and (state.reminders or 0) < MAX_REMINDERS then after("remind", EVERY, remind) end
