-- The host runtime without a broker: scripts in a temp dir, a fake
-- transport, a fake clock.
local runtime = require "lunamq.runtime"
local util = require "helpers.util"

local function new_rt(dir, extra)
  local clock = util.fake_clock()
  local transport = util.fake_transport()
  local sink = util.log_sink()
  local o = { dir = dir, state_dir = dir .. "/.state", transport = transport,
              clock = clock.now, log = sink.log }
  for k, v in pairs(extra or {}) do o[k] = v end
  return runtime.new(o), transport, clock, sink
end

local function msg(topic, payload)
  return { topic = topic, payload = payload, qos = 0, retain = false }
end

describe("every example in examples/home #unit", function()
  local root = debug.getinfo(1, "S").source:sub(2):match("^(.*)/tests/lua/spec/[^/]*$") or "."
  local sys = require "lunamq.sys"
  for _, f in ipairs(assert(sys.list(root .. "/examples/home"))) do
    if f:match("%.lua$") then
      it(f .. " loads and subscribes to something", function()
        local dir = util.tmpdir()
        finally(function() util.rmrf(dir) end)
        util.write(dir .. "/" .. f, util.read(root .. "/examples/home/" .. f))
        local rt, _, _, sink = new_rt(dir)
        rt:scan()
        assert.is_nil(sink.find("error", ""))
        assert.is_not_nil(next(rt.subscribed))
      end)
    end
  end
end)

