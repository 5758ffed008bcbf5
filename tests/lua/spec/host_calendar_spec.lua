-- Time in scripts: time(), date(), sun() against a reference table,
-- at() (clock times, sun events, weekdays) and cron() firing at, never
-- before, their time on the fake clock, across midnight and across both
-- DST changes of Europe/Berlin (TZ set for these specs), and kept across
-- reloads and restarts.
local ffi = require "ffi"
local runtime = require "lunamq.runtime"
local calendar = require "lunamq.calendar"
local util = require "helpers.util"

pcall(ffi.cdef, "int setenv(const char *, const char *, int); int unsetenv(const char *); void tzset(void);")
local function set_tz(tz)
  if tz then ffi.C.setenv("TZ", tz, 1) else ffi.C.unsetenv("TZ") end
  ffi.C.tzset()
end

local BERLIN = { lat = 52.52, lon = 13.405 }

-- A runtime whose wall clock is `start` (epoch seconds) + the fake clock.
local function new_rt(dir, start, extra)
  local clock = util.fake_clock(0)
  local sink = util.log_sink()
  local tr = util.fake_transport()
  local o = { dir = dir, state_dir = dir .. "/.state", transport = tr, log = sink.log,
              clock = clock.now, location = BERLIN }
  o.wall_clock = function() return start * 1000 + clock.now() + (o.skew or 0) end
  for k, v in pairs(extra or {}) do o[k] = v end
  local rt = runtime.new(o)
  return rt, tr, clock, sink, o
end

-- Run the fake clock timer by timer until `until_s` (wall seconds).
local function run_until(rt, clock, start, until_s)
  while true do
    local d = rt:next_timer_in()
    if not d or start + (clock.now() + d) / 1000 > until_s then break end
    clock.advance(d)
    rt:run_timers()
  end
end

local function local_t(y, m, d, h, mi, s)
  return os.time { year = y, month = m, day = d, hour = h, min = mi or 0, sec = s or 0 }
end

