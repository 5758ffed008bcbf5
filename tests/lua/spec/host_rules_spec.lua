-- The rule host's script API on the fake clock and transport: the reload
-- lifecycle (the old version's waiting tasks stop), on_connect, wait_for,
-- keep_last/last, request under 3.1.1, settings and secrets, lib/ modules,
-- the loop guard, and the errors a user meets.
local runtime = require "lunamq.runtime"
local util = require "helpers.util"

local function new_rt(dir, extra)
  local tr = util.fake_transport()
  local sink = util.log_sink()
  local clock = util.fake_clock()
  local o = { dir = dir, state_dir = dir .. "/.state", transport = tr, log = sink.log, clock = clock.now,
              wall_clock = function() return 1.7e12 + clock.now() end }
  for k, v in pairs(extra or {}) do o[k] = v end
  return runtime.new(o), tr, clock, sink
end

local function msg(topic, payload, extra)
  local m = { topic = topic, payload = payload or "", qos = 0, retain = false }
  for k, v in pairs(extra or {}) do m[k] = v end
  return m
end

local function on_topic(tr, topic)
  local r = {}
  for _, p in ipairs(tr.published) do if p.topic == topic then r[#r + 1] = p.payload end end
  return r
end

-- the filters subscribed and unsubscribed so far
local function subscribed(tr)
  local r = {}
  for _, l in ipairs(tr.subscribes) do for _, s in ipairs(l) do r[s[1]] = (r[s[1]] or 0) + 1 end end
  for _, l in ipairs(tr.unsubscribes) do for _, f in ipairs(l) do r[f] = (r[f] or 0) - 1 end end
  return r
end

describe("rule host #unit", function()
  local dir
  before_each(function() dir = util.tmpdir() end)
  after_each(function() util.rmrf(dir) end)

  describe("reload", function()
    it("stops the old version's sleeping handler when the file is replaced", function()
      util.write(dir .. "/loop.lua", [[
        on("go", function() while true do publish("tick", "v1"); sleep(1) end end)
      ]])
      local rt, tr, clock, sink = new_rt(dir)
      rt:scan()
      rt:deliver(msg("go"))
      for _ = 1, 3 do clock.advance(1000); rt:run_timers() end
      assert.are.equal(4, #on_topic(tr, "tick"))
      util.write(dir .. "/loop.lua", [[ on("go", function() publish("tick", "v2") end) -- new ]])
      rt:scan()
      assert.is_not_nil(sink.find("info", "the previous version's 1 waiting task stopped"))
      for _ = 1, 5 do clock.advance(1000); rt:run_timers() end
      assert.are.equal(4, #on_topic(tr, "tick"))
      assert.is_nil(rt:next_timer_in())
    end)

    it("stops the old version's pending wait_for and request, and a deleted file's", function()
      util.write(dir .. "/w.lua", [[
        on("ask", function() local p, why = wait_for("dev/state", 30); publish("got", tostring(p) .. " " .. tostring(why)) end)
        on("req", function() local p, why = request("dev/get", "x", { timeout = 30 }); publish("got", tostring(p)) end)
      ]])
      local rt, tr, clock = new_rt(dir, { protocol = 5 })
      rt:scan()
      rt:deliver(msg("ask"))
      rt:deliver(msg("req"))
      assert.are.equal(1, subscribed(tr)["dev/state"])
      util.write(dir .. "/w.lua", [[ on("ask", function() end) -- v2 ]])
      rt:scan()
      assert.are.equal(0, subscribed(tr)["dev/state"])
      rt:deliver(msg("dev/state", "on"))
      clock.advance(60000); rt:run_timers()
      assert.are.same({}, on_topic(tr, "got"))
      -- a deleted file: same
      util.write(dir .. "/z.lua", [[ on("go", function() sleep(1); publish("z", "late") end) ]])
      rt:scan()
      rt:deliver(msg("go"))
      os.remove(dir .. "/z.lua")
      rt:scan()
      clock.advance(5000); rt:run_timers()
      assert.are.same({}, on_topic(tr, "z"))
    end)

    it("keeps named timers across a reload, and logs skipped entries once", function()
      os.execute("mkdir -p '" .. dir .. "/sub' '" .. dir .. "/lib'")
      util.write(dir .. "/notes.txt", "x")
      util.write(dir .. "/bad name.lua", "x")
      util.write(dir .. "/t.lua", [[ on("go", function() after("n", 10, function() publish("n", "fired") end) end) ]])
      local rt, tr, clock, sink = new_rt(dir)
      rt:scan()
      rt:deliver(msg("go"))
      util.write(dir .. "/t.lua", [[ on("go", function() end) -- v2 ]])
      rt:scan()
      rt:scan()
      clock.advance(10000); rt:run_timers()
      assert.are.same({ "fired" }, on_topic(tr, "n"))
      local count = {}
      for _, l in ipairs(sink.lines) do
        local what = l.msg:match("^skipped .-/([^/:]+):")
        if what then count[what] = (count[what] or 0) + 1 end
      end
      assert.are.same({ sub = 1, ["notes.txt"] = 1, ["bad name.lua"] = 1 }, count)
      assert.is_not_nil(sink.find("info", "skipped .*/sub: a directory"))
    end)
  end)

  describe("what scripts need", function()
    it("on_connect runs after every (re)connect and at a load while connected", function()
      util.write(dir .. "/d.lua", [[
        local n = 0
        on_connect(function() n = n + 1; publish("homeassistant/switch/x/config", { n = n, t = "a/b" }, { retain = true }) end)
      ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      assert.are.equal(0, #tr.published)
      rt:on_connected()
      rt:on_disconnected()
      rt:on_connected()
      assert.are.same({ '{"n":1,"t":"a/b"}', '{"n":2,"t":"a/b"}' }, on_topic(tr, "homeassistant/switch/x/config"))
      util.write(dir .. "/d.lua", util.read(dir .. "/d.lua") .. "\n-- v2\n")
      rt:scan()
      assert.are.equal(3, #tr.published)
    end)

    it("wait_for gives the next message on a filter, or nil, timeout, and unsubscribes", function()
      util.write(dir .. "/w.lua", [[
        on("ask", function(p)
          publish("dev/get", "")
          local v, m = wait_for("dev/+/state", tonumber(p), { json = true })
          if v then publish("got", v.state .. " " .. m.topic) else publish("got", "nil " .. m) end
        end)
      ]])
      local rt, tr, clock = new_rt(dir)
      rt:scan()
      rt:deliver(msg("ask", "5"))
      assert.are.equal(1, subscribed(tr)["dev/+/state"])
      rt:deliver(msg("dev/a/state", '{"state":"OLD"}', { retain = true })) -- the retained copy: skipped
      rt:deliver(msg("dev/a/state", '{"state":"ON"}'))
      rt:deliver(msg("dev/a/state", '{"state":"LATER"}'))
      assert.are.same({ "ON dev/a/state" }, on_topic(tr, "got"))
      assert.are.equal(0, subscribed(tr)["dev/+/state"])
      rt:deliver(msg("ask", "2"))
      clock.advance(1999); rt:run_timers()
      assert.are.equal(1, #on_topic(tr, "got"))
      clock.advance(1); rt:run_timers()
      assert.are.same({ "ON dev/a/state", "nil timeout" }, on_topic(tr, "got"))
    end)

    it("keep_last subscribes a filter only for last(), decoded when asked", function()
      util.write(dir .. "/k.lua", [[
        keep_last("zigbee2mqtt/+", { qos = 1 })
        on("ask", function(p) local s = last(p, { json = true }); publish("got", s and tostring(s.occupancy) or "none") end)
        on("raw", function(p) publish("got", tostring(last(p))) end)
      ]])
      local rt, tr = new_rt(dir)
      rt:scan()
      assert.are.equal(1, subscribed(tr)["zigbee2mqtt/+"])
      rt:deliver(msg("zigbee2mqtt/hall", '{"occupancy":null}', { retain = true }))
      rt:deliver(msg("zigbee2mqtt/door", '{"occupancy":true}'))
      rt:deliver(msg("ask", "zigbee2mqtt/hall"))
      rt:deliver(msg("ask", "zigbee2mqtt/door"))
      rt:deliver(msg("ask", "zigbee2mqtt/none"))
      rt:deliver(msg("raw", "zigbee2mqtt/door"))
      assert.are.same({ "nil", "true", "none", '{"occupancy":true}' }, on_topic(tr, "got"))
      local st = rt.scripts.k.env.stats() -- (keep_last is no handler)
      assert.are.same({ "ask", "raw" }, { st[1].filter, st[2].filter })
      assert.are.equal(2, #st)
    end)

    it("request fails at the call under MQTT 3.1.1, and decodes a JSON reply", function()
      util.write(dir .. "/r.lua", [[
        on("go", function()
          local v, m = request("dev/get", "x", { json = true, timeout = 2 })
          publish("got", v and v.temp or tostring(m))
        end)
      ]])
      local rt, tr, _, sink = new_rt(dir, { protocol = 4 })
      rt:scan()
      rt:deliver(msg("go"))
      assert.is_not_nil(sink.find("error", "r%.lua:2: request: needs MQTT 5"))
      local rt5, tr5 = new_rt(dir, { protocol = 5 })
      rt5:scan()
      rt5:deliver(msg("go"))
      local req = on_topic(tr5, "dev/get")
      assert.are.equal(1, #req)
      local props = tr5.published[1].props
      rt5:deliver_to(rt5.reply_handler, { topic = props.response_topic, payload = '{"temp":21.5}',
                                          correlation = props.correlation_data })
      assert.are.same({ "21.5" }, on_topic(tr5, "got"))
      assert.are.equal(0, #tr.published)
    end)

    it("gives settings and secrets, each script its own copy, new keys refused", function()
      util.write(dir .. "/s.lua", [[
        local n = 0
        for _, room in ipairs(settings.rooms) do n = n + 1 end
        publish("got", settings.name .. " " .. n .. " " .. #settings.rooms .. " " .. secrets.token)
        on("write", function() settings.nme = "x" end)
        on("write2", function() settings.rooms[3] = "x" end)
        on("change", function() settings.rooms[1] = "changed" end)
      ]])
      util.write(dir .. "/t.lua", [[ on("see", function() publish("got", settings.rooms[1]) end) ]])
      local rt, tr, _, sink = new_rt(dir, { settings = { name = "home", rooms = { "hall", "kitchen" } },
                                            secrets = { token = "s3cret" } })
      rt:scan()
      assert.are.same({ "home 2 2 s3cret" }, on_topic(tr, "got"))
      rt:deliver(msg("write"))
      assert.is_not_nil(sink.find("error", "settings has no key nme"))
      rt:deliver(msg("write2"))
      assert.is_not_nil(sink.find("error", "settings has no key 3"))
      rt:deliver(msg("change"))
      rt:deliver(msg("see"))
      assert.are.same({ "home 2 2 s3cret", "hall" }, on_topic(tr, "got"))
    end)

    it("requires modules from lib/ in the sandbox and reloads their users when they change", function()
      os.execute("mkdir -p '" .. dir .. "/lib/house'")
      util.write(dir .. "/lib/house/names.lua", [[
        local M = {}
        function M.light(room) return "zigbee2mqtt/" .. room .. "_light/set" end
        M.os = os == nil and "sandboxed" or "open"
        return M
      ]])
      util.write(dir .. "/a.lua", [[
        local names = require "house.names"
        on("go", function(room) publish(names.light(room), names.os) end)
      ]])
      util.write(dir .. "/b.lua", [[ on("other", function() end) ]])
      util.write(dir .. "/c.lua", [[ require "ffi" ]])
      local rt, tr, _, sink = new_rt(dir)
      rt:scan()
      rt:deliver(msg("go", "hall"))
      assert.are.same({ "sandboxed" }, on_topic(tr, "zigbee2mqtt/hall_light/set"))
      assert.is_not_nil(sink.find("error", 'c%.lua:1: require: module "ffi" not found'))
      os.execute("sleep 0.01")
      util.write(dir .. "/lib/house/names.lua", [[
        return { light = function(room) return "z2m/" .. room end, os = "v2" }
      ]])
      rt:scan()
      assert.is_not_nil(sink.find("info", "reloaded .*/a%.lua"))
      assert.is_nil(sink.find("info", "reloaded .*/b%.lua"))
      rt:deliver(msg("go", "hall"))
      assert.are.same({ "v2" }, on_topic(tr, "z2m/hall"))
    end)

    it("stops a handler that triggers itself, and reports it", function()
      util.write(dir .. "/l.lua", [[
        on("echo/#", function(p, topic) publish(topic .. "x", p) end)
        on("fine/in", function(p) publish("fine/out", p) end)
      ]])
      local rt, tr, clock, sink = new_rt(dir)
      rt:scan()
      local topic = "echo/a"
      for _ = 1, 40 do
        rt:deliver(msg(topic, "1"))
        topic = tr.published[#tr.published].topic
      end
      assert.are.equal(20, #tr.published)
      assert.is_not_nil(sink.find("error", "loop: handler l%.lua:1 %(echo/#%) published to echo/a.* more than 20 times in a second: disabled"))
      assert.are.equal(1, subscribed(tr)["fine/in"])
      assert.are.equal(0, subscribed(tr)["echo/#"])
      -- publishing to another topic, however often, is no loop
      for _ = 1, 50 do rt:deliver(msg("fine/in", "x")) end
      assert.are.equal(70, #tr.published)
      clock.advance(1)
    end)

    it("refuses unknown on() options at load, naming the option", function()
      util.write(dir .. "/o.lua", [[ on("a", function() end, { jsn = true }) ]])
      local rt, _, _, sink = new_rt(dir)
      rt:scan()
      assert.is_not_nil(sink.find("error", "o%.lua:1: on: unknown option jsn %(it takes changed_only, debounce, json, qos, throttle%)"))
    end)

    it("lists the pending timers with pending() and warns at once about an anonymous timer", function()
      util.write(dir .. "/p.lua", [[
        after("a", 10, function() end)
        on_timer("named", function() end)
        on("go", function()
          after("named", 5)
          after("anon", 7, function() end)
          local p = pending()
          publish("got", ("%s %s %s"):format(p.a, p.named, p.anon))
        end)
      ]])
      local rt, tr, _, sink = new_rt(dir)
      rt:scan()
      rt:deliver(msg("go"))
      assert.are.same({ "10 5 7" }, on_topic(tr, "got"))
      local w = sink.find("warn", 'timer "anon" is armed with a function of its own')
      assert.is_not_nil(w)
      assert.matches("^p%.lua:5: ", w.msg)
      assert.is_nil(sink.find("warn", 'timer "named"'))
    end)

    it("shows a load error with the script's frames only", function()
      util.write(dir .. "/e.lua", "local function f() error('boom') end\nlocal function g() f() end\ng()\n")
      local rt, _, _, sink = new_rt(dir)
      rt:scan()
      local l = sink.find("error", "not loaded")
      assert.is_not_nil(l)
      assert.matches("e%.lua:1: boom", l.msg)
      assert.matches("e%.lua:2: in function 'g'", l.msg)
      assert.is_nil(l.msg:find("runtime.lua", 1, true))
      assert.is_nil(l.msg:find("guard.lua", 1, true))
      assert.is_nil(l.msg:find("[C]", 1, true))
    end)

    it("names the topic and the handler of each message with trace (-d)", function()
      util.write(dir .. "/t.lua", [[ on("a/+", function() end) ]])
      local rt, _, _, sink = new_rt(dir, { trace = true })
      rt:scan()
      rt:deliver(msg("a/b", "xyz"))
      assert.is_not_nil(sink.find("debug", "^a/b %-> handler t%.lua:1 %(a/%+%) %(3 bytes%)"))
    end)
  end)
end)
