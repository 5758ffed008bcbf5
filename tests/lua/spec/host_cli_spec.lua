-- The real `lunamq host` program (LuaJIT embedded in the C binary, the
-- engine reached through ffi.C) against a real mosquitto: a rule fires, a
-- broker that is down at start is waited for, and bad flags or config keys
-- stop it with one line and exit status 2 before it connects.
--
-- LUNAMQ_CLI names the binary (ctest sets it); without it the specs are
-- skipped.
local lunamq = require "lunamq"
local broker = require "helpers.broker"
local util = require "helpers.util"
local ffi = require "ffi"

local CLI = os.getenv("LUNAMQ_CLI")

-- Run the binary to completion: its output (stdout and stderr) and status.
local function run(args)
  local p = io.popen(("env -u LUNAMQ_LIBRARY -u LUNAMQ_CDEF '%s' host %s 2>&1; echo rc=$?")
                     :format(CLI, args))
  local out = p:read("*a")
  p:close()
  return out:match("^(.-)rc=%d+%s*$"), tonumber(out:match("rc=(%d+)%s*$"))
end

local function until_(deadline_ms, fn)
  local deadline = lunamq.monotonic_ms() + deadline_ms
  repeat
    local v = fn()
    if v then return v end
    os.execute("sleep 0.02")
  until lunamq.monotonic_ms() > deadline
end

