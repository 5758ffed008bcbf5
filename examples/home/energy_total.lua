-- energy_total.lua - today's energy use from a cumulative meter, and the
-- day's total at midnight.
--
-- The meter (a zigbee2mqtt smart plug or a P1 reader) publishes its counter
-- as zigbee2mqtt/house_meter {"energy":1234.56} in kWh.  The script keeps
-- the reading at the start of the day; home/energy/today gets the use so
-- far (retained) when it changes, and at 00:00 local time
-- home/energy/daily gets the day's total (retained) and a new day starts.
local METER = "zigbee2mqtt/house_meter"
local TODAY = "home/energy/today"
local DAILY = "home/energy/daily"

local function round(x) return math.floor(x * 1000 + 0.5) / 1000 end

local function used()
  if not state.reading or not state.day_start then return nil end
  return round(state.reading - state.day_start)
end

on(METER, function(m)
  local e = m.energy
  if type(e) ~= "number" then return end
  if not state.day_start or e < state.day_start then
    -- first reading, or the meter was reset or replaced: count from here
    state.day_start = e
  end
  state.reading = e
  local u = used()
  if u ~= state.published then
    state.published = u
    publish(TODAY, { kwh = u }, { qos = 1, retain = true })
  end
end, { json = true, qos = 1 })

at("midnight", "00:00", function()
  local u = used()
  if u then
    state.days = (state.days or 0) + 1
    publish(DAILY, { kwh = u, day = state.days }, { qos = 1, retain = true })
    log.info("energy used today: %.3f kWh", u)
  end
  state.day_start = state.reading
  state.published = 0
  if u then publish(TODAY, { kwh = 0 }, { qos = 1, retain = true }) end
end)
