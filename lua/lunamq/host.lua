-- lunamq.host - `lunamq host DIR`: run the rule scripts in DIR against a
-- broker, reloading them as they change.
--
--   luajit lua/lunamq/host.lua DIR [options]
--     --url URL          mqtt://[user:pass@]host[:port] (default mqtt://127.0.0.1)
--     --host H --port P  instead of --url
--     --client-id ID     (default: lunamq-host-<pid>)
--     --protocol N       3, 4 or 5 (default 5)
--     --state DIR        where state is kept (default DIR/.state)
--     --bound-ms N       longest a handler may run (default 1000; 0: no bound)
--     --max-errors N     errors in a row before a handler is disabled (default 5)
--     --scan-ms N        how often DIR is looked at (default 250)
--     --run-for-ms N     quit after N ms (tests, demos)
--     -q                 only warnings and errors
--
-- The same code runs embedded: a C main that creates a LuaJIT state, puts
-- lua/ on package.path and calls require("lunamq.host").main(argv).
--
-- SIGINT and SIGTERM arrive on a signalfd polled with the client, so the
-- host stops between two batches: state saved, DISCONNECT sent.
--
-- One loop, the external driver: the client's fd is polled with a timeout
-- that is the nearest of the client's own deadline, the next script timer
-- and the next directory scan; after each wake-up the pending events are
-- pulled in batches and delivered, then due timers run, state is flushed,
-- and (between two batches, so nothing is lost) the directory is scanned.
local M = {}

local function usage(msg)
  io.stderr:write((msg and (msg .. "\n") or "") ..
    "usage: lunamq host DIR [--url URL | --host H --port P] [--client-id ID]\n" ..
    "       [--protocol 3|4|5] [--state DIR] [--bound-ms N] [--max-errors N]\n" ..
    "       [--scan-ms N] [--run-for-ms N] [-q]\n")
  return 2
end

function M.parse(args)
  local o = { scan_ms = 250, protocol = 5 }
  local i = 1
  local numeric = { ["--port"] = "port", ["--bound-ms"] = "bound_ms",
                    ["--max-errors"] = "max_errors", ["--scan-ms"] = "scan_ms",
                    ["--run-for-ms"] = "run_for_ms", ["--protocol"] = "protocol" }
  local text = { ["--url"] = "url", ["--host"] = "host", ["--client-id"] = "client_id",
                 ["--state"] = "state_dir" }
  while i <= #args do
    local a = args[i]
    if numeric[a] or text[a] then
      local v = args[i + 1]
      if v == nil then return nil, a .. " needs a value" end
      if numeric[a] then
        v = tonumber(v)
        if not v then return nil, a .. " needs a number" end
        o[numeric[a]] = v
      else
        o[text[a]] = v
      end
      i = i + 2
    elseif a == "-q" then
      o.quiet = true
      i = i + 1
    elseif a == "-h" or a == "--help" then
      return nil
    elseif a:sub(1, 1) == "-" then
      return nil, "unknown option " .. a
    elseif not o.dir then
      o.dir = a
      i = i + 1
    else
      return nil, "one directory only"
    end
  end
  if not o.dir then return nil, "no script directory" end
  o.dir = o.dir:gsub("/+$", "")
  o.state_dir = o.state_dir or (o.dir .. "/.state")
  return o
end

local function make_logger(quiet)
  return function(level, script, msg)
    if quiet and (level == "info" or level == "debug") then return end
    io.stderr:write(("%s %-5s [%s] %s\n"):format(os.date("!%Y-%m-%dT%H:%M:%SZ"),
                                                level, script or "host", msg))
    io.stderr:flush()
  end
end

function M.main(args)
  local o, err = M.parse(args)
  if not o then return usage(err) end
  local lunamq = require "lunamq"
  local sys = require "lunamq.sys"
  local runtime = require "lunamq.runtime"
  local log = make_logger(o.quiet)

  local copts = { protocol = o.protocol, reconnect = true, reconnect_first = true,
                  client_id = o.client_id or ("lunamq-host-" .. sys.getpid()) }
  if o.url then copts.url = o.url
  else
    copts.host = o.host or "127.0.0.1"
    copts.port = o.port or 1883
  end
  local client, cerr = lunamq.new(copts)
  if not client then return usage("client: " .. cerr) end

  local transport = {
    publish = function(topic, payload, qos, retain, props)
      return client:publish(topic, payload, { qos = qos, retain = retain, props = props })
    end,
    subscribe = function(list) return client:subscribe(list) end,
    unsubscribe = function(list) return client:unsubscribe(list) end,
  }
  local stat = sys.stat(o.dir)
  if not stat or not stat.dir then
    client:close()
    return usage(o.dir .. ": not a directory")
  end
  local made, rt = pcall(runtime.new, { dir = o.dir, state_dir = o.state_dir,
                                        reply_prefix = "lunamq/host/" .. copts.client_id .. "/reply",
                                        transport = transport, log = log,
                                        bound_ms = o.bound_ms, max_errors = o.max_errors })
  if not made then
    client:close()
    return usage("state directory: " .. tostring(rt))
  end
  rt:scan()
  local ok, msg = client:connect()
  if not ok then log("error", nil, "connect: " .. msg) end

  local clock = sys.monotonic_ms
  local stop_at = o.run_for_ms and clock() + o.run_for_ms
  local next_scan = clock() + o.scan_ms

  local sigfd, serr = sys.signal_fd()
  if not sigfd then log("warn", nil, "no signal fd (" .. serr .. "): SIGTERM is not clean") end

  local function loop()
    while true do
      for ev in client:events() do
        if ev.type == "message" then
          rt:deliver(ev)
        elseif ev.type == "connected" then
          log("info", nil, "connected" .. (ev.session_present and " (session present)" or ""))
        elseif ev.type == "connect_failed" or ev.type == "disconnected" then
          log("warn", nil, ("%s: %s %s"):format(ev.type, ev.errname or "", ev.text or ""))
        elseif ev.type == "subscribed" then
          for i, r in ipairs(ev.reasons or {}) do
            if r >= 0x80 then log("warn", nil, ("subscription %d refused: 0x%02x"):format(i, r)) end
          end
        elseif ev.type == "error" or ev.type == "log" then
          log(ev.type == "error" and "warn" or "debug", nil, ev.text or ev.errname or "")
        end
      end
      rt:run_timers()
      rt:flush()
      local now = clock()
      if now >= next_scan then
        rt:scan()
        next_scan = clock() + o.scan_ms
      end
      if stop_at and now >= stop_at then return end
      local wait = next_scan - now
      local t = rt:next_timer_in()
      if t and t < wait then wait = t end
      if stop_at and stop_at - now < wait then wait = stop_at - now end
      local _, signalled = client:step(math.max(0, math.ceil(wait)), sigfd)
      if signalled then
        log("info", nil, ("signal %s: stopping"):format(tostring(sys.read_signal(sigfd))))
        return
      end
    end
  end

  local lok, lerr = pcall(loop)
  rt:close()
  client:disconnect()
  -- let the DISCONNECT go out (bounded)
  client:wait(function(ev) return ev.type == "disconnected" end, 500)
  client:close()
  if not lok then
    log("error", nil, tostring(lerr))
    return 1
  end
  log("info", nil, "stopped")
  return 0
end

-- Run as a script: put this checkout's lua/ first on the path.
if ... ~= "lunamq.host" then
  local here = (arg and arg[0] or ""):match("^(.*)/lunamq/host%.lua$")
  if here then package.path = here .. "/?.lua;" .. package.path end
  os.exit(M.main(arg or {}))
end

return M
