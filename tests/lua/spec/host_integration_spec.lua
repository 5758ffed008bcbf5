-- The `lunamq host` program (LUNAMQ_CLI, the C binary with LuaJIT inside)
-- against a real mosquitto, the scenarios of issue 6 item 9: a rule fires;
-- a reload while 10,000 messages stream in handles each exactly once; a
-- broken edit keeps the old version; state and pending timers survive a
-- restart (SIGTERM and kill -9); a runaway handler is stopped while the
-- host keeps serving; 1,000 patterns dispatch as lmq_topic_matches says.
-- Tag #hostint (ctest lua.host.integration).  Every wait has a deadline.
local lunamq = require "lunamq"
local broker = require "helpers.broker"
local util = require "helpers.util"
local ffi = require "ffi"

pcall(ffi.cdef, [[
int kill(int pid, int sig);
int rename(const char *from, const char *to);
int waitpid(int pid, int *status, int options);
]])

local CLI = os.getenv("LUNAMQ_CLI")
local clock = lunamq.monotonic_ms

-- Poll fn until it gives a value or deadline_ms passes.
local function until_(deadline_ms, fn)
  local deadline = clock() + deadline_ms
  repeat
    local v = fn()
    if v then return v end
    os.execute("sleep 0.01")
  until clock() > deadline
  return false
end

-- How an editor saves: a temp file renamed over the script.
local function save(path, text)
  util.write(path .. ".tmp~", text)
  assert(ffi.C.rename(path .. ".tmp~", path) == 0)
end

