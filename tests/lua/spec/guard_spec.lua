-- A handler that runs too long is stopped, even in a tight loop that
-- LuaJIT would otherwise compile into a trace where no hook runs.
local runtime = require "lunamq.runtime"
local guard = require "lunamq.guard"
local sys = require "lunamq.sys"
local util = require "helpers.util"

local BOUND = 100 -- ms

describe("the runaway bound #unit", function()
  local dir, rt, tr, sink

  before_each(function()
    dir = util.tmpdir()
    tr, sink = util.fake_transport(), util.log_sink()
  end)
  after_each(function() util.rmrf(dir) end)

  local function load(src)
    util.write(dir .. "/spin.lua", src)
    rt = runtime.new { dir = dir, transport = tr, log = sink.log, bound_ms = BOUND,
                       clock = util.fake_clock().now }
    rt:scan()
  end

  local function timed(fn)
    local t0 = sys.monotonic_ms()
    fn()
    return sys.monotonic_ms() - t0
  end

  it("stops a handler spinning in `while true do end`", function()
    load([[ on("spin", function() while true do end end)
            on("ok", function() publish("ok", "1") end) ]])
    local took = timed(function() rt:deliver({ topic = "spin", payload = "" }) end)
    assert.is_true(took >= BOUND and took < 20 * BOUND, "stopped after " .. took .. " ms")
    assert.is_not_nil(sink.find("error", "ran longer than 100 ms"))
    -- and the host carries on
    rt:deliver({ topic = "ok", payload = "" })
    assert.are.equal(1, #tr.published)
  end)

  it("stops a loop that catches the stop with pcall", function()
    load([[ on("spin", function()
              while true do pcall(function() while true do end end) end
            end) ]])
    local took = timed(function() rt:deliver({ topic = "spin", payload = "" }) end)
    assert.is_true(took < 20 * BOUND, "stopped after " .. took .. " ms")
    assert.is_not_nil(sink.find("error", "ran longer than"))
  end)

  it("stops a spinning numeric for loop inside a helper function", function()
    load([[ local function work() local x = 0; for i = 1, 1e12 do x = x + i end; return x end
            on("spin", function() work() end) ]])
    local took = timed(function() rt:deliver({ topic = "spin", payload = "" }) end)
    assert.is_true(took < 20 * BOUND, "stopped after " .. took .. " ms")
  end)

  it("stops a script whose top level spins, and keeps the host going", function()
    load([[ while true do end ]])
    assert.is_not_nil(sink.find("error", "not loaded: .*ran longer than"))
  end)

  it("stops a spinning timer", function()
    util.write(dir .. "/spin.lua", [[ after("t", 1, function() while true do end end) ]])
    local clock = util.fake_clock()
    rt = runtime.new { dir = dir, transport = tr, log = sink.log, bound_ms = BOUND,
                       clock = clock.now }
    rt:scan()
    clock.advance(1000)
    local took = timed(function() rt:run_timers() end)
    assert.is_true(took < 20 * BOUND, "stopped after " .. took .. " ms")
    assert.is_not_nil(sink.find("error", 'timer "t" failed'))
  end)

  it("stops a handler that spins after a sleep", function()
    util.write(dir .. "/spin.lua", [[ on("spin", function() sleep(1); while true do end end) ]])
    local clock = util.fake_clock()
    rt = runtime.new { dir = dir, transport = tr, log = sink.log, bound_ms = BOUND,
                       clock = clock.now }
    rt:scan()
    rt:deliver({ topic = "spin", payload = "" })
    clock.advance(1000)
    local took = timed(function() rt:run_timers() end)
    assert.is_true(took < 20 * BOUND, "stopped after " .. took .. " ms")
    assert.is_not_nil(sink.find("error", "ran longer than"))
  end)

  it("bounds only what runs inside a call, and leaves no hook after release()", function()
    local g = guard.new(BOUND, sys.monotonic_ms)
    assert.is_true((g.call(function() return 1 end)))
    -- the hook stays between calls (cheaper than setting it each time),
    -- disarmed: host code running past the bound is not stopped
    local t0 = sys.monotonic_ms()
    local spun = 0
    while sys.monotonic_ms() - t0 < 2 * BOUND do spun = spun + 1 end
    assert.is_true(spun > 0)
    -- a call after a long idle gets its own full bound
    local ok = g.call(function()
      local t1 = sys.monotonic_ms()
      while sys.monotonic_ms() - t1 < BOUND / 2 do end
    end)
    assert.is_true(ok)
    -- replaced behind its back (a script with debug allowed): set again
    debug.sethook()
    local ok2, err = g.call(guard.prepare(function() while true do end end))
    assert.is_false(ok2)
    assert.matches("ran longer than", err)
    g.release()
    assert.is_nil(debug.gethook())
  end)

  it("returns a handler's results", function()
    local g = guard.new(BOUND, sys.monotonic_ms)
    local ok, a, b = g.call(function(x) return x, x + 1 end, 41)
    assert.is_true(ok)
    assert.are.equal(41, a)
    assert.are.equal(42, b)
  end)
end)