describe("the runtime #unit", function()
  local dir

  before_each(function() dir = util.tmpdir() end)
  after_each(function() util.rmrf(dir) end)

  describe("a script's environment", function()
    it("has no os, io, package, debug, load or dofile (require only for DIR/lib)", function()
      util.write(dir .. "/probe.lua", [[
        local seen = {}
        for _, k in ipairs { "os", "io", "package", "debug", "require", "load",
                             "loadstring", "dofile", "loadfile", "setfenv",
                             "getfenv", "collectgarbage", "jit", "ffi" } do
          if _G[k] ~= nil then seen[#seen + 1] = k end
        end
        publish("probe", table.concat(seen, ","))
      ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      assert.are.equal(1, #tr.published)
      assert.are.equal("require", tr.published[1].payload)
    end)

    it("has os and io when the configuration allows them, and nothing more", function()
      util.write(dir .. "/probe.lua", [[
        local seen = {}
        for _, k in ipairs { "os", "io", "package", "debug", "require", "ffi" } do
          if _G[k] ~= nil then seen[#seen + 1] = k end
        end
        publish("probe", table.concat(seen, ","))
      ]])
      local rt, tr = new_rt(dir, { allow = { "os", "io" } })
      rt:scan()
      assert.are.equal("os,io,require", tr.published[1].payload)
    end)

    it("refuses to allow anything but os, io, package and debug", function()
      assert.has_error(function() new_rt(dir, { allow = { "ffi" } }) end)
    end)

    it("is one per script: globals and library tables are not shared", function()
      util.write(dir .. "/a.lua", [[ shared = "a"; string.upper = nil ]])
      util.write(dir .. "/b.lua", [[ publish("b", tostring(shared) .. " " .. string.upper("x")) ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      assert.are.equal("nil X", tr.published[1].payload)
    end)

    it("does not let a script replace what the host provides", function()
      util.write(dir .. "/r.lua", "local x = 1\nstate = {}\n")
      local rt, _, _, sink = new_rt(dir)
      rt:scan()
      assert.is_not_nil(sink.find("error", "r%.lua:2: state is provided by the host"))
    end)

    it("does not hand out the string metatable shared with other scripts", function()
      util.write(dir .. "/r.lua", [[ publish("mt", tostring(getmetatable(""))) ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      assert.are.equal("nil", tr.published[1].payload)
    end)

    it("refuses precompiled bytecode", function()
      local f = assert(io.open(dir .. "/bc.lua", "wb"))
      f:write(string.dump(function() return 1 end))
      f:close()
      local log = spy.new(function() end)
      local rt = new_rt(dir, { log = log })
      rt:scan()
      assert.spy(log).was.called_with("error", "bc", match.matches("not loaded: .*wrong mode"))
      assert.is_true(rt:status().bc.broken)
    end)
  end)

  describe("handlers", function()
    it("get payload and topic of a matching message", function()
      util.write(dir .. "/r.lua", [[
        on("home/+/temp", function(payload, topic) publish("seen", topic .. "=" .. payload) end)
      ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      rt:deliver(msg("home/hall/temp", "21.5"))
      rt:deliver(msg("home/hall/humidity", "40"))
      assert.are.equal(1, #tr.published)
      assert.are.equal("home/hall/temp=21.5", tr.published[1].payload)
    end)

    it("decode JSON when asked and skip what does not decode", function()
      util.write(dir .. "/r.lua", [[
        on("z/sensor", function(t) publish("out", { doubled = t.v * 2 }) end, { json = true })
      ]])
      local rt, tr, _, sink = new_rt(dir)
      rt:scan()
      rt:deliver(msg("z/sensor", '{"v":21}'))
      rt:deliver(msg("z/sensor", "not json"))
      assert.are.equal(1, #tr.published)
      assert.are.equal('{"doubled":42}', tr.published[1].payload)
      assert.is_not_nil(sink.find("warn", "not JSON"))
    end)

    it("with changed_only see a topic's payload only when it changes", function()
      util.write(dir .. "/r.lua", [[
        on("s/#", function(p, t) publish("out", t .. ":" .. p) end, { changed_only = true })
      ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      for _, m in ipairs { { "s/a", "1" }, { "s/a", "1" }, { "s/b", "1" }, { "s/a", "2" }, { "s/a", "2" } } do
        rt:deliver(msg(m[1], m[2]))
      end
      local got = {}
      for i, p in ipairs(tr.published) do got[i] = p.payload end
      assert.are.same({ "s/a:1", "s/b:1", "s/a:2" }, got)
    end)

    it("with throttle are called at most once per window and topic", function()
      util.write(dir .. "/r.lua", [[
        on("s/+", function(p, t) publish("out", t .. ":" .. p) end, { throttle = 10 })
      ]])
      local rt, tr, clock = new_rt(dir)
      rt:scan()
      rt:deliver(msg("s/a", "1"))
      rt:deliver(msg("s/b", "1"))
      clock.advance(9999)
      rt:deliver(msg("s/a", "2"))
      clock.advance(1)
      rt:deliver(msg("s/a", "3"))
      local got = {}
      for i, p in ipairs(tr.published) do got[i] = p.payload end
      assert.are.same({ "s/a:1", "s/b:1", "s/a:3" }, got)
    end)

    it("with debounce are called once a topic has been quiet, with its last message", function()
      util.write(dir .. "/r.lua", [[
        on("s/+", function(p, t) publish("out", t .. ":" .. p) end, { debounce = 2 })
      ]])
      local rt, tr, clock = new_rt(dir)
      rt:scan()
      rt:deliver(msg("s/a", "1"))
      clock.advance(1500); rt:run_timers()
      rt:deliver(msg("s/a", "2"))
      rt:deliver(msg("s/b", "x"))
      clock.advance(1999); rt:run_timers()
      assert.are.equal(0, #tr.published)
      clock.advance(1); rt:run_timers()
      local got = {}
      for i, p in ipairs(tr.published) do got[i] = p.payload end
      assert.are.same({ "s/a:2", "s/b:x" }, got)
      assert.are.same({}, rt:status().r.timers)
    end)

    it("refuse a debounce or throttle that is not a positive number", function()
      util.write(dir .. "/r.lua", [[ on("s", function() end, { debounce = -1 }) ]])
      local rt, _, _, sink = new_rt(dir)
      rt:scan()
      assert.is_not_nil(sink.find("error", "r%.lua:1: on: debounce must be"))
    end)

    it("publish with the QoS and retain asked", function()
      util.write(dir .. "/r.lua", [[ publish("t", 42, { qos = 2, retain = true }) ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      assert.are.same({ topic = "t", payload = "42", qos = 2, retain = true }, tr.published[1])
    end)

    it("can read the last payload seen on a topic", function()
      util.write(dir .. "/r.lua", [[
        on("a", function() end)
        on("b", function() publish("out", tostring(last("a"))) end)
      ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      rt:deliver(msg("a", "one"))
      rt:deliver(msg("b", "x"))
      assert.are.equal("one", tr.published[1].payload)
    end)

    it("that fail are logged with file:line, counted, and disabled after max_errors in a row", function()
      util.write(dir .. "/bad.lua", [[
        on("t", function(p)
          if p == "ok" then return end
          error("boom")
        end)
      ]])
      local rt, tr, _, sink = new_rt(dir, { max_errors = 3 })
      rt:scan()
      rt:deliver(msg("t", "x"))
      rt:deliver(msg("t", "ok")) -- a success resets the run
      rt:deliver(msg("t", "x"))
      rt:deliver(msg("t", "x"))
      local h = rt.scripts.bad.handlers[1]
      assert.is_falsy(h.disabled)
      assert.is_not_nil(sink.find("error", "bad%.lua:3: boom"))
      assert.is_not_nil(sink.find("error", "stack traceback"))
      rt:deliver(msg("t", "x"))
      assert.is_true(h.disabled)
      assert.are.equal(4, h.errors)
      -- a disabled handler's filter is given back to the broker
      assert.are.same({ "t" }, tr.unsubscribes[#tr.unsubscribes])
      rt:deliver(msg("t", "x"))
      assert.are.equal(4, h.errors)
    end)

    it("of one script keep running when another's fail", function()
      util.write(dir .. "/a.lua", [[ on("t", function() error("a fails") end) ]])
      util.write(dir .. "/b.lua", [[ on("t", function(p) publish("b", p) end) ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      rt:deliver(msg("t", "1"))
      assert.are.equal("1", tr.published[1].payload)
    end)
  end)

  describe("subscriptions", function()
    it("are the union of all scripts' filters at the highest QoS", function()
      util.write(dir .. "/a.lua", [[ on("x/#", function() end); on("y", function() end, { qos = 1 }) ]])
      util.write(dir .. "/b.lua", [[ on("y", function() end, { qos = 2 }); on("x/#", function() end) ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      assert.are.same({ x = nil, ["x/#"] = 0, y = 2 }, rt.subscribed)
      -- each SUBSCRIBE carries only what was not there yet
      local all = {}
      for _, list in ipairs(tr.subscribes) do
        for _, s in ipairs(list) do all[#all + 1] = s[1] .. "@" .. s[2] end
      end
      table.sort(all)
      assert.are.same({ "x/#@0", "y@1", "y@2" }, all)
    end)

    it("change only by the difference on a reload", function()
      util.write(dir .. "/a.lua", [[ on("keep", function() end); on("drop", function() end) ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      local before = #tr.subscribes
      util.write(dir .. "/a.lua", [[ on("keep", function() end); on("new/+", function() end) ]])
      assert.are.equal(1, rt:scan())
      assert.are.equal(before + 1, #tr.subscribes)
      assert.are.same({ { "new/+", 0 } }, tr.subscribes[#tr.subscribes])
      assert.are.same({ "drop" }, tr.unsubscribes[#tr.unsubscribes])
    end)

    it("refuse an invalid filter at load time with file:line", function()
      util.write(dir .. "/f.lua", "\n\non('a/#/b', function() end)\n")
      local rt, _, _, sink = new_rt(dir)
      rt:scan()
      assert.is_not_nil(sink.find("error", "f%.lua:3: on: bad filter"))
    end)
  end)

  describe("hot reload", function()
    it("swaps in a changed file", function()
      util.write(dir .. "/r.lua", [[ on("t", function(p) publish("out", "v1 " .. p) end) ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      rt:deliver(msg("t", "a"))
      util.write(dir .. "/r.lua", [[ on("t", function(p) publish("out", "v2 " .. p) end) ]])
      assert.are.equal(1, rt:scan())
      rt:deliver(msg("t", "b"))
      assert.are.equal("v1 a", tr.published[1].payload)
      assert.are.equal("v2 b", tr.published[2].payload)
      assert.are.equal(2, rt:status().r.version)
    end)

    it("does nothing when nothing changed", function()
      util.write(dir .. "/r.lua", [[ on("t", function() end) ]])
      local rt = new_rt(dir)
      assert.are.equal(1, rt:scan())
      assert.are.equal(0, rt:scan())
      assert.are.equal(1, rt:status().r.version)
    end)

    it("keeps the old version when the new one has a syntax error, naming file:line", function()
      util.write(dir .. "/r.lua", [[ on("t", function(p) publish("out", "old " .. p) end) ]])
      local rt, tr, _, sink = new_rt(dir)
      rt:scan()
      util.write(dir .. "/r.lua", "on('t', function(p)\n  publish('out', 'new' ..\nend)\n")
      rt:scan()
      rt:deliver(msg("t", "x"))
      assert.are.equal("old x", tr.published[1].payload)
      assert.is_not_nil(sink.find("error", "r%.lua:3:"))
      assert.is_not_nil(sink.find("error", "previous version keeps running"))
    end)

    it("keeps the old version when the new one fails while loading", function()
      util.write(dir .. "/r.lua", [[ on("t", function(p) publish("out", "old " .. p) end) ]])
      local rt, tr, _, sink = new_rt(dir)
      rt:scan()
      util.write(dir .. "/r.lua", "on('t', function() end)\nlocal x = nil\nx.y = 1\n")
      rt:scan()
      rt:deliver(msg("t", "x"))
      assert.are.equal(1, #tr.published)
      assert.are.equal("old x", tr.published[1].payload)
      assert.is_not_nil(sink.find("error", "r%.lua:3:"))
    end)

    it("loads a file once it is fixed", function()
      util.write(dir .. "/r.lua", "this is not lua")
      local rt, tr = new_rt(dir)
      rt:scan()
      assert.are.equal(0, rt:scan()) -- the same broken text is not retried
      util.write(dir .. "/r.lua", [[ publish("ok", "1") ]])
      rt:scan()
      assert.are.equal(1, #tr.published)
    end)

    it("unloads a deleted file and loads a new one", function()
      util.write(dir .. "/a.lua", [[ on("a", function() publish("out", "a") end) ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      os.remove(dir .. "/a.lua")
      util.write(dir .. "/b.lua", [[ on("b", function() publish("out", "b") end) ]])
      assert.are.equal(2, rt:scan())
      rt:deliver(msg("a", ""))
      rt:deliver(msg("b", ""))
      assert.are.equal(1, #tr.published)
      assert.are.equal("b", tr.published[1].payload)
      assert.is_nil(rt:status().a)
      assert.are.same({ "a" }, tr.unsubscribes[#tr.unsubscribes])
    end)

    it("ignores files that are not scripts", function()
      util.write(dir .. "/notes.txt", "x")
      util.write(dir .. "/r.lua~", "x")
      util.write(dir .. "/.#r.lua", "x")
      local rt = new_rt(dir)
      assert.are.equal(0, rt:scan())
    end)
  end)

  describe("timers", function()
    it("run after their delay, every interval, and not once cancelled", function()
      util.write(dir .. "/t.lua", [[
        n = 0
        every("tick", 10, function() n = n + 1; publish("tick", n) end)
        after("once", 15, function() publish("once", "x") end)
        on("stop", function() cancel("tick") end)
      ]])
      local rt, tr, clock = new_rt(dir)
      rt:scan()
      assert.are.equal(10000, rt:next_timer_in())
      clock.advance(9999); rt:run_timers()
      assert.are.equal(0, #tr.published)
      clock.advance(1); rt:run_timers()
      clock.advance(5000); rt:run_timers()
      clock.advance(5000); rt:run_timers()
      local got = {}
      for i, p in ipairs(tr.published) do got[i] = p.topic .. p.payload end
      assert.are.same({ "tick1", "oncex", "tick2" }, got)
      rt:deliver(msg("stop", ""))
      clock.advance(60000); rt:run_timers()
      assert.are.equal(3, #tr.published)
      assert.is_nil(rt:next_timer_in())
    end)

    it("at a time of day fire then and again the next day", function()
      util.write(dir .. "/t.lua", [[ at("morning", "07:30", function() publish("m", "x") end) ]])
      local clock = util.fake_clock(0)
      -- 1 June, 07:00 local time (no DST change the next day anywhere)
      local start = os.time { year = 2026, month = 6, day = 1, hour = 7, min = 0, sec = 0 } * 1000
      local rt, tr = new_rt(dir, { clock = clock.now, wall_clock = function() return start + clock.now() end })
      rt:scan()
      assert.are.equal(30 * 60000, rt:next_timer_in())
      clock.advance(30 * 60000); rt:run_timers()
      assert.are.equal(1, #tr.published)
      assert.are.equal(24 * 3600000, rt:next_timer_in())
    end)

    it("at refuses what is not a time of day", function()
      util.write(dir .. "/t.lua", [[ at("x", "25:00", function() end) ]])
      local rt, _, _, sink = new_rt(dir)
      rt:scan()
      assert.is_not_nil(sink.find("error", 't%.lua:1: at: "25:00" is not a time of day'))
    end)

    it("keep their deadline when a reload declares them again", function()
      util.write(dir .. "/t.lua", [[ every("poll", 60, function() publish("v", "1") end) ]])
      local rt, tr, clock = new_rt(dir)
      rt:scan()
      clock.advance(45000)
      util.write(dir .. "/t.lua", [[ every("poll", 60, function() publish("v", "2") end) ]])
      rt:scan()
      assert.are.equal(15000, rt:next_timer_in())
      clock.advance(15000); rt:run_timers()
      assert.are.equal("2", tr.published[1].payload)
    end)

    it("set by a handler survive a reload that does not mention them", function()
      util.write(dir .. "/t.lua", [[ on("go", function() after("later", 30, function() publish("fired", "old") end) end) ]])
      local rt, tr, clock = new_rt(dir)
      rt:scan()
      rt:deliver(msg("go", ""))
      clock.advance(10000)
      util.write(dir .. "/t.lua", [[ on("go", function() end) -- v2 ]])
      rt:scan()
      clock.advance(20000); rt:run_timers()
      assert.are.equal(1, #tr.published)
      assert.are.equal("fired", tr.published[1].topic)
    end)

    it("declared no more are cancelled by a reload", function()
      util.write(dir .. "/t.lua", [[ every("poll", 1, function() publish("v", "1") end) ]])
      local rt, tr, clock = new_rt(dir)
      rt:scan()
      util.write(dir .. "/t.lua", [[ -- no timer now ]])
      rt:scan()
      clock.advance(5000); rt:run_timers()
      assert.are.equal(0, #tr.published)
    end)

    it("are cancelled when their file is removed", function()
      util.write(dir .. "/t.lua", [[ every("poll", 1, function() publish("v", "1") end) ]])
      local rt, tr, clock = new_rt(dir)
      rt:scan()
      os.remove(dir .. "/t.lua")
      rt:scan()
      clock.advance(5000); rt:run_timers()
      assert.are.equal(0, #tr.published)
    end)

    it("that keep failing are stopped", function()
      util.write(dir .. "/t.lua", [[ every("bad", 1, function() error("nope") end) ]])
      local rt, _, clock, sink = new_rt(dir, { max_errors = 2 })
      rt:scan()
      for _ = 1, 5 do clock.advance(1000); rt:run_timers() end
      assert.is_not_nil(sink.find("error", "disabled after 2 errors"))
      assert.is_nil(rt:next_timer_in())
    end)
  end)

  describe("waiting", function()
    it("sleep suspends a handler while other messages are handled", function()
      util.write(dir .. "/w.lua", [[
        on("go", function(p) publish("out", p .. ":start"); sleep(5); publish("out", p .. ":end") end)
      ]])
      local rt, tr, clock = new_rt(dir)
      rt:scan()
      rt:deliver(msg("go", "a"))
      clock.advance(2000); rt:run_timers()
      rt:deliver(msg("go", "b"))
      clock.advance(3000); rt:run_timers()
      clock.advance(2000); rt:run_timers()
      local got = {}
      for i, p in ipairs(tr.published) do got[i] = p.payload end
      assert.are.same({ "a:start", "b:start", "a:end", "b:end" }, got)
    end)

    it("sleep works in a timer callback and refuses the top level", function()
      util.write(dir .. "/w.lua", [[
        after("t", 1, function() sleep(1); publish("out", "late") end)
        sleep(1)
      ]])
      local rt, _, _, sink = new_rt(dir)
      rt:scan()
      assert.is_not_nil(sink.find("error", "w%.lua:2: sleep: only inside a handler or a timer callback"))
      util.write(dir .. "/w.lua", [[ after("t", 1, function() sleep(1); publish("out", "late") end) ]])
      local rt2, tr2, clock2 = new_rt(dir)
      rt2:scan()
      clock2.advance(1000); rt2:run_timers()
      assert.are.equal(0, #tr2.published)
      clock2.advance(1000); rt2:run_timers()
      assert.are.equal("late", tr2.published[1].payload)
    end)

    it("an error after a sleep is counted on the handler, with file:line", function()
      util.write(dir .. "/w.lua", "on('go', function()\n  sleep(1)\n  error('after the nap')\nend)\n")
      local rt, _, clock, sink = new_rt(dir)
      rt:scan()
      rt:deliver(msg("go", ""))
      clock.advance(1000); rt:run_timers()
      assert.is_not_nil(sink.find("error", "w%.lua:3: after the nap"))
      assert.are.equal(1, rt.scripts.w.handlers[1].errors)
    end)

    it("request publishes with a response topic and wakes on the reply", function()
      util.write(dir .. "/q.lua", [[
        on("ask", function()
          local answer, m = request("svc/ping", "hello", { timeout = 2 })
          publish("answer", tostring(answer) .. "/" .. type(m))
        end)
      ]])
      local rt, tr = new_rt(dir, { reply_prefix = "host1/reply" })
      rt:scan()
      rt:deliver(msg("ask", ""))
      local req = tr.published[1]
      assert.are.equal("svc/ping", req.topic)
      assert.are.equal(1, req.qos)
      assert.are.equal("host1/reply/q", req.props.response_topic)
      assert.is_string(req.props.correlation_data)
      assert.are.equal(1, rt.subscribed["host1/reply/#"])
      -- a reply with another correlation is ignored
      rt:deliver { topic = "host1/reply/q", payload = "stray", correlation = "nope" }
      rt:deliver { topic = "host1/reply/q", payload = "pong", correlation = req.props.correlation_data }
      assert.are.equal("pong/table", tr.published[2].payload)
    end)

    it("request gives nil, timeout when no reply comes", function()
      util.write(dir .. "/q.lua", [[
        on("ask", function()
          local answer, err = request("svc/ping", "hello", { timeout = 2 })
          publish("answer", tostring(answer) .. "/" .. tostring(err))
        end)
      ]])
      local rt, tr, clock = new_rt(dir)
      rt:scan()
      rt:deliver(msg("ask", ""))
      clock.advance(1999); rt:run_timers()
      assert.are.equal(1, #tr.published)
      clock.advance(1); rt:run_timers()
      assert.are.equal("nil/timeout", tr.published[2].payload)
      -- a reply after the timeout wakes nothing
      rt:deliver { topic = "lunamq/host/reply/q", payload = "late",
                   correlation = tr.published[1].props.correlation_data }
      assert.are.equal(2, #tr.published)
    end)
  end)

  describe("state", function()
    it("carries over a reload", function()
      util.write(dir .. "/s.lua", [[ on("inc", function() state.n = (state.n or 0) + 1 end) ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      rt:deliver(msg("inc", ""))
      util.write(dir .. "/s.lua", [[ on("inc", function() state.n = state.n + 10 end); on("show", function() publish("n", state.n) end) ]])
      rt:scan()
      rt:deliver(msg("inc", ""))
      rt:deliver(msg("show", ""))
      assert.are.equal("11", tr.published[1].payload)
    end)

    it("is saved atomically and restored by a new runtime (a restart)", function()
      util.write(dir .. "/s.lua", [[
        state.boots = (state.boots or 0) + 1
        on("set", function(p) state.last = p end)
      ]])
      local rt = new_rt(dir)
      rt:scan()
      rt:deliver(msg("set", "hello"))
      rt:flush()
      local saved = util.read(dir .. "/.state/s.json")
      assert.is_not_nil(saved)
      assert.are.same({ boots = 1, last = "hello" }, require("cjson").decode(saved))
      -- no temp file is left behind
      assert.is_nil(util.read(dir .. "/.state/s.json.tmp"))
      local rt2 = new_rt(dir)
      rt2:scan()
      assert.are.same({ boots = 2, last = "hello" }, rt2.scripts.s.state)
    end)

    it("includes pending deadlines, restored for declared timers after a restart", function()
      util.write(dir .. "/t.lua", [[
        every("poll", 60, function() publish("poll", "1") end)
        on("go", function() after("later", 30, function() end) end)
      ]])
      local clock = util.fake_clock()
      local wall = function() return clock.now() + 1.7e12 end
      local rt = new_rt(dir, { clock = clock.now, wall_clock = wall })
      rt:scan()
      rt:deliver(msg("go", ""))
      clock.advance(20000)
      rt:close()
      local saved = require("cjson").decode(util.read(dir .. "/.state/t.timers.json"))
      assert.are.equal(1000 + 60000 + 1.7e12, saved.poll.due)
      assert.are.equal(60000, saved.poll.interval)
      assert.is_not_nil(saved.later)
      clock.advance(5000) -- down for 5 s
      local rt2, tr2, _, sink2 = new_rt(dir, { clock = clock.now, wall_clock = wall })
      rt2:scan()
      assert.are.equal(35000, rt2:next_timer_in())
      assert.is_not_nil(sink2.find("warn", 'timer "later" was pending'))
      clock.advance(35000); rt2:run_timers()
      assert.are.equal(1, #tr2.published)
    end)

    it("that cannot be kept is reported by its key path, and the rest still saved", function()
      util.write(dir .. "/s.lua", [[ on("x", function() state.f = function() end; state.n = 1 end) ]])
      local rt, _, _, sink = new_rt(dir)
      rt:scan()
      rt:deliver(msg("x", ""))
      rt:flush()
      local l = sink.find("error", "state%.f: a function cannot be saved")
      assert.is_not_nil(l)
      assert.are.equal("s", l.script)
      assert.are.equal('{"n":1}', util.read(dir .. "/.state/s.json"))
    end)

    it("that is unreadable is set aside and starts empty", function()
      os.execute("mkdir -p '" .. dir .. "/.state'")
      util.write(dir .. "/.state/s.json", "{broken")
      util.write(dir .. "/s.lua", [[ publish("n", tostring(state.n)) ]])
      local rt, tr, _, sink = new_rt(dir)
      rt:scan()
      assert.are.equal("nil", tr.published[1].payload)
      assert.is_not_nil(sink.find("warn", "unreadable"))
      assert.are.equal("{broken", util.read(dir .. "/.state/s.json.bad"))
    end)
  end)
end)
