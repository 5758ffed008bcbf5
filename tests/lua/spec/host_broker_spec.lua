-- `luajit lua/lunamq/host.lua DIR` against a real mosquitto: a rule answers,
-- an edit is picked up while it runs, state lands on disk.
local lunamq = require "lunamq"
local broker = require "helpers.broker"
local util = require "helpers.util"
local ffi = require "ffi"

local ROOT = debug.getinfo(1, "S").source:sub(2):match("^(.*)/tests/lua/spec/[^/]*$") or "."

describe("the host #broker", function()
  local b, dir, pid

  setup(function() b = assert(broker.start()) end)
  teardown(function() if b then b:stop() end end)

  before_each(function() dir = util.tmpdir() end)
  after_each(function()
    if pid then ffi.C.kill(pid, 15) end
    pid = nil
    util.rmrf(dir)
  end)

  local function start_host(run_for_ms)
    local luajit = arg and arg[-1] or "luajit"
    if not luajit:find("luajit") then luajit = "luajit" end
    local cmd = ("'%s' '%s/lua/lunamq/host.lua' '%s' --port %d --scan-ms 50 --run-for-ms %d 2>'%s/host.log' & echo $! > '%s/host.pid'")
      :format(luajit, ROOT, dir .. "/rules", b.port, run_for_ms, dir, dir)
    assert(os.execute(cmd))
    pid = tonumber(util.read(dir .. "/host.pid"))
    assert.is_not_nil(pid)
  end

  -- Publish `ask` until `want` comes back on out (the host subscribes in its
  -- own time), within a deadline.
  local function ask_until(c, ask, want)
    local deadline = lunamq.monotonic_ms() + 5000
    while lunamq.monotonic_ms() < deadline do
      assert(c:publish("lua/host/in", ask, 1))
      local ev = c:wait(function(e) return e.type == "message" and e.payload == want end, 200)
      if ev then return true end
    end
    return false
  end

  it("runs a rule, reloads it when edited, and saves its state", function()
    os.execute("mkdir -p '" .. dir .. "/rules'")
    util.write(dir .. "/rules/echo.lua", [[
      on("lua/host/in", function(p)
        state.count = (state.count or 0) + 1
        publish("lua/host/out", p:upper())
      end, { qos = 1 })
    ]])
    start_host(15000)
    local c = assert(lunamq.new { host = b.host, port = b.port, reconnect = false })
    finally(function() c:close() end)
    assert(c:connect())
    assert(c:wait(function(e) return e.type == "connected" end, 3000))
    assert(c:subscribe("lua/host/out", 1))
    assert(c:wait(function(e) return e.type == "subscribed" end, 3000))

    assert.is_true(ask_until(c, "hello", "HELLO"), "the rule answered")

    util.write(dir .. "/rules/echo.lua", [[
      on("lua/host/in", function(p)
        state.count = (state.count or 0) + 1
        publish("lua/host/out", p:lower() .. "!")
      end, { qos = 1 })
    ]])
    assert.is_true(ask_until(c, "HeLLo", "hello!"), "the edited rule answered")

    local deadline = lunamq.monotonic_ms() + 3000
    local saved
    repeat
      saved = util.read(dir .. "/rules/.state/echo.json")
    until (saved and saved:find('"count"')) or lunamq.monotonic_ms() > deadline
    assert.matches('"count":%d+', saved)
    local log = util.read(dir .. "/host.log")
    assert.matches("reloaded", log)
  end)

  it("gives rules MQTT 5 properties both ways (a responder)", function()
    os.execute("mkdir -p '" .. dir .. "/rules'")
    util.write(dir .. "/rules/responder.lua", [[
      on("lua/host/req", function(p, _, m)
        local pr = props(m)
        publish(pr.response_topic, "re:" .. p, { qos = 1, props = { correlation_data = pr.correlation_data } })
      end, { qos = 1 })
    ]])
    start_host(15000)
    local c = assert(lunamq.new { host = b.host, port = b.port, reconnect = false })
    finally(function() c:close() end)
    assert(c:connect())
    assert(c:wait(function(e) return e.type == "connected" end, 3000))
    assert(c:subscribe("lua/host/reply", 1))
    assert(c:wait(function(e) return e.type == "subscribed" end, 3000))
    local deadline = lunamq.monotonic_ms() + 5000
    local reply
    while not reply and lunamq.monotonic_ms() < deadline do
      assert(c:publish("lua/host/req", "ping", { qos = 1,
        props = { response_topic = "lua/host/reply", correlation_data = "id-7" } }))
      reply = c:wait(function(e) return e.type == "message" end, 200)
    end
    assert.is_not_nil(reply, "the responder answered")
    assert.are.equal("re:ping", reply.payload)
    assert.are.equal("id-7", lunamq.event_props(reply).correlation_data)
  end)

  it("lets a rule wait for an MQTT 5 request/response round trip", function()
    os.execute("mkdir -p '" .. dir .. "/rules'")
    util.write(dir .. "/rules/responder.lua", [[
      on("lua/host/svc", function(p, _, m)
        local pr = props(m)
        publish(pr.response_topic, p .. "!", { qos = 1, props = { correlation_data = pr.correlation_data } })
      end, { qos = 1 })
    ]])
    util.write(dir .. "/rules/requester.lua", [[
      on("lua/host/ask", function(p)
        local answer, err = request("lua/host/svc", p, { timeout = 2 })
        publish("lua/host/answer", tostring(answer or err))
      end)
    ]])
    start_host(15000)
    local c = assert(lunamq.new { host = b.host, port = b.port, reconnect = false })
    finally(function() c:close() end)
    assert(c:connect())
    assert(c:wait(function(e) return e.type == "connected" end, 3000))
    assert(c:subscribe("lua/host/answer", 1))
    assert(c:wait(function(e) return e.type == "subscribed" end, 3000))
    local deadline = lunamq.monotonic_ms() + 5000
    local got
    while not got and lunamq.monotonic_ms() < deadline do
      assert(c:publish("lua/host/ask", "question", 1))
      got = c:wait(function(e) return e.type == "message" and e.payload == "question!" end, 300)
    end
    assert.is_not_nil(got, "the requester got the responder's answer")
  end)

  it("stops cleanly on SIGTERM, with its state saved", function()
    os.execute("mkdir -p '" .. dir .. "/rules'")
    util.write(dir .. "/rules/r.lua", [[ state.started = true ]])
    start_host(15000)
    -- up once it has loaded the rule and connected
    local deadline = lunamq.monotonic_ms() + 5000
    repeat
      local log = util.read(dir .. "/host.log") or ""
      if log:find("connected") then break end
      os.execute("sleep 0.02")
    until lunamq.monotonic_ms() > deadline
    ffi.C.kill(pid, 15)
    local log
    repeat
      log = util.read(dir .. "/host.log") or ""
      if log:find("stopped") then break end
      os.execute("sleep 0.02")
    until lunamq.monotonic_ms() > deadline
    pid = nil
    assert.matches("signal 15: stopping", log)
    assert.matches("stopped", log)
    assert.matches('"started":true', util.read(dir .. "/rules/.state/r.json"))
  end)

  it("without a directory uses the default one, and says when it is missing", function()
    local luajit = arg and arg[-1] or "luajit"
    if not luajit:find("luajit") then luajit = "luajit" end
    local p = io.popen(("XDG_CONFIG_HOME='%s' '%s' '%s/lua/lunamq/host.lua' 2>&1; echo rc=$?")
                       :format(dir, luajit, ROOT))
    local out = p:read("*a")
    p:close()
    assert.matches("lunamq/rules: not a directory %(the default scripts dir%)", out)
    assert.matches("rc=2", out)
  end)

  it("refuses a directory that does not exist, and creates nothing", function()
    local luajit = arg and arg[-1] or "luajit"
    if not luajit:find("luajit") then luajit = "luajit" end
    local p = io.popen(("'%s' '%s/lua/lunamq/host.lua' '%s/nope' 2>&1; echo rc=$?")
                       :format(luajit, ROOT, dir))
    local out = p:read("*a")
    p:close()
    assert.matches("nope: not a directory", out)
    assert.matches("rc=2", out)
    assert.is_nil(require("lunamq.sys").stat(dir .. "/nope"))
  end)
end)
