-- Every example of docs/host-api.md runs: each ```lua block is a rule
-- script (or a lib module, or a config file, by its first line), loaded in
-- a runtime on the fake clock (Friday 5 June 2026, 12:00 Europe/Berlin);
-- the hidden <!-- test ... --> comment after it says what to send and what
-- the script must publish.  No example may log an error.  And the API the
-- runtime gives scripts is the one the document describes.
local ffi = require "ffi"
local runtime = require "lunamq.runtime"
local host = require "lunamq.host"
local util = require "helpers.util"
local json = require "lunamq.json"
local sys = require "lunamq.sys"

pcall(ffi.cdef, "int setenv(const char *, const char *, int); int unsetenv(const char *); void tzset(void);")

local ROOT = debug.getinfo(1, "S").source:sub(2):match("^(.*)/tests/lua/spec/[^/]*$") or "."
local DOC = assert(util.read(ROOT .. "/docs/host-api.md"))

-- { { code =, kind = "script" | "lib" | "config", name =, test = } } in order
local function examples()
  local list = {}
  local pos = 1
  while true do
    local s, e, code = DOC:find("\n```lua\n(.-)\n```\n", pos)
    if not s then break end
    local ex = { code = code, kind = "script", line = select(2, DOC:sub(1, s):gsub("\n", "")) + 2 }
    local first = code:match("^[^\n]*")
    local lib = first:match("^%-%- DIR/lib/([%w_/]+)%.lua$")
    if lib then
      ex.kind, ex.name = "lib", lib
    elseif first:match("a config file") then
      ex.kind = "config"
    end
    local test = DOC:sub(e + 1):match("^<!%-%- test\n(.-)\n%-%->")
    ex.test = test
    list[#list + 1] = ex
    pos = e
  end
  return list
end

local START = os.time { year = 2026, month = 6, day = 5, hour = 12, min = 0, sec = 0 }

describe("docs/host-api.md #unit", function()
  local dir
  before_each(function()
    ffi.C.setenv("TZ", "Europe/Berlin", 1); ffi.C.tzset()
    START = os.time { year = 2026, month = 6, day = 5, hour = 12, min = 0, sec = 0 }
    dir = util.tmpdir()
  end)
  after_each(function()
    ffi.C.unsetenv("TZ"); ffi.C.tzset()
    util.rmrf(dir)
  end)

  it("has examples, and every script example has a test", function()
    local n = 0
    for _, ex in ipairs(examples()) do
      if ex.kind == "script" then
        n = n + 1
        assert(ex.test, "the example at docs/host-api.md:" .. ex.line .. " has no <!-- test -->")
      end
    end
    assert.is_true(n >= 15, "script examples: " .. n)
  end)

  it("runs every example as its test says, without an error logged", function()
    local ran = 0
    local libs = {} -- lib module name -> source, for the scripts after it
    for i, ex in ipairs(examples()) do
      if ex.kind == "lib" then
        libs[ex.name] = ex.code
      elseif ex.kind == "config" then
        local path = dir .. "/config.lua"
        util.write(path, ex.code)
        local c, err = host.read_config(path)
        assert(c, "docs/host-api.md:" .. ex.line .. ": " .. tostring(err))
      else
        local sdir = dir .. "/ex" .. i
        assert(sys.mkdir_p(sdir .. "/lib"))
        for name, code in pairs(libs) do util.write(sdir .. "/lib/" .. name .. ".lua", code) end
        util.write(sdir .. "/ex.lua", ex.code)
        local clock = util.fake_clock(0)
        local sink = util.log_sink()
        local tr, rt
        local function start()
          tr = util.fake_transport()
          rt = runtime.new { dir = sdir, state_dir = sdir .. "/.state", transport = tr, log = sink.log,
                             clock = clock.now, wall_clock = function() return START * 1000 + clock.now() end,
                             location = { lat = 52.52, lon = 13.405 }, protocol = 5,
                             settings = { away_temp = 16, rooms = { "living", "bed" } },
                             secrets = { notify_token = "t0k3n" } }
          rt:scan()
        end
        start()
        local where = "docs/host-api.md:" .. ex.line
        local seen = 0 -- publishes consumed per topic: index into tr.published
        local used = {}
        local function next_on(topic)
          for j, p in ipairs(tr.published) do
            if p.topic == topic and not used[p] then return p, j end
          end
        end
        local env = {}
        function env.deliver(topic, payload, o)
          local m = { topic = topic, payload = payload, qos = 0, retain = o and o.retain or false }
          rt:deliver(m); rt:run_timers(); rt:flush()
        end
        local function run_to(until_ms) util.run_timers_to(rt, clock, until_ms) end
        function env.advance(s) run_to(clock.now() + s * 1000) end
        function env.advance_to(text)
          local y, mo, d, h, mi, sec = text:match("^(%d+)-(%d+)-(%d+) (%d+):(%d+):?(%d*)$")
          local t = os.time { year = y, month = mo, day = d, hour = h, min = mi, sec = tonumber(sec) or 0 }
          run_to((t - START) * 1000)
        end
        function env.expect(topic, payload)
          local p = next_on(topic)
          assert(p, ("%s: nothing (more) published on %s; published: %s"):format(where, topic,
                 json.encode((function()
                   local r = {}
                   for _, q in ipairs(tr.published) do r[#r + 1] = q.topic .. "=" .. q.payload end
                   return r
                 end)())))
          used[p] = true
          assert(p.payload == payload, ("%s: %s got %s, not %s"):format(where, topic, p.payload, payload))
        end
        function env.expect_nothing(topic)
          local p = next_on(topic)
          assert(not p, ("%s: %s got %s"):format(where, topic, p and p.payload))
        end
        function env.connect() rt:on_connected(); rt:flush() end
        function env.reply(payload)
          local req
          for _, p in ipairs(tr.published) do if p.props and p.props.response_topic then req = p end end
          assert(req, where .. ": no request was made")
          rt:deliver_to(rt.reply_handler, { topic = req.props.response_topic, payload = payload,
                                            correlation = req.props.correlation_data })
          rt:run_timers(); rt:flush()
        end
        function env.restart()
          rt:close()
          start()
          used = {}
          for _, p in ipairs(tr.published) do used[p] = true end
        end
        function env.log_has(pattern)
          for _, l in ipairs(sink.lines) do if l.msg:find(pattern) then return end end
          error(where .. ": no log line matches " .. pattern)
        end
        assert(ex.test, where .. ": no test")
        local chunk = assert(load(ex.test, "=" .. where .. " (test)", "t", env))
        chunk()
        for _, l in ipairs(sink.lines) do
          assert(l.level ~= "error", where .. ": error logged: " .. l.msg)
        end
        assert(seen == 0)
        rt:close()
        ran = ran + 1
      end
    end
    assert.is_true(ran >= 15)
  end)

  it("documents every function a script gets, and a script gets every one documented", function()
    util.write(dir .. "/probe.lua", "")
    local rt = runtime.new { dir = dir, transport = util.fake_transport(), log = function() end }
    rt:scan()
    local api = getmetatable(rt.scripts.probe.env).__index
    local missing = {}
    for k, v in pairs(api) do
      if type(v) == "function" or type(v) == "table" then
        if not DOC:find("`" .. k .. "[%(%s`%.]") and not DOC:find("### " .. k .. "(", 1, true) then
          missing[#missing + 1] = k
        end
      end
    end
    table.sort(missing)
    assert.are.same({}, missing)
    for name in DOC:gmatch("\n### ([%w_]+)%(") do
      assert(api[name], "documented but not given to scripts: " .. name)
    end
  end)
end)
