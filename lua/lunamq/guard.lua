-- lunamq.guard - every call into a script: under xpcall with a traceback,
-- and stopped when it runs longer than a bound.
--
-- LuaJIT runs no debug hooks inside compiled traces, so a count hook alone
-- would never fire in a hot `while true do end`.  Script chunks are
-- therefore loaded with the JIT switched off for them and every function
-- they define (jit.off(chunk, true), see prepare()); the interpreter then
-- runs the count hook, which raises an error once the deadline has passed.
-- Rules spend their time waiting for messages, not computing, so running
-- them interpreted costs little.  A C function that never returns (a huge
-- string.rep) cannot be interrupted this way.
local M = {}

local jit = rawget(_G, "jit")
local debug = debug

local HOOK_EVERY = 1000 -- VM instructions between clock checks

-- Switch off compilation for a loaded chunk and all functions inside it.
function M.prepare(chunk)
  if jit and jit.off then jit.off(chunk, true) end
  return chunk
end

local function traceback(e)
  if type(e) == "table" and e.runaway then return e end
  return debug.traceback(tostring(e), 2)
end

-- A guard with a time bound (ms, nil or <= 0 for none) on clock() (ms).
function M.new(bound_ms, clock)
  local g = { bound_ms = bound_ms, clock = clock, deadline = nil }

  local function stop_message()
    return ("stopped: ran longer than %d ms"):format(g.bound_ms)
  end

  local function hook()
    if g.deadline and g.clock() > g.deadline then
      g.expired = true
      error(stop_message(), 2)
    end
  end

  -- pcall and xpcall for scripts: once the bound has passed, a script
  -- cannot catch the stop and carry on; the error is raised again as soon
  -- as its pcall returns.
  local function rethrow_if_expired(...)
    if g.expired then error(stop_message(), 0) end
    return ...
  end
  function g.pcall(fn, ...)
    return rethrow_if_expired(pcall(fn, ...))
  end
  function g.xpcall(fn, handler, ...)
    return rethrow_if_expired(xpcall(fn, handler, ...))
  end

  -- ok, result... or false, message-with-traceback
  function g.call(fn, ...)
    local prev_deadline = g.deadline
    local bounded = g.bound_ms and g.bound_ms > 0
    if bounded then
      local d = g.clock() + g.bound_ms
      -- a nested call cannot extend the outer bound
      if not prev_deadline or d < prev_deadline then g.deadline = d end
      if not prev_deadline then debug.sethook(hook, "", HOOK_EVERY) end
    end
    local r = { xpcall(fn, traceback, ...) }
    if bounded then
      g.deadline = prev_deadline
      if not prev_deadline then
        debug.sethook()
        g.expired = false
      end
    end
    return unpack(r, 1, table.maxn(r))
  end

  return g
end

return M
