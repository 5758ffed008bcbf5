-- lunamq.timers - named timers per script, on an injectable clock.
--
-- A timer is known by (owner, name), so a reloaded script can find its live
-- timer again: set() with keep = true adopts the new callback and interval
-- but keeps the deadline already running.  Timers are few (home rules), so
-- the next deadline is a linear scan rather than a heap.
local M = {}
local Timers = {}
Timers.__index = Timers

-- clock() returns milliseconds (monotonic in the host, fake in specs);
-- wall() milliseconds since the epoch (calendar timers, see run_due).
function M.new(clock, wall)
  return setmetatable({ clock = clock, wall = wall, all = {}, seq = 0 }, Timers)
end

local function key(owner, name) return owner .. "\0" .. name end

-- Arm (or re-arm) a timer.  delay_ms until the first run, interval_ms for
-- a periodic one (nil: once).  keep: if a timer of that name is live, keep
-- its deadline (a reload re-attaching it).  Returns the timer.
function Timers:set(owner, name, delay_ms, interval_ms, fn, keep, extra)
  local k = key(owner, name)
  local t = self.all[k]
  if t and keep then
    t.fn, t.interval = fn, interval_ms
  else
    self.seq = self.seq + 1
    t = { owner = owner, name = name, due = self.clock() + delay_ms,
          interval = interval_ms, fn = fn, seq = self.seq, errors = 0 }
    self.all[k] = t
  end
  if extra then for ek, ev in pairs(extra) do t[ek] = ev end end
  return t
end

function Timers:get(owner, name) return self.all[key(owner, name)] end

function Timers:cancel(owner, name)
  local k = key(owner, name)
  local t = self.all[k]
  self.all[k] = nil
  return t ~= nil
end

-- Cancel every timer of owner for which pred(t) is true (all when nil).
function Timers:cancel_owner(owner, pred)
  for k, t in pairs(self.all) do
    if t.owner == owner and (not pred or pred(t)) then self.all[k] = nil end
  end
end

function Timers:owned(owner)
  local r = {}
  for _, t in pairs(self.all) do
    if t.owner == owner then r[#r + 1] = t end
  end
  table.sort(r, function(a, b) return a.name < b.name end)
  return r
end

-- Milliseconds until the next deadline (0 if one has passed), nil if none.
function Timers:next_in()
  local best
  for _, t in pairs(self.all) do
    if not best or t.due < best then best = t.due end
  end
  if not best then return nil end
  local d = best - self.clock()
  return d > 0 and d or 0
end

-- Run every timer whose deadline has passed, earliest first (ties in the
-- order they were made), through call(t).  A periodic timer is rescheduled
-- before it runs, from its own deadline so it does not drift, but never into
-- the past (a long stall does not cause a burst).
function Timers:run_due(call)
  local now = self.clock()
  local due
  for _, t in pairs(self.all) do
    if t.due <= now then
      due = due or {}
      due[#due + 1] = t
    end
  end
  -- (the common case, between two messages: nothing due, nothing made)
  if not due then return 0 end
  table.sort(due, function(a, b)
    if a.due ~= b.due then return a.due < b.due end
    return a.seq < b.seq
  end)
  local n = 0
  for _, t in ipairs(due) do
    -- an earlier callback may have cancelled or replaced it
    if self.all[key(t.owner, t.name)] == t then
      local run = true
      if t.calendar then
        -- A calendar timer (at "07:30", cron) runs at or after its
        -- wall-clock target, never before: the monotonic deadline is only
        -- the alarm, and an early one (the two clocks drift, rounding) waits
        -- for the rest.  Then the next target, worked out anew from the
        -- calendar (a day is not always 24 hours of local time).
        local w = self.wall()
        if w < t.target then
          t.due = now + math.ceil(t.target - w)
          run = false
        else
          local nxt = t.calendar(math.max(t.target, w))
          if nxt then
            t.target = nxt
            t.due = now + math.ceil(nxt - w)
          else
            self.all[key(t.owner, t.name)] = nil
          end
        end
      elseif t.interval then
        t.due = t.due + t.interval
        if t.due <= now then t.due = now + t.interval end
      else
        self.all[key(t.owner, t.name)] = nil
      end
      if run then
        n = n + 1
        call(t)
      end
    end
  end
  return n
end

return M
