-- C plugins from Lua: Client:load_plugin(path, config) loads a module into
-- the client's chain (true, or nil, message, code naming the file), and a
-- loaded jsonlog logs what the client publishes and receives through a
-- real mosquitto.  LUNAMQ_PLUGIN_DIR is this build's plugins/ folder.
local lunamq = require "lunamq"
local broker = require "helpers.broker"

local dir = os.getenv("LUNAMQ_PLUGIN_DIR") or "build/plugins"

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

describe("C plugins from Lua #broker", function()
  local b

  setup(function() b = assert(broker.start()) end)
  teardown(function() if b then b:stop() end end)

  it("refuses what cannot load, naming the file", function()
    local c = assert(lunamq.new { host = "127.0.0.1", port = 1, reconnect = false })
    finally(function() c:close() end)
    local ok, msg, code = c:load_plugin("/nonexistent/lunamq_x.so")
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.EPLUGIN_LOAD, code)
    assert.truthy(msg:find("/nonexistent/lunamq_x.so", 1, true))
    local bad = dir .. "/lunamq_test_bad_abi.so"
    ok, msg, code = c:load_plugin(bad, "")
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.EPLUGIN_ABI, code)
    assert.truthy(msg:find(bad, 1, true))
    ok, msg, code = c:load_plugin(dir .. "/jsonlog/lunamq_jsonlog.so", "colour=blue")
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.EPLUGIN_INIT, code)
    assert.truthy(msg:find("unknown key 'colour'", 1, true))
  end)

  it("loads jsonlog, which logs both ways", function()
    local log = os.tmpname()
    local c = assert(lunamq.new { host = b.host, port = b.port, protocol = 5,
                                  reconnect = false })
    finally(function() c:close(); os.remove(log) end)
    assert.is_true(c:load_plugin(dir .. "/jsonlog/lunamq_jsonlog.so", "file=" .. log))
    assert.is_true(c:connect())
    assert(c:wait(function(e) return e.type == "connected" end, 3000))
    assert(c:subscribe("lua/spec/plugin", 1))
    assert(c:wait(function(e) return e.type == "subscribed" end, 3000))
    assert(c:publish("lua/spec/plugin", "from lua", 1))
    local msg = assert(c:wait(function(e) return e.type == "message" end, 3000))
    assert.are.equal("from lua", msg.payload)
    local text = slurp(log)
    assert.truthy(text:find('"dir":"out","topic":"lua/spec/plugin","qos":1', 1, true))
    assert.truthy(text:find('"dir":"in","topic":"lua/spec/plugin","qos":1', 1, true))
  end)

  it("plugin_event reaches the metrics plugin, which counts it by name", function()
    local pf, out = os.tmpname(), os.tmpname()
    local c = assert(lunamq.new { host = b.host, port = b.port, reconnect = false })
    finally(function() c:close(); os.remove(pf); os.remove(out) end)
    assert.is_true(c:load_plugin(dir .. "/metrics/lunamq_metrics.so",
                                 "port=0 port_file=" .. pf))
    local port = tonumber(slurp(pf))
    assert.is_not_nil(port)
    assert.is_true(c:connect())
    assert(c:wait(function(e) return e.type == "connected" end, 3000))
    assert.is_true(c:plugin_event("host_handler_errors"))
    assert.is_true(c:plugin_event("host_handler_errors", 2))
    assert.is_true(c:plugin_event("lua/spec", 5))
    local ok, msg, code = c:plugin_event("")
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.EINVAL, code)
    assert.truthy(msg:find("invalid argument", 1, true))
    ok, _, code = c:plugin_event("bad\255")
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.EINVAL, code)
    ok, _, code = c:plugin_event("x", 1.5)
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.EINVAL, code)
    ok, _, code = c:plugin_event(42)
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.EINVAL, code)
    -- The plugin answers from the client's loop: drive it while curl runs
    -- (without the ASan runtime a sanitized run preloads: curl hangs in it).
    os.execute(("env -u LD_PRELOAD curl -s --max-time 5 -o '%s' http://127.0.0.1:%d/metrics &"):format(out, port))
    local deadline = lunamq.monotonic_ms() + 6000
    local text = ""
    while lunamq.monotonic_ms() < deadline do
      c:wait(function() return false end, 20)
      text = slurp(out)
      if text:find("lunamq_metrics_on_loop", 1, true) then break end
    end
    assert.truthy(text:find('\nlunamq_app_events_total{name="host_handler_errors"} 3\n', 1, true))
    assert.truthy(text:find('\nlunamq_app_events_total{name="lua/spec"} 5\n', 1, true))
    assert.is_nil(text:find("bad", 1, true))
    c:close()
    ok, _, code = c:plugin_event("x")
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.ESTATE, code)
  end)
end)
