-- lunamq.host - `lunamq host [DIR]`: run the rule scripts in DIR against a
-- broker, reloading them as they change.
--
--   lunamq host [DIR] [options]           (the `lunamq` program, LuaJIT embedded)
--   luajit lua/lunamq/host.lua [DIR] [options]     (the same, from a checkout)
--
-- DIR defaults to $XDG_CONFIG_HOME/lunamq/rules (~/.config/lunamq/rules).
-- Options (the connection flags are those of `lunamq pub` and `lunamq sub`):
--   --config FILE          a Lua file returning a table (or setting globals)
--                          whose keys are the option names below; flags given
--                          on the command line win over it
--   -L, --url URL          mqtt[s]://[user[:pass]@]host[:port]     (url)
--   -h, --host H           (host, default 127.0.0.1 when no URL)
--   --proxy URL            (proxy) socks5://, socks5h:// or http://[user:pass@]host:port
--   -p, --port P           (port, default 1883, 8883 with TLS)
--   -u, --username U       (username)
--   -P, --pw PASSWORD      (password)
--   -i, --id ID            (client_id, default lunamq-host-<pid>)
--   -V, --protocol-version 31|311|5|auto (protocol; also 3, 4, mqttv5...; default 5)
--   -k, --keepalive S      (keepalive)
--   --tls                  (tls = true) TLS with the system's CAs
--   --cafile F, --capath D, --cert F, --key F, --keypass S, --insecure,
--   --tls-version tlsv1.2|tlsv1.3, --tls-alpn LIST, --ciphers LIST
--                          (cafile, capath, cert, key, keypass, insecure,
--                          tls_version, alpn, ciphers; any of them turns TLS on)
--   --will-topic T, --will-payload P, --will-qos Q, --will-retain
--                          (will_topic, will_payload, will_qos, will_retain) the
--                          host connection's will, e.g. an availability "offline"
--   --scripts DIR          (scripts) the same as the DIR argument
--   --state-dir DIR        (state_dir, default DIR/.state)
--   --log-level L          (log_level) debug, info (default), warn or error;
--                          -q is warn, -d is debug (with the engine's own log)
--   --bound-ms N           (bound_ms) longest a handler may run (default 1000; 0: none)
--   --max-errors N         (max_errors) errors in a row before a handler is disabled (5)
--   --watch inotify|poll   (watch) how DIR is watched: inotify (the default;
--                          polling when the kernel refuses it) or poll
--   --scan-ms N            (scan_ms) how often DIR is polled (default 250;
--                          with inotify a full scan runs every 20 x N as well)
--   --run-for-ms N         (run_for_ms) quit after N ms (tests, demos)
--   --no-sub-ids           (no_sub_ids = true) MQTT 5 without a Subscription
--                          Identifier per filter (what the host does by itself
--                          when CONNACK says the broker has none): a cover of
--                          the filters in which none overlap is subscribed
--   --allow os,io          (allow = { "os", "io" }) libraries scripts may have
--                          besides the safe ones: os, io, package, debug
--   --plugin PATH          (plugins = { "a.so", { path = "b.so", config = "..." } })
--                          C plugins for the host's client (repeatable)
--   --location LAT,LON     (location = { lat =, lon = }) where sun() and
--                          at("sunset") are computed (degrees, north/east +)
--   (config only)          (settings = { ... }) what scripts read as `settings`
--   --secrets FILE         (secrets) a Lua table file, mode 0600, that scripts
--                          read as `secrets` (tokens stay out of rule files)
--   --loop-max N           (loop_max) publishes per second to its own filter
--                          before a handler is stopped as a loop (default 20)
--   --help-api             print the script API reference
--
-- Anything wrong in the flags or the config (an unknown flag or key, a bad
-- value, a missing directory) is one line on stderr and exit status 2,
-- before anything connects.  A broker that is down at start does not stop
-- the host: the engine retries (reconnect_first) and reconnects when lost,
-- timers keep running meanwhile and publishes wait in its offline queue.
--
-- The C main (core/cli/host.c) creates a LuaJIT state, puts lua/ on
-- package.path, preloads the cdef and calls require("lunamq.host").main(argv).
--
-- SIGINT and SIGTERM arrive on a signalfd polled with the client, so the
-- host stops between two batches: state saved, DISCONNECT sent.
--
-- One loop, the external driver: the client's fd is polled with a timeout
-- that is the nearest of the client's own deadline, the next script timer
-- and the next directory scan; after each wake-up the pending events are
-- pulled in batches and delivered, then due timers run, state is flushed,
-- and (between two batches, so nothing is lost) the directory is scanned.
local bit = require "bit"
local M = {}

M.USAGE = [==[
usage: lunamq host [DIR] [--config FILE] [-L URL | -h HOST -p PORT] [-u USER -P PASS]
       [--proxy socks5://|socks5h://|http://[USER:PASS@]HOST:PORT]
       [-i ID] [-V 31|311|5] [-k SECS] [--tls] [--cafile F] [--capath D] [--cert F --key F]
       [--keypass S] [--insecure] [--tls-version tlsv1.2|tlsv1.3] [--tls-alpn L] [--ciphers L]
       [--will-topic T [--will-payload P] [--will-qos Q] [--will-retain]]
       [--state-dir DIR] [--log-level debug|info|warn|error] [-q] [-d]
       [--bound-ms N] [--max-errors N] [--watch inotify|poll] [--scan-ms N] [--run-for-ms N]
       [--no-sub-ids] [--allow os,io,package,debug] [--plugin PATH]... [--location LAT,LON]
       [--secrets FILE] [--loop-max N]
       lunamq host --help-api      the script API reference (docs/host-api.md)
DIR: the rule scripts (*.lua), default $XDG_CONFIG_HOME/lunamq/rules (~/.config/lunamq/rules).
--config FILE: a Lua table with the same settings by name (url, host, port, proxy,
username, password, client_id, protocol, keepalive, tls, cafile, capath, cert, key, keypass,
insecure, tls_version, alpn, ciphers, will_topic, will_payload, will_qos, will_retain,
scripts, state_dir, log_level, bound_ms, max_errors, watch, scan_ms, run_for_ms, no_sub_ids, allow,
plugins, location = { lat =, lon = }, settings = { ... } (the scripts' settings table),
secrets, loop_max); flags win over it.
]==]

-- Value checkers: value (a flag's text, or a config value) -> value or nil, why.
local function int_in(lo, hi)
  return function(v)
    local n = tonumber(v)
    if not n or n ~= math.floor(n) or n < lo or (hi and n > hi) then
      return nil, ("needs a whole number%s"):format(hi and (" from %d to %d"):format(lo, hi)
                                                     or (" >= %d"):format(lo))
    end
    return n
  end
end
local function text(v)
  if type(v) ~= "string" or v == "" then return nil, "needs a non-empty string" end
  return v
end
local function flag(v)
  if type(v) ~= "boolean" then return nil, "needs true or false" end
  return v
end
local PROTOCOLS = { ["3"] = 3, ["31"] = 3, mqttv31 = 3, ["4"] = 4, ["311"] = 4, mqttv311 = 4,
                    ["5"] = 5, mqttv5 = 5, auto = 0, ["0"] = 0 }
local function protocol(v)
  local p = PROTOCOLS[tostring(v)]
  if not p then return nil, "needs 31, 311, 5 or auto" end
  return p
end
local LEVELS = { debug = 1, info = 2, warn = 3, error = 4 }
local function level(v)
  if not LEVELS[v] then return nil, "needs debug, info, warn or error" end
  return v
end
local TLS_VERSIONS = { ["tlsv1.2"] = 12, ["tlsv1.3"] = 13, ["12"] = 12, ["13"] = 13 }
local function tls_version(v)
  local t = TLS_VERSIONS[tostring(v)]
  if not t then return nil, "needs tlsv1.2 or tlsv1.3" end
  return t
end

-- allow: "os,io" (a flag) or { "os", "io" } (config): the libraries
-- scripts may have besides the safe ones.
local ALLOWABLE = { os = true, io = true, package = true, debug = true }
local function allow(v)
  local list = {}
  if type(v) == "string" then
    for k in v:gmatch("[^,%s]+") do list[#list + 1] = k end
  elseif type(v) == "table" then
    for _, k in ipairs(v) do list[#list + 1] = k end
  else
    return nil, "needs a list of os, io, package, debug"
  end
  for _, k in ipairs(list) do
    if not ALLOWABLE[k] then return nil, "needs a list of os, io, package, debug" end
  end
  return list
end
-- plugins: "path" (a flag, repeatable) or { "path", { path =, config = } }
-- (config): C plugins loaded into the host's client before it connects.
local function plugins(v)
  local list = {}
  if type(v) == "string" and v ~= "" then
    list[1] = { path = v }
  elseif type(v) == "table" then
    for _, p in ipairs(v) do
      if type(p) == "string" then
        list[#list + 1] = { path = p }
      elseif type(p) == "table" and type(p.path) == "string"
             and (p.config == nil or type(p.config) == "string") then
        list[#list + 1] = { path = p.path, config = p.config }
      else
        return nil, "needs a list of paths or { path =, config = } tables"
      end
    end
  else
    return nil, "needs a list of paths or { path =, config = } tables"
  end
  return list
end

-- location: "LAT,LON" (a flag) or { lat =, lon = } (config), degrees,
-- north and east positive: where sun() and at "sunset" are computed.
local function location(v)
  local lat, lon
  if type(v) == "string" then
    local a, b = v:match("^%s*([^,%s]+)%s*,%s*([^,%s]+)%s*$")
    lat, lon = tonumber(a), tonumber(b)
  elseif type(v) == "table" then
    lat, lon = v.lat, v.lon
    for k in pairs(v) do
      if k ~= "lat" and k ~= "lon" then return nil, "takes lat and lon only" end
    end
  end
  if type(lat) ~= "number" or type(lon) ~= "number" or lat < -90 or lat > 90 or lon < -180
     or lon > 180 then
    return nil, "needs a latitude -90..90 and a longitude -180..180 (LAT,LON or { lat =, lon = })"
  end
  return { lat = lat, lon = lon }
end

-- Every setting: its name (config key), its flags, its checker; a boolean
-- setting's flags take no value.
local SETTINGS = {
  { "url", { "-L", "--url" }, text },
  { "host", { "-h", "--host" }, text },
  { "proxy", { "--proxy" }, text },
  { "port", { "-p", "--port" }, int_in(1, 65535) },
  { "username", { "-u", "--username" }, text },
  { "password", { "-P", "--pw" }, text },
  { "client_id", { "-i", "--id", "--client-id" }, text },
  { "protocol", { "-V", "--protocol-version", "--protocol" }, protocol },
  { "keepalive", { "-k", "--keepalive" }, int_in(0, 65535) },
  { "tls", { "--tls" }, flag },
  { "cafile", { "--cafile" }, text },
  { "capath", { "--capath" }, text },
  { "cert", { "--cert" }, text },
  { "key", { "--key" }, text },
  { "keypass", { "--keypass" }, text },
  { "insecure", { "--insecure" }, flag },
  { "tls_version", { "--tls-version" }, tls_version },
  { "alpn", { "--tls-alpn", "--alpn" }, text },
  { "ciphers", { "--ciphers" }, text },
  { "will_topic", { "--will-topic" }, text },
  { "will_payload", { "--will-payload" }, function(v)
    if type(v) ~= "string" then return nil, "needs a string" end
    return v
  end },
  { "will_qos", { "--will-qos" }, int_in(0, 2) },
  { "will_retain", { "--will-retain" }, flag },
  { "scripts", { "--scripts" }, text },
  { "state_dir", { "--state-dir" }, text },
  { "log_level", { "--log-level" }, level },
  { "bound_ms", { "--bound-ms" }, int_in(0) },
  { "max_errors", { "--max-errors" }, int_in(1) },
  { "watch", { "--watch" }, function(v)
    if v ~= "inotify" and v ~= "poll" then return nil, "needs inotify or poll" end
    return v
  end },
  { "scan_ms", { "--scan-ms" }, int_in(10) },
  { "run_for_ms", { "--run-for-ms" }, int_in(0) },
  { "no_sub_ids", { "--no-sub-ids" }, flag },
  { "allow", { "--allow" }, allow },
  { "plugins", { "--plugin" }, plugins },
  { "location", { "--location" }, location },
  { "settings", {}, function(v)
    if type(v) ~= "table" then return nil, "needs a table" end
    return v
  end },
  { "secrets", { "--secrets" }, text },
  { "loop_max", { "--loop-max" }, int_in(1) },
}
local BY_FLAG, BY_KEY = {}, {}
for _, s in ipairs(SETTINGS) do
  BY_KEY[s[1]] = s
  for _, f in ipairs(s[2]) do BY_FLAG[f] = s end
end

-- The settings a --config file makes: a chunk in an empty environment that
-- returns a table or assigns globals.  nil, message on any problem.
-- A Lua file that returns a table or sets globals (the config, the
-- secrets), run in an empty environment: the table, or nil, message
-- ("what path: ...").
local function table_file(what, path)
  local f = io.open(path, "rb")
  if not f then return nil, ("%s %s: cannot be read"):format(what, path) end
  local src = f:read("*a")
  f:close()
  local env = {}
  local chunk, err = load(src, "@" .. path, "t", env)
  if not chunk then return nil, what .. " " .. err end
  local ok, ret = pcall(chunk)
  if not ok then return nil, what .. " " .. tostring(ret) end
  if ret ~= nil and type(ret) ~= "table" then
    return nil, ("%s %s: returns a %s, not a table"):format(what, path, type(ret))
  end
  return ret or env
end

function M.read_config(path)
  local t, err = table_file("config", path)
  if not t then return nil, err end
  local out = {}
  for k, v in pairs(t) do
    local s = BY_KEY[k]
    if not s then return nil, ("config %s: unknown key %s"):format(path, tostring(k)) end
    local val, why = s[3](v)
    if val == nil then
      return nil, ("config %s: %s %s, not %s"):format(path, k, why, tostring(v))
    end
    out[k] = val
  end
  return out
end

local function default_scripts()
  local base = os.getenv("XDG_CONFIG_HOME")
  if not base or base == "" then base = (os.getenv("HOME") or ".") .. "/.config" end
  return base .. "/lunamq/rules"
end

-- Flags (and the --config they name) -> settings, or nil (help asked;
-- nil, nil, "api" for --help-api), or nil, message.
function M.parse(args)
  local o, config = {}, nil
  local i = 1
  while i <= #args do
    local a = args[i]
    local s = BY_FLAG[a]
    if a == "--help" then
      return nil
    elseif a == "--help-api" then
      return nil, nil, "api"
    elseif a == "--config" then
      config = args[i + 1]
      if not config then return nil, "--config needs a file" end
      i = i + 2
    elseif a == "-q" or a == "--quiet" then
      o.log_level = "warn"
      i = i + 1
    elseif a == "-d" or a == "--debug" then
      o.log_level = "debug"
      i = i + 1
    elseif s and s[3] == flag then
      o[s[1]] = true
      i = i + 1
    elseif s then
      local v = args[i + 1]
      if v == nil then return nil, a .. " needs a value" end
      local val, why = s[3](v)
      if val == nil then return nil, ("%s %s, not %q"):format(a, why, v) end
      if s[1] == "plugins" and o.plugins then
        table.insert(o.plugins, val[1]) -- --plugin is repeatable
      else
        o[s[1]] = val
      end
      i = i + 2
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return nil, "unknown option " .. a
    elseif not o.scripts then
      o.scripts = a
      i = i + 1
    else
      return nil, "one scripts directory only (" .. o.scripts .. ", then " .. a .. ")"
    end
  end
  if config then
    local c, err = M.read_config(config)
    if not c then return nil, err end
    for k, v in pairs(c) do
      if o[k] == nil then o[k] = v end
    end
  end
  if (o.will_payload or o.will_qos or o.will_retain) and not o.will_topic then
    return nil, "--will-payload, --will-qos and --will-retain need --will-topic"
  end
  o.default_scripts = o.scripts == nil
  o.scripts = (o.scripts or default_scripts()):gsub("(.)/+$", "%1")
  o.dir = o.scripts
  o.state_dir = o.state_dir or (o.dir .. "/.state")
  o.scan_ms = o.scan_ms or 250
  o.watch = o.watch or "inotify"
  o.protocol = o.protocol or 5
  o.log_level = o.log_level or "info"
  if o.secrets then
    local sec, err = M.read_secrets(o.secrets)
    if not sec then return nil, err end
    o.secret_values = sec
  end
  return o
end

-- The secrets file: a Lua table (like the config), refused unless only
-- its owner may read it (mode 0600 or 0400), so a token never sits in a
-- rule file nor in a file others can read.
function M.read_secrets(path)
  local sys = require "lunamq.sys"
  local st = sys.stat(path)
  if not st or st.dir then return nil, ("secrets %s: cannot be read"):format(path) end
  if bit.band(st.mode, 63) ~= 0 then -- 0077
    return nil, ("secrets %s: mode %04o lets others read it; chmod 600 %s"):format(path, st.mode, path)
  end
  return table_file("secrets", path)
end

-- Where the script API reference is: docs/host-api.md beside the lua/
-- tree of a checkout, or share/lunamq/doc/ of an install.
function M.api_doc()
  local here = package.searchpath and package.searchpath("lunamq.host", package.path)
  local base = here and here:match("^(.*)/lunamq/host%.lua$") or "lua"
  for _, rel in ipairs { "/../docs/host-api.md", "/../doc/host-api.md" } do
    local f = io.open(base .. rel, "rb")
    if f then
      local s = f:read("*a")
      f:close()
      return s, base .. rel
    end
  end
  return nil, "the script API reference (docs/host-api.md) is not installed beside " .. base
end

local function make_logger(min_level)
  local min = LEVELS[min_level] or LEVELS.info
  return function(lvl, script, msg)
    if (LEVELS[lvl] or LEVELS.info) < min then return end
    io.stderr:write(("%s %-5s [%s] %s\n"):format(os.date("!%Y-%m-%dT%H:%M:%SZ"),
                                                lvl, script or "host", msg))
    io.stderr:flush()
  end
end

-- The engine options in the order they must be set (a URL first, then what
-- overrides parts of it), as { option, value, the setting's name }.
local function client_options(o, sys)
  local list = {}
  local function add(opt, v, name)
    if v ~= nil then list[#list + 1] = { opt, v, name } end
  end
  local tls = o.tls or o.cafile or o.capath or o.cert or o.key or o.insecure
              or o.tls_version or o.alpn or o.ciphers
  add("url", o.url, "url")
  if not o.url and not o.host then add("host", "127.0.0.1", "host") end
  add("host", o.host, "host")
  if tls then add("tls", true, "tls") end
  add("port", o.port, "port")
  add("proxy", o.proxy, "proxy")
  add("protocol", o.protocol, "protocol")
  add("client_id", o.client_id or ("lunamq-host-" .. sys.getpid()), "client_id")
  add("username", o.username, "username")
  add("password", o.password, "password")
  add("keepalive", o.keepalive, "keepalive")
  add("tls_ca_file", o.cafile, "cafile")
  add("tls_ca_path", o.capath, "capath")
  add("tls_cert_file", o.cert, "cert")
  add("tls_key_file", o.key, "key")
  add("tls_key_password", o.keypass, "keypass")
  add("tls_insecure", o.insecure, "insecure")
  add("tls_min_version", o.tls_version, "tls_version")
  add("tls_alpn", o.alpn, "alpn")
  add("tls_ciphers", o.ciphers, "ciphers")
  -- the host's will: "offline" for whatever availability topic scripts announce
  add("will_topic", o.will_topic, "will_topic")
  add("will_payload", o.will_payload, "will_payload")
  add("will_qos", o.will_qos, "will_qos")
  add("will_retain", o.will_retain, "will_retain")
  -- the broker may be down at start or go away: keep trying, never stop
  add("reconnect", true, "reconnect")
  add("reconnect_first", true, "reconnect")
  if o.log_level == "debug" then add("log_level", 4, "log_level") end
  return list
end

-- The directory watch.  inotify (Linux) reports a script saved, renamed
-- over (how editors save), created, moved away or deleted; the host drains
-- those events without blocking and rescans the directory once they have
-- been quiet for DEBOUNCE_MS (at most MAX_DELAY_MS after the first), so a
-- burst (a checkout, an editor's temp file dance) is one scan.  IN_CREATE
-- and IN_MODIFY are not watched: a file being written is read once it is
-- closed (IN_CLOSE_WRITE), never half-written.  The polling scan stays, every
-- 20 x scan_ms, as a safety net; it is the only watch with --watch poll or
-- when inotify cannot be had (then every scan_ms).
M.DEBOUNCE_MS = 5
-- state and pending timers are saved at most this often while scripts run
M.FLUSH_MS = 50
M.MAX_DELAY_MS = 200
function M.watcher(o, sys, log)
  local w = { interval = o.scan_ms }
  local IN = sys.IN
  if o.watch == "inotify" then
    -- (lib/: the modules scripts require; a change reloads their users)
    local fd, err = sys.inotify_watch(o.dir, bit.bor(IN.CLOSE_WRITE, IN.MOVED_TO, IN.MOVED_FROM,
                                                     IN.DELETE, IN.DELETE_SELF, IN.MOVE_SELF),
                                      { o.dir .. "/lib" })
    if fd then
      w.fd = fd
      w.interval = o.scan_ms * 20
      log("debug", nil, "watching " .. o.dir .. " (inotify)")
    else
      log("warn", nil, err .. ": polling " .. o.dir .. (" every %d ms"):format(o.scan_ms))
    end
  end
  function w.close()
    if w.fd then sys.close(w.fd) end
    w.fd, w.interval = nil, o.scan_ms
  end
  -- Take the waiting events; schedule a scan (w.due) for those that
  -- concern scripts.  false when the watch is gone (the directory itself
  -- moved or deleted, the fd broken): the caller goes back to polling.
  function w.drain(_, now)
    local evs, err = sys.inotify_read(w.fd)
    if not evs then
      log("warn", nil, err .. ": polling " .. o.dir .. " from now on")
      return false
    end
    local relevant, lost = false, false
    for _, e in ipairs(evs) do
      if bit.band(e.mask, IN.DELETE_SELF + IN.MOVE_SELF + IN.IGNORED) ~= 0 then
        lost = true
      elseif bit.band(e.mask, IN.Q_OVERFLOW) ~= 0 or e.name:match("%.lua$") then
        relevant = true
      end
    end
    if lost then
      log("warn", nil, o.dir .. " was moved or deleted: polling it from now on")
      return false
    end
    if relevant then
      w.first = w.due and w.first or now
      w.due = math.min(now + M.DEBOUNCE_MS, w.first + M.MAX_DELAY_MS)
    end
    return true
  end
  return w
end

-- A CONNACK (the "connected" event): which way handlers are kept to one
-- call per message.  MQTT 5.0 section 3.2.2.3.12: Subscription Identifier
-- Available 0 means the broker takes none (the engine then refuses a
-- SUBSCRIBE carrying one, LMQ_ESUB_ID_NOT_SUPPORTED), so the runtime falls
-- back by itself to a non-overlapping cover of the filters.  One log line
-- names the mode when it is first known or changes; returns it.
function M.connected(o, rt, ev, log, shown)
  local why
  if o.protocol == 0 then
    why = "protocol auto (the level is the server's choice)"
  elseif o.protocol ~= 5 then
    why = "MQTT 3.x"
  elseif o.no_sub_ids then
    why = "--no-sub-ids"
  elseif ev.props and require("lunamq").event_props(ev).subscription_identifier_available == 0 then
    why = "the broker has none (CONNACK)"
    rt:set_sub_ids(false)
  elseif not rt.sub_ids then
    -- (an earlier CONNACK said so: the mode stays)
    if shown then return shown end
    why = "an earlier CONNACK said the broker has none"
  end
  local mode = rt.sub_ids and "one Subscription Identifier per filter"
               or ("a non-overlapping cover of the filters, no Subscription Identifiers ("
                   .. why .. ")")
  if mode ~= shown then log("info", nil, "dispatch: " .. mode) end
  return mode
end

local function fail(msg)
  io.stderr:write("lunamq host: " .. msg .. " (see lunamq host --help)\n")
  return 2
end

function M.main(args)
  local o, err, help = M.parse(args)
  if not o then
    if err then return fail(err) end
    if help == "api" then
      local doc, derr = M.api_doc()
      if not doc then
        io.stderr:write("lunamq host: " .. derr .. "\n")
        return 1
      end
      io.stdout:write(doc)
      return 0
    end
    io.stdout:write(M.USAGE)
    return 0
  end
  local lunamq = require "lunamq"
  local sys = require "lunamq.sys"
  local runtime = require "lunamq.runtime"
  local log = make_logger(o.log_level)

  local stat = sys.stat(o.dir)
  if not stat or not stat.dir then
    return fail(o.dir .. ": not a directory" .. (o.default_scripts and " (the default scripts dir)" or ""))
  end
  local client, cerr = lunamq.new {}
  if not client then return fail("client: " .. cerr) end
  local client_id
  for _, opt in ipairs(client_options(o, sys)) do
    local ok, serr = client:set(opt[1], opt[2])
    if not ok then
      client:close()
      return fail(("%s %s: %s"):format(opt[3], tostring(opt[2]), serr))
    end
    if opt[1] == "client_id" then client_id = opt[2] end
  end

  for _, p in ipairs(o.plugins or {}) do
    local ok, perr = client:load_plugin(p.path, p.config)
    if not ok then
      client:close()
      -- (the engine's message names the file already, as a rule)
      return fail(perr:find(p.path, 1, true) and perr or ("plugin %s: %s"):format(p.path, perr))
    end
  end

  -- Handlers that publish faster than the broker takes it meet the
  -- engine's bound (its queue, LMQ_OPT_OFFLINE_MAX_MSGS, behind 64 KiB of
  -- unwritten output): the publish is refused, which fails the handler
  -- with this line in the log; nothing is dropped unsaid.
  local queue_full = lunamq.const("LMQ_EQUEUE_FULL")
  local transport = {
    publish = function(topic, payload, qos, retain, props)
      local id, msg, code = client:publish(topic, payload, { qos = qos, retain = retain,
                                                            props = props })
      if not id and code == queue_full then
        msg = "refused: the messages published before it are not written yet (the "
              .. "engine's queue is full: handlers publish faster than the broker takes them)"
      end
      return id, msg, code
    end,
    subscribe = function(list, props) return client:subscribe(list, nil, props) end,
    unsubscribe = function(list) return client:unsubscribe(list) end,
    -- handler errors & co, for the C plugins (the metrics plugin counts them)
    event = function(name, value) return client:plugin_event(name, value) end,
  }
  local made, rt = pcall(runtime.new, { dir = o.dir, state_dir = o.state_dir,
                                        reply_prefix = "lunamq/host/" .. client_id .. "/reply",
                                        fence_topic = "lunamq/host/" .. client_id .. "/fence",
                                        transport = transport, log = log,
                                        bound_ms = o.bound_ms, max_errors = o.max_errors,
                                        -- MQTT 5: a Subscription Identifier per filter, so
                                        -- overlapping filters do not double-call handlers
                                        sub_ids = o.protocol == 5 and not o.no_sub_ids,
                                        allow = o.allow, location = o.location,
                                        protocol = o.protocol == 5 and 5 or 4,
                                        settings = o.settings, secrets = o.secret_values,
                                        trace = o.log_level == "debug", loop_max = o.loop_max })
  if not made then
    client:close()
    return fail("state directory " .. o.state_dir .. ": " .. tostring(rt))
  end
  -- one host per state directory: two would both act on every message
  -- (one button press toggling twice) and overwrite each other's state
  local lock, lerr, holder = sys.lock(o.state_dir .. "/.lock")
  if not lock then
    client:close()
    if lerr == "locked" then
      io.stderr:write(("lunamq host: the state directory %s is in use by another lunamq host%s; "
        .. "one host per state directory (stop the other, or give this one --state-dir)\n")
        :format(o.state_dir, holder and (" (pid %d)"):format(holder) or ""))
      return 1
    end
    return fail("state directory " .. o.state_dir .. ": " .. tostring(lerr))
  end
  log("info", nil, ("lunamq %s (engine: %s), scripts in %s"):format(lunamq.version,
      lunamq.library_path == "(process)" and "linked in" or tostring(lunamq.library_path), o.dir))
  rt:scan()
  local ok, msg = client:connect()
  if not ok then log("error", nil, "connect: " .. msg) end

  local clock = sys.monotonic_ms
  local stop_at = o.run_for_ms and clock() + o.run_for_ms

  local sigfd, serr = sys.signal_fd()
  if not sigfd then log("warn", nil, "no signal fd (" .. serr .. "): SIGTERM is not clean") end

  -- The directory watch (see M.watcher): its fd and the signal fd are
  -- gathered in one epoll fd, the one extra fd client:step() waits on.
  local watch = M.watcher(o, sys, log)
  local extra = sigfd
  local function unwatch()
    if extra and extra ~= sigfd then sys.close(extra) end
    extra = sigfd
    watch:close()
  end
  if watch.fd then
    if sigfd then
      local ep, eerr = sys.epoll_of({ sigfd, watch.fd })
      if ep then
        extra = ep
      else
        log("warn", nil, eerr .. ": polling " .. o.dir .. " instead of watching it")
        unwatch()
      end
    else
      extra = watch.fd
    end
  end
  local next_scan = clock() + watch.interval

  local shown_mode
  local next_flush = 0
  local function loop()
    while true do
      for ev in client:events() do
        if ev.type == "message" then
          rt:deliver(ev)
        elseif ev.type == "connected" then
          log("info", nil, "connected" .. (ev.session_present and " (session present)" or ""))
          shown_mode = M.connected(o, rt, ev, log, shown_mode)
          rt:on_connected()
        elseif ev.type == "connect_failed" or ev.type == "disconnected" then
          if ev.type == "disconnected" then rt:on_disconnected() end
          log("warn", nil, ("%s: %s %s"):format(ev.type, ev.errname or "", ev.text or ""))
        elseif ev.type == "subscribed" then
          -- (the runtime's own SUBSCRIBEs; the engine's re-subscriptions
          -- after a lost session come with msg_id 0)
          if not rt:on_subscribed(ev.msg_id, ev.reasons, ev.error ~= 0 and ev.errname or nil) then
            for i, r in ipairs(ev.reasons or {}) do
              if r >= 0x80 then log("warn", nil, ("subscription %d refused: 0x%02x"):format(i, r)) end
            end
            if ev.error ~= 0 then log("warn", nil, "subscribe: " .. tostring(ev.errname)) end
          end
        elseif ev.type == "error" or ev.type == "log" then
          log(ev.type == "error" and "warn" or "debug", nil, ev.text or ev.errname or "")
        end
      end
      rt:run_timers()
      local now = clock()
      -- state and timers to disk: at the end of a batch, but while
      -- messages stream in at most every FLUSH_MS (encoding the state of
      -- every script that ran, per batch, cost more than the messages)
      if next(rt.touched) and now >= next_flush then
        rt:flush()
        next_flush = now + M.FLUSH_MS
      end
      -- (between two batches: every message before is handled by the old
      -- version, every message after by the new one)
      if now >= next_scan or (watch.due and now >= watch.due) then
        rt:scan()
        watch.due = nil
        now = clock()
        next_scan = now + watch.interval
      end
      if stop_at and now >= stop_at then return end
      local wait = next_scan - now
      if next(rt.touched) and next_flush - now < wait then wait = next_flush - now end
      if watch.due and watch.due - now < wait then wait = watch.due - now end
      local t = rt:next_timer_in()
      if t and t < wait then wait = t end
      if stop_at and stop_at - now < wait then wait = stop_at - now end
      local _, ready = client:step(math.max(0, math.ceil(wait)), extra)
      if ready then
        -- non-blocking reads: whichever of the two has something
        local sig = sigfd and sys.read_signal(sigfd)
        if sig then
          log("info", nil, ("signal %s: stopping"):format(tostring(sig)))
          return
        end
        if watch.fd and not watch:drain(clock()) then
          unwatch()
          next_scan = clock()
        end
      end
    end
  end

  local lok, lerr = pcall(loop)
  unwatch()
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
