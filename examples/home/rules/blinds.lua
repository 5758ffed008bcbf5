-- blinds.lua - the bedroom blinds open at 07:00 on working days and at
-- 09:00 at the weekend, and close at dusk; a cron job asks the cover for
-- its position every 30 minutes during the day (zigbee2mqtt's /get).
local house = require "house"
local COVER = "bedroom_blinds"

local function move(state)
  publish(house.set_topic(COVER), { state = state }, { qos = 1 })
end

at("open_workday", "Mon-Fri 07:00", function() move("OPEN") end)
at("open_weekend", "Sat,Sun 09:00", function() move("OPEN") end)
at("close", "dusk", function() move("CLOSE") end)

cron("poll", "*/30 7-21 * * *", function()
  publish(house.Z2M .. "/" .. COVER .. "/get", { position = "" })
  local cover = wait_for(house.Z2M .. "/" .. COVER, 5, { json = true })
  if cover and cover.position then state.position = cover.position end
end)
