-- porch_light.lua - the porch light goes on half an hour before sunset and
-- off at 23:30.  Needs the host's location (--location LAT,LON or
-- location = { lat =, lon = } in the config).  If the host starts (or the
-- file is saved) between the two, the light goes on at once.
local house = require "house"
local LIGHT = "porch_light"

at("porch_on", "sunset-00:30", function()
  log.info("sunset at %s: porch light on", date("%H:%M", sun().sunset))
  house.light(LIGHT, true, 180)
end)

at("porch_off", "23:30", function()
  house.light(LIGHT, false)
end)

-- between sunset-00:30 and 23:30 at load: on now
local s = sun()
local t = date("*t")
if s.sunset and time() >= s.sunset - 1800 and (t.hour < 23 or (t.hour == 23 and t.min < 30)) then
  house.light(LIGHT, true, 180)
end
