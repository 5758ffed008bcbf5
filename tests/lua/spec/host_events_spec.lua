-- The runtime tells its transport about handler failures: every error is
-- "host_handler_errors", a stop by the time bound also
-- "host_handler_runaway", and a handler disabled after max_errors in a row
-- "host_handler_disabled" (value 1 each).  The host's transport passes them
-- to client:plugin_event, where the metrics plugin counts them.
local runtime = require "lunamq.runtime"
local util = require "helpers.util"

describe("host events for the C plugins #unit", function()
  local dir, rt, tr, sink, events

  before_each(function()
    dir = util.tmpdir()
    tr, sink, events = util.fake_transport(), util.log_sink(), {}
    function tr.event(name, value) events[#events + 1] = name .. "=" .. value end
  end)
  after_each(function()
    if rt then rt:close() end
    rt = nil
    util.rmrf(dir)
  end)

  local function load(src, opts)
    util.write(dir .. "/h.lua", src)
    opts = opts or {}
    rt = runtime.new { dir = dir, transport = tr, log = sink.log, bound_ms = opts.bound_ms or 100,
                       max_errors = opts.max_errors or 5, clock = util.fake_clock().now }
    rt:scan()
  end

  it("sends one error event per failed call, and none for a call that works", function()
    load([[ on("bad", function() error("boom") end)
            on("ok", function() publish("ok", "1") end) ]])
    rt:deliver({ topic = "ok", payload = "" })
    assert.are.same({}, events)
    rt:deliver({ topic = "bad", payload = "" })
    rt:deliver({ topic = "bad", payload = "" })
    assert.are.same({ "host_handler_errors=1", "host_handler_errors=1" }, events)
  end)

  it("tells a runaway stop from another error", function()
    load([[ on("spin", function() while true do end end) ]])
    rt:deliver({ topic = "spin", payload = "" })
    assert.are.same({ "host_handler_errors=1", "host_handler_runaway=1" }, events)
  end)

  it("says when a handler is disabled", function()
    load([[ on("bad", function() error("boom") end) ]], { max_errors = 2 })
    rt:deliver({ topic = "bad", payload = "" })
    rt:deliver({ topic = "bad", payload = "" })
    rt:deliver({ topic = "bad", payload = "" })     -- disabled: not called
    assert.are.same({ "host_handler_errors=1", "host_handler_errors=1",
                      "host_handler_disabled=1" }, events)
  end)

  it("needs no event sink in the transport", function()
    tr.event = nil
    load([[ on("bad", function() error("boom") end) ]])
    rt:deliver({ topic = "bad", payload = "" })
    assert.is_not_nil(sink.find("error", "boom"))
  end)
end)
