-- bench_host.lua - `scripts/bench host`: what the rule host costs.
--
--   luajit tests/bench/bench_host.lua --cli BUILD/core/cli/lunamq [--json FILE] [--quick]
--   (LUNAMQ_LIBRARY and LUNAMQ_CDEF name the build, as for the specs)
--
-- 1. CPU per message through a local mosquitto: `lunamq host` with a
--    trivial handler (a counter), 1 pattern and 1,000 patterns (the stream
--    spread over 1,000 topics bench/<i>/x, each matched by one of the 1,000
--    filters bench/<i>/+, or all by the one bench/+/+), beside a peer that only receives the same stream
--    (`lunamq sub --count-only`): the baseline cost of receiving.  CPU is
--    user + sys from /proc for the host over the stream, GNU time for the
--    peer (its whole life, start included); QoS 0, one publisher.
-- 2. In-process dispatch: messages fed to lunamq.runtime's deliver()
--    without the network (a fake transport), 1 vs 1,000 patterns, over
--    1,000 topics and over 100,000 distinct topics.
-- 3. Save to active: a script saved by rename (as editors do) until its
--    new version's top level has published (seen by a client through the
--    broker); median and max of N edits, with inotify and with polling
--    (--watch poll, the default 250 ms scan).
local ROOT = debug.getinfo(1, "S").source:sub(2):match("^(.*)/tests/bench/[^/]*$") or "."
package.path = ROOT .. "/lua/?.lua;" .. ROOT .. "/tests/lua/spec/?.lua;" .. package.path

local lunamq = require "lunamq"
local runtime = require "lunamq.runtime"
local broker = require "helpers.broker"
local util = require "helpers.util"
local ffi = require "ffi"
local cjson = require "cjson"

pcall(ffi.cdef, [[
int kill(int pid, int sig);
int rename(const char *from, const char *to);
long sysconf(int name);
]])

local opts = { json = nil, quick = false, cli = nil }
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    if a == "--json" then opts.json = arg[i + 1]; i = i + 1
    elseif a == "--cli" then opts.cli = arg[i + 1]; i = i + 1
    elseif a == "--quick" then opts.quick = true
    else io.stderr:write("bench_host: unknown argument " .. a .. "\n"); os.exit(2) end
    i = i + 1
  end
end
assert(opts.cli, "--cli names the lunamq binary")

local clock = lunamq.monotonic_ms
local N_STREAM = opts.quick and 20000 or 200000
local N_DISPATCH = opts.quick and 50000 or 500000
local N_EDITS = opts.quick and 5 or 21
local TICK = tonumber(ffi.C.sysconf(2)) -- _SC_CLK_TCK

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

