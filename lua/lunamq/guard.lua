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
local gethook, sethook = debug.gethook, debug.sethook

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
  -- stops: how many times the bound stopped a call (the runtime tells a
  -- runaway from another error by it)
  local g = { bound_ms = bound_ms, clock = clock, deadline = nil, stops = 0 }

  local function stop_message()
    return ("stopped: ran longer than %d ms"):format(g.bound_ms)
  end

  local finish -- (below)
  local function hook()
    if g.deadline and g.clock() > g.deadline then
      -- not in the guard's own code between the end of a call and the
      -- deadline's reset: the error would escape the xpcall
      local at = debug.getinfo(2, "f")
      if at and (at.func == finish or at.func == g.call) then return end
      g.expired = true
      g.stops = g.stops + 1
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

  -- The count hook is installed by the first bounded call and stays:
  -- with no deadline armed it returns at once.  Installing and removing it
  -- around every call (a rewrite of the VM's dispatch table each time) cost
  -- more than a short handler itself; a hook left in place costs one cheap
  -- call per HOOK_EVERY interpreted instructions and stops no compilation.
  -- Each call checks the hook is still this guard's (a script allowed the
  -- debug library, or another guard, may have replaced it).  release()
  -- removes it (the runtime's close()).
  function finish(prev_deadline, ...)
    g.deadline = prev_deadline
    if not prev_deadline then g.expired = false end
    return ...
  end

  -- ok, result... or false, message-with-traceback
  function g.call(fn, ...)
    local prev_deadline = g.deadline
    if not (g.bound_ms and g.bound_ms > 0) then
      return xpcall(fn, traceback, ...)
    end
    local d = g.clock() + g.bound_ms
    -- a nested call cannot extend the outer bound
    if not prev_deadline or d < prev_deadline then g.deadline = d end
    if gethook() ~= hook then sethook(hook, "", HOOK_EVERY) end
    return finish(prev_deadline, xpcall(fn, traceback, ...))
  end

  function g.release()
    if gethook() == hook then sethook() end
  end

  return g
end

return M
