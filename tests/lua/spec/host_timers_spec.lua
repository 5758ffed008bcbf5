-- The runtime without a broker (fake clock, fake transport): timers set
-- only inside handlers come back after a restart through on_timer, and
-- Subscription Identifiers route each copy of a message to its filter's
-- handlers only.
local runtime = require "lunamq.runtime"
local util = require "helpers.util"
local cjson = require "cjson"

local function new_rt(dir, extra)
  local transport = util.fake_transport()
  local sink = util.log_sink()
  local o = { dir = dir, state_dir = dir .. "/.state", transport = transport, log = sink.log }
  for k, v in pairs(extra or {}) do o[k] = v end
  return runtime.new(o), transport, sink
end

local function msg(topic, payload, props)
  return { topic = topic, payload = payload or "", qos = 0, retain = false, props = props }
end

local function payloads(tr)
  local r = {}
  for i, p in ipairs(tr.published) do r[i] = p.payload end
  return r
end

describe("on_timer #unit", function()
  local dir, clock, wall
  before_each(function()
    dir = util.tmpdir()
    clock = util.fake_clock()
    wall = function() return clock.now() + 1.7e12 end
  end)
  after_each(function() util.rmrf(dir) end)

  local RULE = [[
    on_timer("off", function() publish("light", "off " .. tostring(state.n)) end)
    on("motion", function(p) state.n = tonumber(p); after("off", 300) end)
  ]]

  it("lets a handler arm a named timer without a callback", function()
    util.write(dir .. "/m.lua", RULE)
    local rt, tr, sink = new_rt(dir, { clock = clock.now, wall_clock = wall })
    rt:scan()
    assert.is_nil(sink.find("error", ""))
    rt:deliver(msg("motion", "1"))
    assert.are.equal(300000, rt:next_timer_in())
    clock.advance(300000); rt:run_timers()
    assert.are.same({ "off 1" }, payloads(tr))
  end)

  it("brings a handler's timer back after a restart, at its deadline", function()
    util.write(dir .. "/m.lua", RULE)
    local rt = new_rt(dir, { clock = clock.now, wall_clock = wall })
    rt:scan()
    clock.advance(1000)
    rt:deliver(msg("motion", "7"))   -- due at +300 s
    clock.advance(100000)
    rt:flush()                       -- (or kill -9 after this flush)
    local saved = cjson.decode(util.read(dir .. "/.state/m.timers.json"))
    assert.are.equal(1000 + 1000 + 300000 + 1.7e12, saved.off.due)
    clock.advance(50000)             -- down for 50 s
    local rt2, tr2, sink2 = new_rt(dir, { clock = clock.now, wall_clock = wall })
    rt2:scan()
    assert.is_not_nil(sink2.find("info", 'timer "off" restored'))
    assert.are.equal(150000, rt2:next_timer_in())
    clock.advance(149999); rt2:run_timers()
    assert.are.equal(0, #tr2.published)
    clock.advance(1); rt2:run_timers()
    assert.are.same({ "off 7" }, payloads(tr2))
  end)

  it("fires at once a timer whose deadline passed while the host was down", function()
    util.write(dir .. "/m.lua", RULE)
    local rt = new_rt(dir, { clock = clock.now, wall_clock = wall })
    rt:scan()
    rt:deliver(msg("motion", "3"))
    rt:close()
    clock.advance(900000)
    local rt2, tr2 = new_rt(dir, { clock = clock.now, wall_clock = wall })
    rt2:scan()
    assert.are.equal(0, rt2:next_timer_in())
    rt2:run_timers()
    assert.are.same({ "off 3" }, payloads(tr2))
  end)

  it("keeps a periodic handler timer periodic, and a daily one daily", function()
    util.write(dir .. "/p.lua", [[
      on_timer("tick", function() publish("t", "tick") end)
      on_timer("morning", function() publish("t", "morning") end)
      on("go", function() every("tick", 10); at("morning", "07:30") end)
    ]])
    local rt = new_rt(dir, { clock = clock.now, wall_clock = wall })
    rt:scan()
    rt:deliver(msg("go"))
    rt:close()
    local saved = cjson.decode(util.read(dir .. "/.state/p.timers.json"))
    assert.are.equal(10000, saved.tick.interval)
    assert.are.equal("07:30", saved.morning.at)
    local rt2, tr2 = new_rt(dir, { clock = clock.now, wall_clock = wall })
    rt2:scan()
    clock.advance(10000); rt2:run_timers()
    clock.advance(10000); rt2:run_timers()
    local n = 0
    for _, p in ipairs(tr2.published) do if p.payload == "tick" then n = n + 1 end end
    assert.are.equal(2, n)
    local t = rt2.timers:get("p", "morning")
    assert.is_not_nil(t)
    assert.is_truthy(t.calendar, "re-armed daily")
  end)

  it("gives a live handler timer the new version's callback on reload, keeping its deadline", function()
    util.write(dir .. "/m.lua", RULE)
    local rt, tr = new_rt(dir, { clock = clock.now, wall_clock = wall })
    rt:scan()
    rt:deliver(msg("motion", "1"))
    clock.advance(100000)
    util.write(dir .. "/m.lua", (RULE:gsub('"off " %.%.', '"OFF v2 " ..')))
    rt:scan()
    assert.are.equal(200000, rt:next_timer_in())
    clock.advance(200000); rt:run_timers()
    assert.are.same({ "OFF v2 1" }, payloads(tr))
  end)

  it("refuses after() without a callback when no on_timer names one", function()
    util.write(dir .. "/x.lua", [[ on("go", function() after("nope", 1) end) ]])
    local rt, _, sink = new_rt(dir, { clock = clock.now })
    rt:scan()
    rt:deliver(msg("go"))
    assert.is_not_nil(sink.find("error", 'no callback for "nope" %(pass one, or declare on_timer'))
  end)

  it("is only for a script's top level", function()
    util.write(dir .. "/x.lua", [[ on("go", function() on_timer("n", function() end) end) ]])
    local rt, _, sink = new_rt(dir, { clock = clock.now })
    rt:scan()
    rt:deliver(msg("go"))
    assert.is_not_nil(sink.find("error", "on_timer: only at a script's top level"))
  end)

  it("warns about a restored timer nothing can run, and drops it", function()
    util.write(dir .. "/m.lua", [[ on("go", function() after("x", 30, function() end) end) ]])
    local rt = new_rt(dir, { clock = clock.now, wall_clock = wall })
    rt:scan()
    rt:deliver(msg("go"))
    rt:close()
    local rt2, _, sink2 = new_rt(dir, { clock = clock.now, wall_clock = wall })
    rt2:scan()
    assert.is_not_nil(sink2.find("warn", 'timer "x" was pending'))
    assert.is_nil(rt2:next_timer_in())
  end)
end)

describe("Subscription Identifiers #unit", function()
  local lunamq = require "lunamq"
  local dir
  before_each(function() dir = util.tmpdir() end)
  after_each(function() util.rmrf(dir) end)

  -- The raw MQTT 5 property block of a PUBLISH carrying identifiers ids.
  local function sub_id_props(ids)
    local b = {}
    for _, id in ipairs(ids) do
      b[#b + 1] = string.char(0x0B)
      repeat -- variable byte integer
        local d = id % 128
        id = math.floor(id / 128)
        b[#b + 1] = string.char(id > 0 and d + 128 or d)
      until id == 0
    end
    return table.concat(b)
  end

  it("decodes a message's identifiers", function()
    assert.are.same({ 3, 200 }, lunamq.event_sub_ids(msg("t", "", sub_id_props({ 3, 200 }))))
    assert.is_nil(lunamq.event_sub_ids(msg("t", "")))
  end)

  it("subscribes each filter with its own identifier, never reused", function()
    util.write(dir .. "/o.lua", [[
      on("a/+", function() end)
      on("a/#", function() end)
    ]])
    local calls = {}
    local tr = util.fake_transport()
    function tr.subscribe(list, props) calls[#calls + 1] = { list[1][1], props.subscription_identifier } end
    local rt = new_rt(dir, { sub_ids = true, transport = tr })
    rt:scan()
    assert.are.same({ { "a/#", 1 }, { "a/+", 2 } }, calls)
    util.write(dir .. "/o.lua", [[ on("a/#", function() end) on("b", function() end) ]])
    rt:scan()
    assert.are.same({ "b", 3 }, calls[3])
    assert.is_nil(rt.filter_of[2])
  end)

  it("calls only the handlers of the filters a copy was delivered for", function()
    util.write(dir .. "/o.lua", [[
      on("a/+", function(_, t) publish("hit", "plus " .. t) end)
      on("a/#", function(_, t) publish("hit", "hash " .. t) end)
      on("#", function(_, t) if t ~= "hit" then publish("hit", "all " .. t) end end)
    ]])
    local rt, tr = new_rt(dir, { sub_ids = true })
    rt:scan()
    -- mosquitto sends one copy per matching subscription, each with its id
    for _, f in ipairs { "a/+", "a/#", "#" } do
      rt:deliver(msg("a/b", "", sub_id_props({ rt.id_of[f] })))
    end
    table.sort(tr.published, function(x, y) return x.payload < y.payload end)
    assert.are.same({ "all a/b", "hash a/b", "plus a/b" }, payloads(tr))
    -- a copy for a filter no longer subscribed reaches nobody
    tr.published = {}
    rt:deliver(msg("a/b", "", sub_id_props({ 99 })))
    assert.are.equal(0, #tr.published)
    -- without identifiers (MQTT 3.1.1): every matching handler
    rt:deliver(msg("a/c", ""))
    assert.are.equal(3, #tr.published)
    -- one copy for two filters (a broker may do that): both, once each
    tr.published = {}
    rt:deliver(msg("a/d", "", sub_id_props({ rt.id_of["a/+"], rt.id_of["a/#"] })))
    table.sort(tr.published, function(x, y) return x.payload < y.payload end)
    assert.are.same({ "hash a/d", "plus a/d" }, payloads(tr))
    -- identifiers of more than one byte
    rt.filter_of[300], rt.filter_of[rt.id_of["#"]] = "#", nil
    rt.id_of["#"] = 300
    tr.published = {}
    rt:deliver(msg("a/e", "", sub_id_props({ 300 })))
    assert.are.same({ "all a/e" }, payloads(tr))
  end)
end)

describe("handler tasks on reused coroutines #unit", function()
  local dir
  before_each(function() dir = util.tmpdir() end)
  after_each(function() util.rmrf(dir) end)

  it("keep a sleeping task apart from the quick ones run meanwhile", function()
    util.write(dir .. "/s.lua", [[
      local n = 0
      on("slow", function(p) sleep(1); publish("out", "slow " .. p) end)
      on("quick", function(p) n = n + 1; publish("out", "quick " .. p .. " " .. n) end)
      on("bad", function() error("bad handler") end)
    ]])
    local clock = util.fake_clock()
    local rt, tr = new_rt(dir, { clock = clock.now })
    rt:scan()
    rt:deliver(msg("slow", "a"))
    for i = 1, 50 do
      rt:deliver(msg("quick", tostring(i)))
      if i % 10 == 0 then rt:deliver(msg("bad")) end
    end
    assert.are.equal(50, #tr.published)
    assert.are.equal("quick 50 50", tr.published[50].payload)
    clock.advance(1000); rt:run_timers()
    assert.are.equal(51, #tr.published)
    assert.are.equal("slow a", tr.published[51].payload)
    -- the pool holds finished coroutines only, a bounded number
    assert.is_true(#rt.pool >= 1 and #rt.pool <= 32)
    for _, co in ipairs(rt.pool) do assert.are.equal("suspended", coroutine.status(co)) end
    clock.advance(5000); rt:run_timers()
    assert.are.equal(51, #tr.published)
  end)
end)

describe("per-handler counters #unit", function()
  local dir
  before_each(function() dir = util.tmpdir() end)
  after_each(function() util.rmrf(dir) end)

  it("are there for the script (stats()) and in the log", function()
    util.write(dir .. "/c.lua", [[
      on("ok", function() end)
      on("bad", function() error("nope") end)
      on("report", function()
        for _, s in ipairs(stats()) do
          publish("stats", ("%s %s %d %d %s %s"):format(s.where, s.filter, s.calls, s.errors,
            type(s.time_ms), tostring(s.disabled)))
        end
      end)
    ]])
    local rt, tr, sink = new_rt(dir, { max_errors = 2 })
    rt:scan()
    for _ = 1, 3 do rt:deliver(msg("ok")) end
    for _ = 1, 2 do rt:deliver(msg("bad")) end
    rt:deliver(msg("report"))
    assert.are.same({ "c.lua:1 ok 3 0 number false", "c.lua:2 bad 2 2 number true",
                      "c.lua:3 report 1 0 number false" }, payloads(tr))
    assert.is_not_nil(sink.find("error", "c.lua:2 %(bad%) failed %(2 calls, 2 errors%)"))
    rt:close()
    assert.is_not_nil(sink.find("info", "handler c.lua:1 %(ok%): 3 calls, 0 errors, [%d.]+ ms$"))
    assert.is_not_nil(sink.find("info", "handler c.lua:2 %(bad%): 2 calls, 2 errors, [%d.]+ ms, disabled"))
  end)
end)

describe("--watch #unit", function()
  local host = require "lunamq.host"
  it("is inotify by default, poll on request, anything else refused", function()
    assert.are.equal("inotify", host.parse({ "/tmp" }).watch)
    assert.are.equal("poll", host.parse({ "/tmp", "--watch", "poll" }).watch)
    local o, err = host.parse({ "/tmp", "--watch", "fanotify" })
    assert.is_nil(o)
    assert.matches('%-%-watch needs inotify or poll, not "fanotify"', err)
  end)

  it("watches with inotify and gathers the events of scripts only", function()
    local sys = require "lunamq.sys"
    local dir = util.tmpdir()
    finally(function() util.rmrf(dir) end)
    local w = host.watcher({ watch = "inotify", scan_ms = 100, dir = dir }, sys, function() end)
    finally(function() w:close() end)
    assert.is_not_nil(w.fd)
    assert.are.equal(2000, w.interval)
    util.write(dir .. "/notes.txt", "x")
    assert.is_true(w:drain(1000))
    assert.is_nil(w.due, "not a script")
    util.write(dir .. "/a.lua.tmp", "x")
    os.rename(dir .. "/a.lua.tmp", dir .. "/a.lua")
    assert.is_true(w:drain(1000))
    assert.are.equal(1000 + host.DEBOUNCE_MS, w.due)
    util.write(dir .. "/b.lua", "x")
    assert.is_true(w:drain(1003))
    assert.are.equal(1003 + host.DEBOUNCE_MS, w.due, "debounced: quiet time after the last")
    os.execute("rmdir '" .. dir .. "' 2>/dev/null; rm -rf '" .. dir .. "'")
    assert.is_false(w:drain(1010), "the directory gone: back to polling")
  end)
end)