-- user + sys of a process, in ms.
local function cpu_ms(pid)
  local s = util.read("/proc/" .. pid .. "/stat")
  if not s then return nil end
  local rest = s:match("%) (.*)$")
  local f = {}
  for w in rest:gmatch("%S+") do f[#f + 1] = w end
  -- fields after "(comm) ": state is 1, utime 12, stime 13
  return (tonumber(f[12]) + tonumber(f[13])) * 1000 / TICK
end

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

local b = assert(broker.start())
local tmp = util.tmpdir()
local host_pid
local function cleanup()
  if host_pid then ffi.C.kill(host_pid, 9) end
  host_pid = nil
  b:stop()
  util.rmrf(tmp)
end

-- The rule for n patterns: filters bench/<i>/+ (or bench/+/+ for one), a
-- counter as the handler; bench/ctl answers with the count.
local function rule(n)
  local src = { "local n = 0", "local function count() n = n + 1 end" }
  if n == 1 then
    src[#src + 1] = 'on("bench/+/+", count)'
  else
    src[#src + 1] = ("for i = 1, %d do on(\"bench/\" .. i .. \"/+\", count) end"):format(n)
  end
  src[#src + 1] = 'on("bench/ctl", function(p) publish("bench/count", p .. " " .. n, { qos = 1 }) end, { qos = 1 })'
  return table.concat(src, "\n") .. "\n"
end

local function start_host(dir, args)
  os.execute("mkdir -p '" .. dir .. "'")
  assert(os.execute(("env -u LUNAMQ_LIBRARY -u LUNAMQ_CDEF '%s' host '%s' --port %d %s 2>>'%s.log' & echo $! > '%s.pid'")
                    :format(opts.cli, dir, b.port, args or "-q", dir, dir)))
  host_pid = tonumber(util.read(dir .. ".pid"))
end
local function stop_host()
  ffi.C.kill(host_pid, 15)
  local p = host_pid
  host_pid = nil
  local deadline = clock() + 5000
  while ffi.C.kill(p, 0) == 0 and clock() < deadline do os.execute("sleep 0.01") end
end

local function new_client(sub)
  local c = assert(lunamq.new { host = b.host, port = b.port, reconnect = false, protocol = 5 })
  assert(c:connect())
  assert(c:wait(function(e) return e.type == "connected" end, 3000))
  if sub then
    assert(c:subscribe(sub, 1))
    assert(c:wait(function(e) return e.type == "subscribed" end, 3000))
  end
  return c
end

-- The host's count, asked with a tag; nil after ms.
local ctl_seq = 0
local function host_count(c, ms)
  ctl_seq = ctl_seq + 1
  local tag = tostring(ctl_seq)
  local deadline = clock() + (ms or 2000)
  while clock() < deadline do
    assert(c:publish("bench/ctl", tag, 1))
    local ev = c:wait(function(e)
      return e.type == "message" and e.topic == "bench/count" and e.payload:match("^(%S+)") == tag
    end, 200)
    if ev then return tonumber(ev.payload:match(" (%d+)$")) end
  end
end

-- ------------------------------------------------------------ 1. stream

local function stream(patterns)
  local dir = ("%s/stream%d"):format(tmp, patterns)
  os.execute("mkdir -p '" .. dir .. "'")
  util.write(dir .. "/bench.lua", rule(patterns))
  start_host(dir)
  local c = new_client("bench/count")
  assert(host_count(c, 8000), "the host answers")
  -- the peer: counts what bench/+/+ brings, then exits
  local peer_out = dir .. ".peer"
  assert(os.execute(("env -u LUNAMQ_LIBRARY -u LUNAMQ_CDEF /usr/bin/time -f '%%U %%S' -o '%s.time' '%s' sub -p %d -t 'bench/+/+' -q 0 --count-only --json -C %d -W 120 >'%s' 2>/dev/null &")
                    :format(peer_out, opts.cli, b.port, N_STREAM, peer_out)))
  -- (the peer's SUBACK cannot be seen from here: a moment to subscribe)
  c:wait(function() return false end, 700)
  local topics = {}
  for i = 1, 1000 do topics[i] = "bench/" .. i .. "/x" end
  local payload = ("x"):rep(16)
  local before = cpu_ms(host_pid)
  local t0 = clock()
  local sent = 0
  while sent < N_STREAM do
    for _ = 1, 500 do
      sent = sent + 1
      local ok = c:publish(topics[(sent - 1) % 1000 + 1], payload, 0)
      if not ok then
        c:step(5)
        sent = sent - 1
      end
    end
    c:step(0)
  end
  -- all handled: the host's count reaches N (ctl comes after the stream)
  local got
  local deadline = clock() + 60000
  repeat got = host_count(c, 2000) until (got and got >= N_STREAM) or clock() > deadline
  local elapsed = clock() - t0
  local after = cpu_ms(host_pid)
  -- the peer's end
  local pdeadline = clock() + 30000
  local ptime
  repeat
    ptime = util.read(peer_out .. ".time")
    if not (ptime and ptime:match("%d")) then os.execute("sleep 0.05") end
  until (ptime and ptime:match("%d")) or clock() > pdeadline
  local pu, ps = (ptime or ""):match("([%d.]+) ([%d.]+)")
  local peer_cpu = pu and (tonumber(pu) + tonumber(ps)) * 1000
  local peer = cjson.decode((util.read(peer_out) or ""):match("(%b{})%s*$") or "{}")
  local peer_n = peer.count or peer.messages or peer.received or N_STREAM
  c:close()
  stop_host()
  local host_cpu = after - before
  return {
    patterns = patterns, messages = N_STREAM, handled = got, lost = N_STREAM - (got or 0),
    host_cpu_ms = host_cpu, host_us_per_msg = host_cpu * 1000 / N_STREAM,
    peer_cpu_ms = peer_cpu, peer_messages = peer_n,
    peer_us_per_msg = peer_cpu and peer_cpu * 1000 / peer_n,
    ratio_to_peer = peer_cpu and (host_cpu / N_STREAM) / (peer_cpu / peer_n),
    stream_msgs_per_s = N_STREAM / (elapsed / 1000),
  }
end

-- --------------------------------------------------------- 2. in-process

local function dispatch(patterns, ntopics, bound_ms)
  local dir = ("%s/disp%d_%d_%s"):format(tmp, patterns, ntopics, tostring(bound_ms))
  os.execute("mkdir -p '" .. dir .. "'")
  util.write(dir .. "/bench.lua", rule(patterns))
  local rt = runtime.new { dir = dir, transport = util.fake_transport(), log = function() end,
                           bound_ms = bound_ms }
  rt:scan()
  local msgs = {}
  -- bench/<1..1000>/x<k>: each matched by one of the 1,000 filters, or
  -- by the one; ntopics distinct topics in all
  for i = 1, math.min(ntopics, N_DISPATCH) do
    msgs[i] = { topic = ("bench/%d/x%d"):format((i - 1) % 1000 + 1, math.floor((i - 1) / 1000)),
                payload = "x", qos = 0, retain = false }
  end
  local m = #msgs
  -- warm up (and compile the host's own code paths)
  for i = 1, math.min(m, 20000) do rt:deliver(msgs[i]) end
  local t0 = clock()
  for i = 1, N_DISPATCH do rt:deliver(msgs[(i - 1) % m + 1]) end
  local dt = clock() - t0
  rt:close()
  return { patterns = patterns, topics = ntopics, messages = N_DISPATCH, bound_ms = bound_ms,
           msgs_per_s = N_DISPATCH / (dt / 1000), us_per_msg = dt * 1000 / N_DISPATCH }
end

-- ----------------------------------------------------- 3. save to active

local function save_to_active(watch)
  local dir = ("%s/edit_%s"):format(tmp, watch)
  os.execute("mkdir -p '" .. dir .. "'")
  local function version(k)
    return ('publish("bench/ver", "%d", { qos = 1 })\non("bench/none", function() end)\n'):format(k)
  end
  util.write(dir .. "/e.lua", version(0))
  start_host(dir, "-q --watch " .. watch)
  local c = new_client("bench/ver")
  -- wait until the host is up (its first version's message may predate us)
  assert(c:wait(function() return false end, 1000) == nil)
  local times = {}
  for k = 1, N_EDITS do
    util.write(dir .. "/e.lua.tmp~", version(k))
    local t0 = clock()
    assert(ffi.C.rename(dir .. "/e.lua.tmp~", dir .. "/e.lua") == 0)
    local ev = c:wait(function(e) return e.type == "message" and e.payload == tostring(k) end, 5000)
    assert(ev, "version " .. k .. " became active")
    times[#times + 1] = clock() - t0
    -- edits a little apart, at a varying phase of the poll
    -- (c:wait's predicate sees events only: the timeout is the gap)
    c:wait(function() return false end, 5 + (k * 0.6180339887 % 1) * 250)
  end
  c:close()
  stop_host()
  local mx = 0
  for _, v in ipairs(times) do mx = math.max(mx, v) end
  return { watch = watch, edits = N_EDITS, median_ms = median(times), max_ms = mx }
end

local ok, err = pcall(function()
  local doc = { suite = "host", quick = opts.quick, broker = sh("/usr/sbin/mosquitto -h 2>/dev/null | head -1"):gsub("%s+$", "") }
  doc.stream = { stream(1), stream(1000) }
  print("CPU per message through mosquitto (QoS 0, 16-byte payloads, a counter as the handler)")
  print(("%-10s %10s %12s %12s %10s %8s"):format("patterns", "messages", "host us/msg", "peer us/msg", "host/peer", "lost"))
  for _, r in ipairs(doc.stream) do
    print(("%-10d %10d %12.2f %12.2f %10.2f %8d"):format(r.patterns, r.messages, r.host_us_per_msg,
      r.peer_us_per_msg or 0, r.ratio_to_peer or 0, r.lost))
  end
  doc.stream_1000_over_1 = doc.stream[2].host_us_per_msg / doc.stream[1].host_us_per_msg
  print(("1,000 patterns / 1 pattern, host CPU per message: %.2f"):format(doc.stream_1000_over_1))
  doc.dispatch = { dispatch(1, 1000), dispatch(1000, 1000), dispatch(1, 100000), dispatch(1000, 100000) }
  print("\nIn-process dispatch (runtime:deliver, no network)")
  print(("%-10s %10s %14s %10s"):format("patterns", "topics", "msgs/s", "us/msg"))
  for _, r in ipairs(doc.dispatch) do
    print(("%-10d %10d %14.0f %10.3f"):format(r.patterns, r.topics, r.msgs_per_s, r.us_per_msg))
  end
  -- the runaway bound's share (lunamq.guard): the same, with --bound-ms 0,
  -- alternated with the bounded one so both see the same machine
  local on, off = {}, {}
  for k = 1, 5 do
    on[k] = dispatch(1, 1000).us_per_msg
    off[k] = dispatch(1, 1000, 0).us_per_msg
  end
  table.sort(on)
  table.sort(off)
  doc.dispatch_bound = { bounded_us_per_msg = on[3], unbounded_us_per_msg = off[3],
                         ratio = on[3] / off[3] }
  print(("1 pattern, 1,000 topics: %.3f us/msg bounded (1 s), %.3f with no bound: %.2fx (medians of 5)")
        :format(on[3], off[3], on[3] / off[3]))
  doc.save_to_active = { save_to_active("inotify"), save_to_active("poll") }
  print("\nSave (rename over) to new version active, seen through the broker")
  print(("%-10s %8s %12s %10s"):format("watch", "edits", "median ms", "max ms"))
  for _, r in ipairs(doc.save_to_active) do
    print(("%-10s %8d %12.1f %10.1f"):format(r.watch, r.edits, r.median_ms, r.max_ms))
  end
  if opts.json then
    util.write(opts.json, cjson.encode(doc) .. "\n")
  end
end)
cleanup()
if not ok then
  io.stderr:write("bench_host: " .. tostring(err) .. "\n")
  os.exit(1)
end
