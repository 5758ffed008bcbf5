-- lunamq.host's flags and --config file, without a broker: what they set,
-- what wins, and the one-line errors.
local host = require "lunamq.host"
local util = require "helpers.util"

describe("lunamq host's settings #unit", function()
  local dir
  before_each(function() dir = util.tmpdir() end)
  after_each(function() util.rmrf(dir) end)

  local n = 0
  local function config(text)
    n = n + 1
    local path = ("%s/host%d.conf"):format(dir, n)
    util.write(path, text)
    return path
  end

  it("takes the connection flags of pub and sub", function()
    local o = assert(host.parse { "rules", "-h", "broker", "-p", "1884", "-u", "me", "-P", "pw",
                                  "-i", "rules-1", "-V", "311", "-k", "30", "--cafile", "ca.pem",
                                  "--tls-version", "tlsv1.3", "--insecure" })
    assert.are.equal("rules", o.scripts)
    assert.are.equal("broker", o.host)
    assert.are.equal(1884, o.port)
    assert.are.equal("me", o.username)
    assert.are.equal("pw", o.password)
    assert.are.equal("rules-1", o.client_id)
    assert.are.equal(4, o.protocol)
    assert.are.equal(30, o.keepalive)
    assert.are.equal("ca.pem", o.cafile)
    assert.are.equal(13, o.tls_version)
    assert.is_true(o.insecure)
  end)

  it("defaults: MQTT 5, info, the state next to the scripts, the XDG rules dir", function()
    local o = assert(host.parse { "/srv/rules/" })
    assert.are.equal("/srv/rules", o.dir)
    assert.are.equal("/srv/rules/.state", o.state_dir)
    assert.are.equal(5, o.protocol)
    assert.are.equal("info", o.log_level)
    local d = assert(host.parse {})
    assert.is_true(d.default_scripts)
    assert.matches("/lunamq/rules$", d.dir)
  end)

  it("reads a config that returns a table, and lets flags win over it", function()
    local f = config([[return { host = "a", port = 1000, state_dir = "/var/x", log_level = "warn",
                                scripts = "/etc/rules", will_topic = "av", will_retain = true }]])
    local o = assert(host.parse { "--config", f, "-p", "2000" })
    assert.are.equal("a", o.host)
    assert.are.equal(2000, o.port)
    assert.are.equal("/var/x", o.state_dir)
    assert.are.equal("warn", o.log_level)
    assert.are.equal("/etc/rules", o.dir)
    assert.are.equal("av", o.will_topic)
    assert.is_true(o.will_retain)
  end)

  it("reads a config that assigns globals", function()
    local o = assert(host.parse { "--config", config('url = "mqtt://b:1"\nprotocol = "mqttv311"\n') })
    assert.are.equal("mqtt://b:1", o.url)
    assert.are.equal(4, o.protocol)
  end)

  it("takes the libraries scripts may have, and plugins, from flags or the config", function()
    local o = assert(host.parse { "x", "--allow", "os,io", "--plugin", "a.so", "--plugin", "b.so" })
    assert.are.same({ "os", "io" }, o.allow)
    assert.are.same({ { path = "a.so" }, { path = "b.so" } }, o.plugins)
    local c = assert(host.parse { "--config", config([[
      return { allow = { "debug" }, plugins = { "a.so", { path = "b.so", config = "level=2" } } }
    ]]) })
    assert.are.same({ "debug" }, c.allow)
    assert.are.same({ { path = "a.so" }, { path = "b.so", config = "level=2" } }, c.plugins)
  end)

  it("-q and -d set the log level", function()
    assert.are.equal("warn", host.parse({ "x", "-q" }).log_level)
    assert.are.equal("debug", host.parse({ "x", "-d" }).log_level)
  end)

  it("says what is wrong in one line", function()
    local cases = {
      { { "x", "--nope" }, "^unknown option %-%-nope$" },
      { { "x", "-p" }, "^%-p needs a value$" },
      { { "x", "-V", "6" }, "^%-V needs 31, 311, 5 or auto" },
      { { "x", "--log-level", "loud" }, "^%-%-log%-level needs debug, info, warn or error" },
      { { "x", "y" }, "^one scripts directory only" },
      { { "x", "--will-qos", "1" }, "need %-%-will%-topic" },
      { { "--config", "/nonexistent/host.conf" }, "cannot be read" },
      { { "--config", config("return 42") }, "returns a number, not a table" },
      { { "--config", config("port = ") }, "^config .*host%d+%.conf:1:" },
      { { "--config", config("return { colour = 1 }") }, "unknown key colour$" },
      { { "--config", config("return { insecure = 'yes' }") }, "insecure needs true or false" },
      { { "x", "--allow", "os,ffi" }, "^%-%-allow needs a list of os, io, package, debug" },
      { { "--config", config("return { plugins = { 42 } }") }, "plugins needs a list of paths" },
    }
    for _, c in ipairs(cases) do
      local o, err = host.parse(c[1])
      assert.is_nil(o, table.concat(c[1], " "))
      assert.matches(c[2], err)
      assert.is_nil(err:find("\n"), "one line: " .. err)
    end
  end)

  it("asks for the usage with --help (nil and no message)", function()
    local o, err = host.parse { "--help" }
    assert.is_nil(o)
    assert.is_nil(err)
    assert.matches("usage: lunamq host %[DIR%]", host.USAGE)
  end)
end)
