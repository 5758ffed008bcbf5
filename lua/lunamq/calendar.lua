-- lunamq.calendar - the sun and the schedules of the rule host.
--
-- sun(lat, lon, y, m, d): sunrise, sunset, dawn, dusk (civil twilight,
-- the sun 6 degrees below the horizon) and solar noon of a local day, as
-- epoch seconds, by NOAA's solar position equations (the ones of its solar
-- calculator: Meeus' low-precision sun, the equation of time, an apparent
-- sunrise at zenith 90.833 degrees for refraction and the sun's radius),
-- each event computed at its own moment (three rounds), which keeps it
-- within a minute of the almanac below the polar circles.  Where the sun
-- does not rise or set that day, the result says polar = "day" or "night".
--
-- at_schedule(spec, location) and cron_schedule(spec) parse a schedule into
-- a function next(after) -> the first time strictly after `after` (epoch
-- seconds) it names, or nil.  Local times are worked out per calendar day
-- with os.time (the C library's mktime, the TZ of the process), so a daily
-- time is once per day across a DST change: a time that does not exist
-- that day (02:30 when the clocks go forward) comes at the same offset
-- after the jump (03:30), one that exists twice (02:30 when they go back)
-- once, the first time.
local M = {}

local floor, sin, cos, tan, asin, acos, rad, deg =
  math.floor, math.sin, math.cos, math.tan, math.asin, math.acos, math.rad, math.deg

-- days since 1970-01-01 of a proleptic Gregorian date (no time zone)
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end
M.days_from_civil = days_from_civil

-- declination (radians) and the equation of time (minutes) at Julian day jd
local function sun_position(jd)
  local T = (jd - 2451545) / 36525
  local L0 = (280.46646 + T * (36000.76983 + T * 0.0003032)) % 360
  local Mo = 357.52911 + T * (35999.05029 - 0.0001537 * T)
  local e = 0.016708634 - T * (0.000042037 + 0.0000001267 * T)
  local Mr = rad(Mo)
  local C = sin(Mr) * (1.914602 - T * (0.004817 + 0.000014 * T))
            + sin(2 * Mr) * (0.019993 - 0.000101 * T) + sin(3 * Mr) * 0.000289
  local omega = rad(125.04 - 1934.136 * T)
  local lambda = rad(L0 + C - 0.00569 - 0.00478 * sin(omega))
  local eps0 = 23 + (26 + (21.448 - T * (46.815 + T * (0.00059 - T * 0.001813))) / 60) / 60
  local eps = rad(eps0 + 0.00256 * cos(omega))
  local decl = asin(sin(eps) * sin(lambda))
  local y = tan(eps / 2) ^ 2
  local L0r = rad(L0)
  local eqt = 4 * deg(y * sin(2 * L0r) - 2 * e * sin(Mr) + 4 * e * y * sin(Mr) * cos(2 * L0r)
                      - 0.5 * y * y * sin(4 * L0r) - 1.25 * e * e * sin(2 * Mr))
  return decl, eqt
end

-- One event of UTC day `days` (minutes after its midnight may be < 0 or
-- > 1440 far from Greenwich): side -1 rising, +1 setting, 0 noon.  Epoch
-- seconds, or nil, "day" | "night".
local function event(lat, lon, days, zenith, side)
  local t = 720 - 4 * lon
  local latr = rad(lat)
  for _ = 1, 3 do
    local decl, eqt = sun_position(2440587.5 + days + t / 1440)
    local noon = 720 - 4 * lon - eqt
    if side == 0 then
      t = noon
    else
      local c = cos(rad(zenith)) / (cos(latr) * cos(decl)) - tan(latr) * tan(decl)
      if c > 1 then return nil, "night" end
      if c < -1 then return nil, "day" end
      t = noon + side * 4 * deg(acos(c))
    end
  end
  return days * 86400 + t * 60
end

-- The sun on local day y-m-d at lat, lon (degrees, north and east
-- positive): { sunrise, sunset, dawn, dusk, noon [, polar] }.
function M.sun(lat, lon, y, m, d)
  -- the UTC date of the local day: the local day's noon is near the solar
  -- noon of lon, so the same date serves (the events are placed by
  -- minutes, which may run past either midnight)
  local days = days_from_civil(y, m, d)
  local r = { noon = event(lat, lon, days, 0, 0) }
  local why
  r.sunrise, why = event(lat, lon, days, 90.833, -1)
  r.sunset = event(lat, lon, days, 90.833, 1)
  if not r.sunrise then r.polar = why end
  r.dawn = event(lat, lon, days, 96, -1)
  r.dusk = event(lat, lon, days, 96, 1)
  return r
end

-- ------------------------------------------------------------ schedules

local WEEKDAYS = { sun = 1, mon = 2, tue = 3, wed = 4, thu = 5, fri = 6, sat = 7 }
local DAY_NAMES = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" }
local function weekday(name)
  name = name:lower()
  local w = WEEKDAYS[name:sub(1, 3)]
  if not w then return nil end
  local full = ({ "sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday" })[w]
  if #name > 3 and full:sub(1, #name) ~= name then return nil end
  return w
end

-- "Mon-Fri", "Sat,Sun", "Mon,Wed-Fri" -> set of os.date wday (1 = Sunday)
local function weekdays(text)
  local set = {}
  for part in text:gmatch("[^,]+") do
    local a, b = part:match("^(%a+)%-(%a+)$")
    if a then
      local wa, wb = weekday(a), weekday(b)
      if not wa or not wb then return nil end
      local w = wa
      while true do
        set[w] = true
        if w == wb then break end
        w = w % 7 + 1
      end
    else
      local w = weekday(part)
      if not w then return nil end
      set[w] = true
    end
  end
  return set
end

-- "HH:MM[:SS]" -> seconds into the day
local function clock_time(text)
  local h, m, s = text:match("^(%d%d?):(%d%d)$")
  if not h then h, m, s = text:match("^(%d%d?):(%d%d):(%d%d)$") end
  h, m, s = tonumber(h), tonumber(m), tonumber(s) or 0
  if not h or h > 23 or m > 59 or s > 59 then return nil end
  return h, m, s
end
M.clock_time = clock_time

local SUN_EVENTS = { sunrise = true, sunset = true, dawn = true, dusk = true, noon = true }

-- The local date of epoch second t, as the fields os.time takes.
local function local_day(t)
  local d = os.date("*t", floor(t))
  return { year = d.year, month = d.month, day = d.day, wday = d.wday }
end

-- day + n days (the calendar's, whatever the clocks do)
local function add_days(day, n)
  local t = os.time { year = day.year, month = day.month, day = day.day + n, hour = 12 }
  return local_day(t)
end

local AT_SYNTAX = '"HH:MM[:SS]", "sunrise", "sunset-00:30", "dawn", "dusk" or "noon", '
                  .. 'optionally after weekdays ("Mon-Fri 07:30", "Sat,Sun sunrise+01:00")'

-- at's spec -> next(after), or nil, why.  location: { lat =, lon = } or nil.
function M.at_schedule(spec, location)
  if type(spec) ~= "string" then return nil, "needs a string: " .. AT_SYNTAX end
  local text = spec:match("^%s*(.-)%s*$")
  local days
  local d, rest = text:match("^(%S+)%s+(%S+)$")
  if d then
    days = weekdays(d)
    if not days then return nil, ("%q: %s is not a weekday list such as Mon-Fri or Sat,Sun")
                                 :format(spec, d) end
    text = rest
  end
  local ev, sign, off = text:lower():match("^(%a+)([%+%-]?)(.*)$")
  local when
  if ev and SUN_EVENTS[ev] then
    local offset = 0
    if sign ~= "" then
      local h, m, s = clock_time(off)
      if not h then return nil, ("%q: the offset is not HH:MM[:SS]"):format(spec) end
      offset = (h * 3600 + m * 60 + s) * (sign == "-" and -1 or 1)
    elseif off ~= "" then
      return nil, ("%q is not a time of day: %s"):format(spec, AT_SYNTAX)
    end
    if not location then
      return nil, ("%q needs a location: location = { lat = ..., lon = ... } in the config, "
                   .. "or --location LAT,LON"):format(spec)
    end
    when = function(day)
      local s = M.sun(location.lat, location.lon, day.year, day.month, day.day)[ev]
      return s and s + offset
    end
  else
    local h, m, s = clock_time(text)
    if not h then return nil, ("%q is not a time of day: %s"):format(spec, AT_SYNTAX) end
    when = function(day)
      return os.time { year = day.year, month = day.month, day = day.day, hour = h, min = m, sec = s }
    end
  end
  return function(after)
    -- (a sun event with an offset may fall on the day before or after)
    local day = add_days(local_day(after), -1)
    for _ = 1, 400 do
      if not days or days[day.wday] then
        local t = when(day)
        if t and t > after then return t end
      end
      day = add_days(day, 1)
    end
    return nil
  end
end

-- ------------------------------------------------------------------ cron

local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6, jul = 7, aug = 8, sep = 9,
                 oct = 10, nov = 11, dec = 12 }
local DOWS = { sun = 0, mon = 1, tue = 2, wed = 3, thu = 4, fri = 5, sat = 6 }
local FIELDS = {
  { "minute", 0, 59 }, { "hour", 0, 23 }, { "day of month", 1, 31 }, { "month", 1, 12, MONTHS },
  { "day of week", 0, 7, DOWS },
}

-- one field -> set (list of allowed values, sorted), is_star
local function cron_field(text, f)
  local name, lo, hi, names = f[1], f[2], f[3], f[4]
  local function value(v)
    local n = tonumber(v)
    if not n and names then n = names[v:lower()] end
    if not n or n ~= floor(n) or n < lo or n > hi then return nil end
    return n
  end
  local set = {}
  for part in text:gmatch("[^,]+") do
    local range, step = part:match("^([^/]+)/(%d+)$")
    range = range or part
    step = tonumber(step) or 1
    if step < 1 then return nil, ("%s: step must be >= 1"):format(name) end
    local a, b
    if range == "*" then
      a, b = lo, hi
    else
      local x, y = range:match("^(%w+)%-(%w+)$")
      if x then
        a, b = value(x), value(y)
      else
        a = value(range)
        b = (part:find("/") and hi) or a
      end
    end
    if not a or not b or a > b then
      return nil, ("%s: %q is not in %d-%d"):format(name, part, lo, hi)
    end
    for v = a, b, step do set[v] = true end
  end
  return set, text == "*"
end

-- "*/5 * * * *" (minute hour day-of-month month day-of-week, the standard
-- five; names jan..dec, sun..sat; 0 and 7 are Sunday; when both day fields
-- are restricted a day matching either runs, as in cron) -> next(after),
-- or nil, why.
function M.cron_schedule(spec)
  if type(spec) ~= "string" then return nil, "needs a string of five fields" end
  local parts = {}
  for p in spec:gmatch("%S+") do parts[#parts + 1] = p end
  if #parts ~= 5 then
    return nil, ("%q: needs five fields: minute hour day-of-month month day-of-week"):format(spec)
  end
  local sets, star = {}, {}
  for i, f in ipairs(FIELDS) do
    local set, s = cron_field(parts[i], f)
    if not set then return nil, ("%q: %s"):format(spec, s) end
    sets[i], star[i] = set, s
  end
  if sets[5][7] then sets[5][0] = true end
  local function list(set, lo, hi)
    local r = {}
    for v = lo, hi do if set[v] then r[#r + 1] = v end end
    return r
  end
  local minutes, hours = list(sets[1], 0, 59), list(sets[2], 0, 23)
  local function day_ok(day)
    if not sets[4][day.month] then return false end
    local dom, dow = sets[3][day.day], sets[5][day.wday - 1]
    if star[3] or star[5] then return (star[3] or dom) and (star[5] or dow) end
    return dom or dow
  end
  return function(after)
    local day = local_day(after)
    -- on after's own day the hours before it cannot come after it (one
    -- hour of margin for a DST change)
    local skip_below = os.date("*t", floor(after)).hour - 1
    for _ = 1, 366 * 8 do -- (Feb 29 on a Monday comes within 28 years; 8 will do for most)
      if day_ok(day) then
        for _, h in ipairs(hours) do
          if h >= skip_below then
          for _, m in ipairs(minutes) do
            local t = os.time { year = day.year, month = day.month, day = day.day, hour = h, min = m,
                                sec = 0 }
            if t > after then return t end
          end
          end
        end
      end
      skip_below = -1
      day = add_days(day, 1)
    end
    return nil
  end
end

M.DAY_NAMES = DAY_NAMES
return M