describe("lunamq host, the program #broker", function()
  if not CLI or CLI == "" then
    pending("LUNAMQ_CLI is not set: the lunamq binary is not known")
    return
  end

  local dir, pid

  before_each(function()
    dir = util.tmpdir()
    os.execute("mkdir -p '" .. dir .. "/rules'")
  end)
  after_each(function()
    if pid then ffi.C.kill(pid, 15) end
    pid = nil
    util.rmrf(dir)
  end)

  -- Start the host in the background (its log in dir/host.log).
  local function start(args)
    assert(os.execute(("env -u LUNAMQ_LIBRARY -u LUNAMQ_CDEF '%s' host %s 2>'%s/host.log' & echo $! > '%s/host.pid'")
                      :format(CLI, args, dir, dir)))
    pid = tonumber(util.read(dir .. "/host.pid"))
    assert.is_not_nil(pid)
  end

  local function echo_rule()
    util.write(dir .. "/rules/echo.lua", [[
      on("host/cli/in", function(p) publish("host/cli/out", "seen " .. p, { qos = 1 }) end,
         { qos = 1 })
    ]])
  end

  -- Publish until the rule's answer comes back (the host subscribes in its
  -- own time).
  local function ask_until(b, want)
    local c = assert(lunamq.new { host = b.host, port = b.port, reconnect = false })
    assert(c:connect())
    assert(c:wait(function(e) return e.type == "connected" end, 3000))
    assert(c:subscribe("host/cli/out", 1))
    assert(c:wait(function(e) return e.type == "subscribed" end, 3000))
    local got = until_(8000, function()
      assert(c:publish("host/cli/in", "motion", 1))
      return c:wait(function(e) return e.type == "message" and e.payload == want end, 200)
    end)
    c:close()
    return got ~= nil
  end

  it("runs a rule: a message in, the rule's publish out", function()
    local b = assert(broker.start())
    finally(function() b:stop() end)
    echo_rule()
    start(("'%s/rules' -p %d --scan-ms 50 --run-for-ms 20000"):format(dir, b.port))
    assert.is_true(ask_until(b, "seen motion"), "the rule answered")
    local log = util.read(dir .. "/host.log")
    assert.matches("loaded .*echo%.lua", log)
    -- the engine is the one in the program (ffi.C), not a liblunamq.so
    assert.matches("%(engine: linked in%)", log)
  end)

  it("takes its settings from --config, and keeps waiting for a broker down at start", function()
    local port = broker.free_port()
    echo_rule()
    util.write(dir .. "/host.conf", ([[
      -- the host's settings
      return { host = "127.0.0.1", port = %d, scripts = "%s/rules", scan_ms = 50,
               run_for_ms = 20000, log_level = "info" }
    ]]):format(port, dir))
    start(("--config '%s/host.conf'"):format(dir))
    assert.truthy(until_(5000, function()
      return (util.read(dir .. "/host.log") or ""):find("connect_failed")
    end), "the host tried and failed")
    -- now a broker on that port
    local b
    until_(3000, function()
      b = broker.start { port = port }
      return b
    end)
    assert.is_not_nil(b, "mosquitto started on the host's port")
    finally(function() b:stop() end)
    assert.is_true(ask_until(b, "seen motion"), "the host connected once the broker was up")
  end)

  it("exits 2 with one line on an unknown flag", function()
    local out, rc = run(("'%s/rules' --colour blue"):format(dir))
    assert.are.equal(2, rc)
    assert.are.equal("lunamq host: unknown option --colour (see lunamq host --help)\n", out)
  end)

  it("exits 2 with one line on a bad flag value", function()
    local out, rc = run(("'%s/rules' -p 70000"):format(dir))
    assert.are.equal(2, rc)
    assert.matches("^lunamq host: %-p needs a whole number from 1 to 65535, not \"70000\"", out)
    assert.are.equal(1, select(2, out:gsub("\n", "")))
  end)

  it("exits 2 with one line on an unknown config key, naming it", function()
    util.write(dir .. "/host.conf", 'url = "mqtt://127.0.0.1"\ncolour = "blue"\n')
    local out, rc = run(("--config '%s/host.conf' '%s/rules'"):format(dir, dir))
    assert.are.equal(2, rc)
    assert.matches("^lunamq host: config .*host%.conf: unknown key colour", out)
    assert.are.equal(1, select(2, out:gsub("\n", "")))
  end)

  it("exits 2 on a config value of the wrong kind, naming the key", function()
    util.write(dir .. "/host.conf", 'return { max_errors = "many" }\n')
    local out, rc = run(("--config '%s/host.conf' '%s/rules'"):format(dir, dir))
    assert.are.equal(2, rc)
    assert.matches("max_errors needs a whole number >= 1", out)
  end)

  it("exits 2 on a URL the engine refuses, before connecting", function()
    local out, rc = run(("'%s/rules' -L 'gopher://127.0.0.1'"):format(dir))
    assert.are.equal(2, rc)
    assert.matches("^lunamq host: url gopher://127%.0%.0%.1: ", out)
  end)

  it("exits 2 on a plugin that does not load, before connecting", function()
    local out, rc = run(("'%s/rules' --plugin '%s/nope.so'"):format(dir, dir))
    assert.are.equal(2, rc)
    assert.matches("^lunamq host: plugin .*nope%.so: ", out)
    assert.are.equal(1, select(2, out:gsub("\n", "")))
  end)

  it("prints its usage with --help and exits 0", function()
    local out, rc = run("--help")
    assert.are.equal(0, rc)
    assert.matches("usage: lunamq host %[DIR%]", out)
  end)

  it("prints the script API reference with --help-api", function()
    local out, rc = run("--help-api")
    assert.are.equal(0, rc)
    assert.matches("^# The rule host's script API", out)
    assert.are.equal(util.read("docs/host-api.md"), out)
  end)

  it("refuses a secrets file others may read, and a location out of range", function()
    util.write(dir .. "/secrets.lua", "return { token = 'x' }")
    os.execute("chmod 644 '" .. dir .. "/secrets.lua'")
    local out, rc = run(("'%s/rules' --secrets '%s/secrets.lua'"):format(dir, dir))
    assert.are.equal(2, rc)
    assert.matches("secrets .*secrets%.lua: mode 0644 lets others read it; chmod 600", out)
    out, rc = run(("'%s/rules' --location 95,10"):format(dir))
    assert.are.equal(2, rc)
    assert.matches("%-%-location needs a latitude", out)
  end)
end)