describe("calendar #unit", function()
  local dir
  before_each(function()
    set_tz("Europe/Berlin")
    dir = util.tmpdir()
  end)
  after_each(function()
    set_tz(nil)
    util.rmrf(dir)
  end)

  -- Reference: timeanddate.com (London, as in the astral package's tests)
  -- and almanac times for the others, to the minute, UTC.
  local REFERENCE = {
    { "London", 51.5074, -0.1278, "2015-12-01", { dawn = "2015-12-01 07:04", sunrise = "2015-12-01 07:43",
      sunset = "2015-12-01 15:55", dusk = "2015-12-01 16:35" } },
    { "London", 51.5074, -0.1278, "2016-01-06", { sunrise = "2016-01-06 08:05", sunset = "2016-01-06 16:07" } },
    { "New York", 40.7128, -74.0060, "2024-12-21", { sunrise = "2024-12-21 12:16", sunset = "2024-12-21 21:32" } },
    { "Berlin", 52.52, 13.405, "2024-06-21", { sunrise = "2024-06-21 02:43", sunset = "2024-06-21 19:33" } },
    { "Sydney", -33.8688, 151.2093, "2024-06-21", { sunrise = "2024-06-20 21:00", sunset = "2024-06-21 06:54" } },
  }
  local function utc(text)
    local y, m, d, h, mi = text:match("^(%d+)-(%d+)-(%d+) (%d+):(%d+)$")
    return calendar.days_from_civil(tonumber(y), tonumber(m), tonumber(d)) * 86400 + h * 3600 + mi * 60
  end

  it("computes sunrise, sunset, dawn and dusk within a minute of the reference", function()
    for _, r in ipairs(REFERENCE) do
      local y, m, d = r[4]:match("(%d+)-(%d+)-(%d+)")
      local sun = calendar.sun(r[2], r[3], tonumber(y), tonumber(m), tonumber(d))
      for ev, when in pairs(r[5]) do
        assert(math.abs(sun[ev] - utc(when)) <= 60,
               ("%s %s %s: %s, reference %s"):format(r[1], r[4], ev, os.date("!%H:%M:%S", sun[ev]), when))
      end
    end
  end)

  it("says polar night and polar day where the sun does not rise or set", function()
    local winter = calendar.sun(69.6492, 18.9553, 2024, 12, 21)
    assert.are.equal("night", winter.polar)
    assert.is_nil(winter.sunrise)
    assert.is_nil(winter.sunset)
    assert.is_not_nil(winter.dawn) -- civil twilight at noon
    local summer = calendar.sun(69.6492, 18.9553, 2024, 6, 21)
    assert.are.equal("day", summer.polar)
    assert.is_nil(summer.dusk)
  end)

  it("gives scripts time(), date() and sun() without --allow os", function()
    local start = local_t(2026, 6, 1, 12, 0, 0)
    util.write(dir .. "/t.lua", [[
      on("q", function()
        local s = sun()
        publish("r", { t = time(), d = date("%Y-%m-%d %H:%M"), y = date("*t").year,
                       rise = date("%H:%M", s.sunrise), set = date("%H:%M", sun("2026-12-21").sunset),
                       os = os == nil })
      end)
    ]])
    local rt, tr, clock = new_rt(dir, start)
    rt:scan()
    clock.advance(1500)
    rt:deliver { topic = "q", payload = "" }
    local got = require("lunamq.json").decode(tr.published[1].payload)
    assert.are.same({ t = start + 1.5, d = "2026-06-01 12:00", y = 2026,
                      rise = os.date("%H:%M", calendar.sun(52.52, 13.405, 2026, 6, 1).sunrise),
                      set = os.date("%H:%M", calendar.sun(52.52, 13.405, 2026, 12, 21).sunset),
                      os = true }, got)
    assert.are.equal("04:49", got.rise)
  end)

  it("fires a midnight job at or after midnight, never before, seeing the new date", function()
    local start = local_t(2026, 6, 1, 23, 59, 0)
    util.write(dir .. "/t.lua", [[ at("midnight", "00:00", function() publish("d", date("%Y-%m-%d %H:%M:%S", time())) end) ]])
    local rt, tr, clock, _, o = new_rt(dir, start)
    rt:scan()
    assert.are.equal(60000, rt:next_timer_in())
    -- the wall clock is slewed back half a second meanwhile (NTP): the
    -- monotonic alarm comes early, the job must wait for the wall clock
    o.skew = -500
    clock.advance(60000)
    rt:run_timers()
    assert.are.equal(0, #tr.published)
    assert.are.equal(500, rt:next_timer_in())
    clock.advance(499); rt:run_timers()
    assert.are.equal(0, #tr.published)
    clock.advance(1); rt:run_timers()
    assert.are.same("2026-06-02 00:00:00", tr.published[1].payload)
    -- and the next one a day later
    assert.are.equal(24 * 3600000, rt:next_timer_in())
  end)

  it("runs a daily job once per day at the local time named across both DST changes", function()
    util.write(dir .. "/t.lua", [[
      at("early", "02:30", function() publish("early", date("%Y-%m-%d %H:%M %Z")) end)
      at("morning", "07:30", function() publish("morning", date("%Y-%m-%d %H:%M %Z")) end)
    ]])
    local function fired(tr, topic)
      local r = {}
      for _, p in ipairs(tr.published) do if p.topic == topic then r[#r + 1] = p.payload end end
      return r
    end
    -- spring: 29 March 2026, 02:00 CET -> 03:00 CEST (02:30 does not exist)
    local start = local_t(2026, 3, 27, 12, 0, 0)
    local rt, tr, clock = new_rt(dir, start)
    rt:scan()
    run_until(rt, clock, start, local_t(2026, 3, 31, 12, 0, 0))
    assert.are.same({ "2026-03-28 02:30 CET", "2026-03-29 03:30 CEST", "2026-03-30 02:30 CEST",
                      "2026-03-31 02:30 CEST" }, fired(tr, "early"))
    assert.are.same({ "2026-03-28 07:30 CET", "2026-03-29 07:30 CEST", "2026-03-30 07:30 CEST",
                      "2026-03-31 07:30 CEST" }, fired(tr, "morning"))
    -- autumn: 25 October 2026, 03:00 CEST -> 02:00 CET (02:30 happens twice)
    local dir2 = util.tmpdir()
    util.write(dir2 .. "/t.lua", util.read(dir .. "/t.lua"))
    start = local_t(2026, 10, 23, 12, 0, 0)
    rt, tr, clock = new_rt(dir2, start)
    rt:scan()
    run_until(rt, clock, start, local_t(2026, 10, 27, 12, 0, 0))
    local early = fired(tr, "early")
    assert.are.equal(4, #early)
    assert.are.equal("2026-10-24 02:30 CEST", early[1])
    assert.is_truthy(early[2]:match("^2026%-10%-25 02:30 CES?T$"))
    assert.are.same({ "2026-10-26 02:30 CET", "2026-10-27 02:30 CET" }, { early[3], early[4] })
    assert.are.same({ "2026-10-24 07:30 CEST", "2026-10-25 07:30 CET", "2026-10-26 07:30 CET",
                      "2026-10-27 07:30 CET" }, fired(tr, "morning"))
    util.rmrf(dir2)
  end)

  it("takes weekdays, sun events with an offset, and cron's five fields", function()
    -- Friday 5 June 2026, 12:00
    local start = local_t(2026, 6, 5, 12, 0, 0)
    util.write(dir .. "/t.lua", [[
      at("work", "Mon-Fri 07:30", function() publish("work", date("%a %H:%M")) end)
      at("weekend", "Sat,Sun 09:00", function() publish("weekend", date("%a %H:%M")) end)
      at("lights", "sunset-00:30", function() publish("lights", date("%a %H:%M:%S")) end)
      cron("five", "*/5 * * * *", function() publish("five", date("%H:%M:%S")) end)
      cron("monday", "0 9 * * mon", function() publish("monday", date("%a %H:%M")) end)
    ]])
    local rt, tr, clock = new_rt(dir, start)
    rt:scan()
    run_until(rt, clock, start, local_t(2026, 6, 8, 12, 0, 0))
    local by = {}
    for _, p in ipairs(tr.published) do
      by[p.topic] = by[p.topic] or {}
      table.insert(by[p.topic], p.payload)
    end
    assert.are.same({ "Mon 07:30" }, by.work)
    assert.are.same({ "Sat 09:00", "Sun 09:00" }, by.weekend)
    assert.are.same({ "Mon 09:00" }, by.monday)
    assert.are.equal(3 * 24 * 12, #by.five)
    assert.are.equal("12:05:00", by.five[1])
    local want = {}
    for d = 5, 7 do
      local s = calendar.sun(BERLIN.lat, BERLIN.lon, 2026, 6, d).sunset - 1800
      want[#want + 1] = os.date("%a %H:%M:%S", s)
    end
    assert.are.same(want, by.lights)
  end)

  it("refuses a bad schedule at the line that gives it", function()
    util.write(dir .. "/a.lua", [[ at("x", "Mon-Fro 07:30", function() end) ]])
    util.write(dir .. "/b.lua", [[ cron("x", "*/5 * * *", function() end) ]])
    util.write(dir .. "/c.lua", [[ cron("x", "61 * * * *", function() end) ]])
    local rt, _, _, sink = new_rt(dir, local_t(2026, 6, 5, 12), { location = false })
    rt:scan()
    assert.is_not_nil(sink.find("error", 'a%.lua:1: at: "Mon%-Fro 07:30": Mon%-Fro is not a weekday list'))
    assert.is_not_nil(sink.find("error", "b%.lua:1: cron: .*needs five fields"))
    assert.is_not_nil(sink.find("error", 'c%.lua:1: cron: .*minute: "61" is not in 0%-59'))
    util.write(dir .. "/d.lua", [[ at("x", "sunset", function() end) ]])
    rt:scan()
    assert.is_not_nil(sink.find("error", 'd%.lua:1: at: "sunset" needs a location'))
  end)

  it("keeps a schedule across a reload and a restart, firing at its time", function()
    local start = local_t(2026, 6, 5, 12, 0, 0)
    local RULE = [[
      on_timer("later", function() publish("later", date("%H:%M:%S")) end)
      cron("c", "30 13 * * *", function() publish("c", date("%H:%M:%S")) end)
      on("arm", function() at("later", "Mon-Fri 14:00") end)
    ]]
    util.write(dir .. "/t.lua", RULE)
    local rt, _, clock = new_rt(dir, start)
    rt:scan()
    rt:deliver { topic = "arm", payload = "" }
    clock.advance(600000)
    util.write(dir .. "/t.lua", RULE .. "\n-- v2\n")
    rt:scan()
    assert.are.equal(3600000 + 1800000 - 600000, rt:next_timer_in())
    rt:close()
    -- down for 20 minutes; a new host
    local rt2, tr2, clock2 = new_rt(dir, start + 1800)
    rt2:scan()
    assert.are.equal(3600000, rt2:next_timer_in())
    run_until(rt2, clock2, start + 1800, local_t(2026, 6, 5, 14, 30))
    assert.are.same({ { topic = "c", payload = "13:30:00" }, { topic = "later", payload = "14:00:00" } },
                    { { topic = tr2.published[1].topic, payload = tr2.published[1].payload },
                      { topic = tr2.published[2].topic, payload = tr2.published[2].payload } })
  end)
end)