describe("lunamq host against mosquitto #hostint", function()
  assert(CLI and CLI ~= "", "LUNAMQ_CLI names the lunamq binary")
  local b, dir, pid, c
  local got = {}   -- topic -> list of payloads the test client received

  setup(function() b = assert(broker.start()) end)
  teardown(function() if b then b:stop() end end)

  local function log() return util.read(dir .. "/host.log") or "" end

  before_each(function()
    dir = util.tmpdir()
    os.execute("mkdir -p '" .. dir .. "/rules'")
    got = {}
  end)
  after_each(function()
    if os.getenv("LMQ_KEEP_LOG") then io.stderr:write(log()) end
    if pid then ffi.C.kill(pid, 9) end
    pid = nil
    if c then c:close() end
    c = nil
    util.rmrf(dir)
  end)


  -- The host in the background, its log appended to dir/host.log.
  local function start(args)
    assert(os.execute(("env -u LUNAMQ_LIBRARY -u LUNAMQ_CDEF '%s' host '%s/rules' --port %d %s 2>>'%s/host.log' & echo $! > '%s/host.pid'")
                      :format(CLI, dir, b.port, args or "", dir, dir)))
    pid = tonumber(util.read(dir .. "/host.pid"))
    assert.is_not_nil(pid)
  end
  -- Stop it (sig 15: clean, 9: crash) and wait until it is gone.
  local function stop(sig)
    ffi.C.kill(pid, sig)
    local p = pid
    pid = nil
    assert.is_truthy(until_(5000, function() return ffi.C.kill(p, 0) ~= 0 end), "host exited")
  end

  -- The test's client, subscribed to out (a filter), recording into `got`.
  local function client(out)
    c = assert(lunamq.new { host = b.host, port = b.port, reconnect = false, protocol = 5 })
    assert(c:connect())
    assert(c:wait(function(e) return e.type == "connected" end, 3000))
    assert(c:subscribe(out, 1))
    assert(c:wait(function(e) return e.type == "subscribed" end, 3000))
  end
  local function record(e)
    if e.type == "message" then
      local l = got[e.topic] or {}
      got[e.topic] = l
      l[#l + 1] = e.payload
    end
  end
  -- Drive the client for up to ms, until pred() holds.
  local function pump(ms, pred)
    local deadline = clock() + ms
    repeat
      c:wait(function(e) record(e); return pred and pred() end, 20)
      if pred and pred() then return true end
    until clock() > deadline
    return pred == nil
  end
  -- Wait for a line in the host's log (driving the client meanwhile, so
  -- what it publishes goes out).
  local function log_has(pattern, ms)
    local function found() return log():find(pattern) ~= nil end
    if c then return pump(ms or 5000, found) end
    return until_(ms or 5000, found)
  end
  -- Publish ask until an answer on topic satisfies ok(payload).
  local function ask(topic, payload, out, ok, ms)
    local deadline = clock() + (ms or 8000)
    while clock() < deadline do
      assert(c:publish(topic, payload, 1))
      local found
      pump(150, function()
        for _, p in ipairs(got[out] or {}) do if ok(p) then found = p; return true end end
      end)
      if found then return found end
    end
  end

  it("runs a rule: a message in, the rule's message out", function()
    util.write(dir .. "/rules/echo.lua", [[
      on("it/+/in", function(p, topic) publish("it/out", topic .. "=" .. p:upper(), { qos = 1 }) end,
         { qos = 1 })
    ]])
    start()
    client("it/out")
    local p = ask("it/hall/in", "motion", "it/out", function(x) return x == "it/hall/in=MOTION" end)
    assert.are.equal("it/hall/in=MOTION", p)
    assert.matches("%[echo%] loaded", log())
  end)

  it("reloads while 10,000 messages stream in: each handled exactly once, by v1 or v2", function()
    local rule = [[
      on("it/stream", function(p) publish("it/handled", "V" .. "|" .. p, { qos = 1 }) end, { qos = 1 })
      on("it/ping", function(p) publish("it/handled", "V|ping", { qos = 1 }) end, { qos = 1 })
    ]]
    util.write(dir .. "/rules/stream.lua", (rule:gsub('"V"', '"v1"'):gsub("V|ping", "v1|ping")))
    start()
    client("it/handled")
    assert.is_truthy(ask("it/ping", "", "it/handled", function(x) return x == "v1|ping" end))
    got = {}
    local N, sent, saved_at = 10000, 0, nil
    local function handled() return #(got["it/handled"] or {}) end
    while sent < N do
      -- at most 500 unanswered: the stream keeps flowing, nothing piles up
      for _ = 1, math.min(100, N - sent) do
        sent = sent + 1
        assert(c:publish("it/stream", tostring(sent), 1))
      end
      if not saved_at and sent >= 3000 then
        save(dir .. "/rules/stream.lua", (rule:gsub('"V"', '"v2"'):gsub("V|ping", "v2|ping")))
        saved_at = sent
      end
      assert.is_true(pump(10000, function() return handled() >= sent - 500 end),
                     "the host keeps up (" .. handled() .. " of " .. sent .. ")")
    end
    assert.is_true(pump(15000, function() return handled() >= N end), "all handled")
    pump(300) -- a duplicate would come now
    local seen, by, last_v1, first_v2 = {}, { v1 = 0, v2 = 0 }, 0, math.huge
    for _, p in ipairs(got["it/handled"]) do
      local v, n = p:match("^(v%d)|(%d+)$")
      n = tonumber(n)
      assert.is_not_nil(n, "a stream answer: " .. p)
      assert.is_nil(seen[n], "message " .. n .. " handled twice")
      seen[n] = v
      by[v] = by[v] + 1
      if v == "v1" then last_v1 = math.max(last_v1, n) else first_v2 = math.min(first_v2, n) end
    end
    for n = 1, N do assert.is_not_nil(seen[n], "message " .. n .. " handled") end
    assert.are.equal(N, by.v1 + by.v2)
    assert.is_true(by.v2 > 0, "the new version took over")
    assert.is_true(by.v1 >= saved_at - 500, "the old version handled what came before the save")
    -- one switch: everything before it by v1, everything after by v2
    assert.is_true(last_v1 < first_v2, ("v1 up to %d, v2 from %d"):format(last_v1, first_v2))
    assert.matches("%[stream%] reloaded", log())
  end)

  -- A reload that swaps a filter for an overlapping one (a/+ to a/#, both
  -- match the stream's topic): the new subscription goes first, and each
  -- message is handled once.  MQTT 5: mosquitto sends a copy under each
  -- live subscription, told apart by identifiers (the fence hands over);
  -- 3.1.1: a cover and one copy.
  for _, proto in ipairs { "5", "311" } do
  it("swaps it/a/+ for it/a/# while messages stream in: each handled once (MQTT " .. proto .. ")", function()
    local function rule(v, filter)
      return ([[
        on(%q, function(p, t)
          if t == "it/a/ping" then publish("it/handled", "%s|ping", { qos = 1 }) return end
          publish("it/handled", "%s|" .. p, { qos = 1 })
        end, { qos = 1 })
      ]]):format(filter, v, v)
    end
    util.write(dir .. "/rules/swap.lua", rule("v1", "it/a/+"))
    start("-V " .. proto)
    client("it/handled")
    assert.is_truthy(ask("it/a/ping", "", "it/handled", function(x) return x == "v1|ping" end))
    got = {}
    local N, sent, saved_at = 6000, 0, nil
    local function handled() return #(got["it/handled"] or {}) end
    while sent < N do
      for _ = 1, math.min(100, N - sent) do
        sent = sent + 1
        assert(c:publish("it/a/s", tostring(sent), 1))
      end
      if not saved_at and sent >= 2000 then
        save(dir .. "/rules/swap.lua", rule("v2", "it/a/#"))
        saved_at = sent
      end
      assert.is_true(pump(10000, function() return handled() >= sent - 500 end),
                     "the host keeps up (" .. handled() .. " of " .. sent .. ")")
    end
    assert.is_true(pump(15000, function() return handled() >= N end), "all handled")
    pump(500) -- a duplicate would come now
    local seen, by, last_v1, first_v2 = {}, { v1 = 0, v2 = 0 }, 0, math.huge
    for _, p in ipairs(got["it/handled"]) do
      local v, n = p:match("^(v%d)|(%d+)$")
      n = tonumber(n)
      assert.is_not_nil(n, "a stream answer: " .. p)
      assert.is_nil(seen[n], "message " .. n .. " handled twice")
      seen[n] = v
      by[v] = by[v] + 1
      if v == "v1" then last_v1 = math.max(last_v1, n) else first_v2 = math.min(first_v2, n) end
    end
    for n = 1, N do assert.is_not_nil(seen[n], "message " .. n .. " handled") end
    assert.are.equal(N, by.v1 + by.v2)
    assert.is_true(by.v2 > 0 and by.v1 >= saved_at - 500, ("v1 %d, v2 %d"):format(by.v1, by.v2))
    assert.is_true(last_v1 < first_v2, ("v1 up to %d, v2 from %d"):format(last_v1, first_v2))
    assert.matches("%[swap%] reloaded", log())
    if proto == "5" then
      assert.matches("dispatch: one Subscription Identifier per filter", log())
    else
      assert.matches("dispatch: a non%-overlapping cover", log())
    end
    -- a/x/y now reaches v2 (a/# is live), and it/a/+ is gone: one answer
    got = {}
    assert.is_truthy(ask("it/a/ping", "", "it/handled", function(x) return x == "v2|ping" end))
    pump(300)
    local pings = 0
    for _, p in ipairs(got["it/handled"]) do if p == "v2|ping" then pings = pings + 1 end end
    assert.is_true(pings >= 1)
    assert.are.equal(#got["it/handled"], pings, "no other answers")
  end)
  end

  it("keeps the old version when an edit does not load, and names file:line", function()
    local function rule(v, extra)
      return ([[
        on("it/ver", function() publish("it/v", "%s", { qos = 1 }) end, { qos = 1 })
        %s
      ]]):format(v, extra or "")
    end
    util.write(dir .. "/rules/v.lua", rule("one"))
    start()
    client("it/v")
    local function answers(want)
      got = {}
      return ask("it/ver", "", "it/v", function(x) return x == want end) == want
    end
    assert.is_true(answers("one"))
    -- a syntax error on line 2
    save(dir .. "/rules/v.lua", rule("two", "local = oops"))
    assert.is_truthy(log_has("reload failed, the previous version keeps running: [^\n]*/rules/v%.lua:2:"))
    assert.is_true(answers("one"), "v1 still answers after a syntax error")
    -- an error while the top level runs, on line 2
    save(dir .. "/rules/v.lua", rule("three", "error('top level fails')"))
    assert.is_truthy(log_has("keeps running: [^\n]*/rules/v%.lua:2: top level fails"))
    assert.is_true(answers("one"), "v1 still answers after a runtime error at load")
    save(dir .. "/rules/v.lua", rule("four"))
    assert.is_true(answers("four"), "a good edit then takes over")
  end)

  it("watches the directory: a new file, a rename over, a delete are seen at once", function()
    -- a poll every 100 s (20 x 5 s): anything quicker is inotify's
    start("--scan-ms 5000")
    client("it/w")
    assert.is_truthy(log_has("%[host%] connected"))
    local rule = [[on("it/wq", function() publish("it/w", "%s", { qos = 1 }) end, { qos = 1 })]]
    local function answers(want)
      got = {}
      return ask("it/wq", "", "it/w", function(x) return x == want end, 1500) == want
    end
    local t = clock()
    util.write(dir .. "/rules/w.lua", rule:format("created")) -- create, write, close
    assert.is_true(answers("created"), "a new file loads")
    save(dir .. "/rules/w.lua", rule:format("renamed"))     -- an editor's save
    assert.is_true(answers("renamed"), "a file renamed over reloads")
    os.remove(dir .. "/rules/w.lua")
    assert.is_truthy(log_has("%[w%] unloaded", 1500), "a deleted file unloads")
    assert.is_true(clock() - t < 4000, "all within the poll interval")
    assert.is_nil(log():find("polling"), "no fallback to polling")
  end)

  -- A handler-set timer (on_timer names its callback), a timer declared at
  -- the top level, and state; returns the script.
  local TIMER_RULE = [[
    on_timer("later", function() publish("it/t", "later " .. tostring(state.n), { qos = 1 }) end)
    after("declared", 4, function() publish("it/t", "declared", { qos = 1 }) end)
    on("it/arm", function(p)
      state.n = tonumber(p)
      after("later", 3)
      publish("it/t", "armed", { qos = 1 })
    end, { qos = 1 })
  ]]

  local function restart_keeps_timers(sig)
    util.write(dir .. "/rules/t.lua", TIMER_RULE)
    start()
    client("it/t")
    assert.is_truthy(log_has("%[t%] loaded"))
    local loaded = clock() -- "declared" is due 4 s after its load, a little before this
    local armed = ask("it/arm", "42", "it/t", function(x) return x == "armed" end)
    local t0 = clock()      -- "later" is due 3 s after the handler ran, a little before this
    assert.are.equal("armed", armed)
    -- the deadline is on disk once the batch is done
    assert.is_truthy(until_(3000, function()
      local s = util.read(dir .. "/rules/.state/t.timers.json") or ""
      return s:find('"later"') and s:find('"declared"')
    end), "timers saved")
    stop(sig)
    -- down for a while: a timer re-armed from the restart would be late
    pump(math.max(0, t0 + 1000 - clock()))
    got = {}
    start()
    assert.is_true(pump(6000, function() return #(got["it/t"] or {}) >= 1 end), "a timer fired")
    local at = clock() - t0
    assert.are.same({ "later 42" }, got["it/t"])
    -- its original deadline, 3 s after it was set: not at once on restart,
    -- not 3 s after the restart
    assert.is_true(at > 2700 and at < 3600, ("fired %.0f ms after being set"):format(at))
    assert.is_true(pump(3000, function() return #got["it/t"] >= 2 end), "the declared one too")
    at = clock() - loaded
    assert.are.equal("declared", got["it/t"][2])
    assert.is_true(at > 3500 and at < 4600, ("declared fired %.0f ms after the load"):format(at))
    assert.matches('timer "later" restored', log())
    assert.matches('"n":42', util.read(dir .. "/rules/.state/t.json"))
  end

  it("restores state and pending timers after SIGTERM, at their deadlines", function()
    restart_keeps_timers(15)
    assert.matches("signal 15: stopping", log())
  end)

  it("restores state and pending timers after kill -9, at their deadlines", function()
    restart_keeps_timers(9)
    assert.is_nil(log():find("signal 9"))
  end)

  it("says a handler timer without on_timer cannot come back", function()
    util.write(dir .. "/rules/t.lua", [[
      on("it/arm", function() after("lost", 30, function() end); publish("it/t", "armed", { qos = 1 }) end,
         { qos = 1 })
    ]])
    start()
    client("it/t")
    assert.are.equal("armed", ask("it/arm", "", "it/t", function(x) return x == "armed" end))
    assert.is_truthy(until_(3000, function()
      return (util.read(dir .. "/rules/.state/t.timers.json") or ""):find('"lost"')
    end))
    stop(15)
    start()
    assert.is_truthy(log_has('timer "lost" was pending [^\n]*on_timer%("lost", fn%)'))
  end)

  it("keeps numeric keys and every savable key across kill -9, refusing a function by name", function()
    util.write(dir .. "/rules/s.lua", [[
      state.hours = state.hours or {}
      on("it/count", function(p)
        local h = tonumber(p)
        state.hours[h] = (state.hours[h] or 0) + 1
        state.list = { "a", "b" }
        state.cb = function() end            -- cannot be kept: refused, the rest saved
        state.mixed = { 1, 2, name = "x" }
        publish("it/s", "counted " .. p, { qos = 1 })
      end, { qos = 1 })
      on("it/ask", function()
        publish("it/s", ("h0=%s h13=%s list=%s mixed=%s,%s cb=%s"):format(tostring(state.hours[0]),
          tostring(state.hours[13]), table.concat(state.list or {}, ","), tostring((state.mixed or {})[2]),
          tostring((state.mixed or {}).name), type(state.cb)), { qos = 1 })
      end, { qos = 1 })
    ]])
    start()
    client("it/s")
    assert.is_truthy(ask("it/count", "0", "it/s", function(x) return x == "counted 0" end))
    assert.is_truthy(ask("it/count", "13", "it/s", function(x) return x == "counted 13" end))
    assert.is_truthy(log_has("%[s%] state%.cb: a function cannot be saved"))
    assert.is_truthy(until_(3000, function()
      return (util.read(dir .. "/rules/.state/s.json") or ""):find("13")
    end), "state saved")
    stop(9)
    got = {}
    start()
    local p = ask("it/ask", "", "it/s", function(x) return x:match("^h0=") end)
    assert.are.equal("h0=1 h13=1 list=a,b mixed=2,x cb=nil", p)
  end)

  it("refuses a second host on the same state directory, with a clear error", function()
    util.write(dir .. "/rules/b.lua", [[
      on("it/press", function() state.on = not state.on; publish("it/b", tostring(state.on), { qos = 1 }) end,
         { qos = 1 })
    ]])
    start()
    client("it/b")
    assert.is_truthy(log_has("%[b%] loaded"))
    local t0 = clock()
    local rc = os.execute(("env -u LUNAMQ_LIBRARY -u LUNAMQ_CDEF '%s' host '%s/rules' --port %d --run-for-ms 10000 2>'%s/second.log'")
                          :format(CLI, dir, b.port, dir))
    assert.is_true(clock() - t0 < 5000, "the second host stopped at once")
    assert.are_not.equal(0, rc)
    assert.matches("the state directory .*/rules/%.state is in use by another lunamq host %(pid " .. pid .. "%)",
                   util.read(dir .. "/second.log"))
    -- one press, one toggle
    assert.are.equal("true", ask("it/press", "", "it/b", function(x) return x == "true" end))
    pump(300)
    assert.are.same({ "true" }, got["it/b"])
    -- the first one gone (even by kill -9), the lock goes with it
    stop(9)
    start()
    assert.is_truthy(log_has("connected"))
    assert.is_nil(log():find("in use by another"))
  end)

  it("stops a runaway handler, reports it, disables it, and keeps serving", function()
    util.write(dir .. "/rules/spin.lua", [[
      on("it/spin", function() local n = 0 while true do n = n + 1 end end)
      on("it/echo", function(p) publish("it/e", "echo " .. p, { qos = 1 }) end, { qos = 1 })
    ]])
    start("--bound-ms 200 --max-errors 2")
    client("it/e")
    assert.are.equal("echo 1", ask("it/echo", "1", "it/e", function(x) return x == "echo 1" end))
    local t = clock()
    assert(c:publish("it/spin", "x", 1))
    assert.is_truthy(log_has("handler spin%.lua:1 %(it/spin%) failed %(1 calls, 1 errors%): [^\n]*ran longer than 200 ms"))
    assert.is_true(clock() - t < 3000, "stopped near its bound")
    assert.are.equal("echo 2", ask("it/echo", "2", "it/e", function(x) return x == "echo 2" end))
    assert(c:publish("it/spin", "y", 1))
    assert.is_truthy(log_has("disabled after 2 errors in a row"))
    assert.are.equal("echo 3", ask("it/echo", "3", "it/e", function(x) return x == "echo 3" end))
  end)

  -- Issue 7: the host hands handler errors to its C plugins, and the
  -- metrics plugin (--plugin, here through --config for its port) serves
  -- them as lunamq_app_events_total.
  it("counts handler errors, runaways and disables in the metrics plugin", function()
    local so = (os.getenv("LUNAMQ_PLUGIN_DIR") or "build/plugins") .. "/metrics/lunamq_metrics.so"
    util.write(dir .. "/rules/bad.lua", [[
      on("it/bad", function() error("boom") end)
      on("it/spin", function() while true do end end)
      on("it/echo", function(p) publish("it/e", "echo " .. p, { qos = 1 }) end, { qos = 1 })
    ]])
    util.write(dir .. "/host.conf", ("plugins = { { path = %q, config = %q } }\n")
                                   :format(so, "port=0 port_file=" .. dir .. "/metrics.port"))
    start(("--config '%s/host.conf' --bound-ms 200 --max-errors 2"):format(dir))
    client("it/e")
    assert.are.equal("echo 1", ask("it/echo", "1", "it/e", function(x) return x == "echo 1" end))
    local port = tonumber(util.read(dir .. "/metrics.port") or "")
    assert.is_not_nil(port)
    assert(c:publish("it/bad", "x", 1))
    assert.is_truthy(log_has("it/bad%) failed %(1 calls, 1 errors%)"))
    assert(c:publish("it/spin", "x", 1))
    assert.is_truthy(log_has("it/spin%) failed %(1 calls, 1 errors%)"))
    assert(c:publish("it/spin", "y", 1))
    assert.is_truthy(log_has("disabled after 2 errors in a row"))
    local function scrape()
      -- (not with the ASan runtime a sanitized run preloads: curl hangs in it)
      local f = io.popen(("env -u LD_PRELOAD curl -s --max-time 5 http://127.0.0.1:%d/metrics"):format(port))
      local text = f:read("*a")
      f:close()
      return text
    end
    local text = until_(5000, function()
      local t = scrape()
      return t:find('lunamq_app_events_total{name="host_handler_disabled"}', 1, true) and t
    end)
    assert.is_truthy(text, "metrics show the disable")
    assert.truthy(text:find('\nlunamq_app_events_total{name="host_handler_errors"} 3\n', 1, true))
    assert.truthy(text:find('\nlunamq_app_events_total{name="host_handler_runaway"} 2\n', 1, true))
    assert.truthy(text:find('\nlunamq_app_events_total{name="host_handler_disabled"} 1\n', 1, true))
  end)

  -- MQTT 5: mosquitto sends a copy per matching subscription, told apart by
  -- their Subscription Identifiers; 3.1.1: one copy ([MQTT-3.3.5-1]); MQTT 5
  -- without identifiers: a cover in which no two filters overlap, one copy.
  for _, proto in ipairs { "5", "311", "5 --no-sub-ids" } do
  it("dispatches 1,000 patterns as lmq_topic_matches says (MQTT " .. proto .. ")", function()
    -- deterministic: a small LCG
    local seed = 12345
    local function rnd(n) -- Park-Miller: exact in doubles
      seed = (seed * 16807) % 2147483647
      return seed % n + 1
    end
    local words = { "a", "b", "c", "d", "e" }
    local filters, have = {}, {}
    while #filters < 1000 do
      local parts, depth = { "pt" }, rnd(4)
      for i = 1, depth do
        local r = rnd(10)
        if r <= 3 then parts[#parts + 1] = "+"
        elseif r == 4 and i == depth then parts[#parts + 1] = "#"
        else parts[#parts + 1] = words[rnd(#words)] end
      end
      local f = table.concat(parts, "/")
      if not have[f] then have[f] = true; filters[#filters + 1] = f end
    end
    local src = { "local F = {" }
    for i, f in ipairs(filters) do src[#src + 1] = ("  [%d] = %q,"):format(i, f) end
    src[#src + 1] = "}"
    src[#src + 1] = [[
      for i, f in ipairs(F) do
        on(f, function(p, topic) publish("it/hit", i .. " " .. topic, { qos = 1 }) end, { qos = 1 })
      end
      on("it/done", function(p) publish("it/hit", "done " .. p, { qos = 1 }) end, { qos = 1 })
    ]]
    util.write(dir .. "/rules/many.lua", table.concat(src, "\n"))
    start("-V " .. proto)
    client("it/hit")
    assert.is_truthy(ask("it/done", "0", "it/hit", function(x) return x == "done 0" end))
    got = {}
    local topics, expect, total = {}, {}, 0
    for k = 1, 200 do
      local parts = { "pt" }
      for _ = 1, rnd(5) do parts[#parts + 1] = words[rnd(#words)] end
      local t = table.concat(parts, "/")
      topics[k] = t
      for i, f in ipairs(filters) do
        if lunamq.topic_matches(f, t) then
          expect[i .. " " .. t] = (expect[i .. " " .. t] or 0) + 1
          total = total + 1
        end
      end
      assert(c:publish(t, "", 1))
      if k % 20 == 0 then pump(100) end
    end
    assert(c:publish("it/done", "1", 1))
    assert.is_true(pump(20000, function()
      for _, p in ipairs(got["it/hit"] or {}) do if p == "done 1" then return true end end
    end), "the end marker came back")
    pump(300)
    local seen, n = {}, 0
    for _, p in ipairs(got["it/hit"]) do
      if not p:match("^done") then
        seen[p] = (seen[p] or 0) + 1
        n = n + 1
      end
    end
    assert.is_true(total > 500, "a sample that reaches many handlers (" .. total .. ")")
    for k, v in pairs(expect) do assert.are.equal(v, seen[k], "handler " .. k) end
    for k in pairs(seen) do assert.is_not_nil(expect[k], "handler " .. k .. " should not have run") end
    assert.are.equal(total, n)
  end)
  end
end)
