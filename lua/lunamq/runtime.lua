-- lunamq.runtime - the rule host without the network: scripts, their
-- handlers, timers and state, dispatch, and hot reload.
--
-- The runtime talks to the broker through a small transport table
-- (publish, subscribe, unsubscribe) and reads time from a clock function,
-- so specs drive it with fake messages and a fake clock; lunamq.host plugs
-- in a real client and the monotonic clock.
--
-- Reload is a transaction: a changed file is compiled and run in a fresh
-- environment while the old version keeps its handlers; only when that
-- succeeds are the new handlers and timers swapped in.  The host calls
-- scan() between two event batches, so no message arrives mid-swap and
-- none is lost.
local sys = require "lunamq.sys"
local timers_mod = require "lunamq.timers"
local state_mod = require "lunamq.state"
local dispatch_mod = require "lunamq.dispatch"
local guard_mod = require "lunamq.guard"
local calendar = require "lunamq.calendar"
local json = require "lunamq.json"

local M = {}
local R = {}
R.__index = R
local LOADING = setmetatable({}, { __tostring = function() return "(loading)" end })

-- The Subscription Identifiers of a message: one (a number), or a list,
-- or nil.  The common block, a single identifier and nothing else, is
-- read here without a call into the engine.
local byte = string.byte
local lunamq_mod
local function sub_ids_of(msg)
  local raw = msg.props
  local n = #raw
  if byte(raw, 1) == 0x0B and n <= 5 then
    local v, mul = 0, 1
    for i = 2, n do
      local b = byte(raw, i)
      v = v + (b % 128) * mul
      if b < 128 then
        if i == n then return v end
        break
      end
      mul = mul * 128
    end
  end
  lunamq_mod = lunamq_mod or require "lunamq"
  return lunamq_mod.event_sub_ids(msg)
end

M.DEFAULTS = {
  max_errors = 5,   -- consecutive errors before a handler is disabled
  bound_ms = 1000,  -- longest a single call into a script may run
  loop_max = 20,    -- publishes to its own filter per second before a handler is stopped
}

local function default_log(level, script, msg)
  io.stderr:write(("%s [%s] %s\n"):format(level, script or "host", msg))
end

-- opts: dir (scripts), state_dir (nil: state not persisted), transport,
-- reply_prefix (topic prefix for request() replies; the host makes it
-- unique per client),
-- clock (ms), wall_clock (ms since the epoch, for persisted deadlines;
-- default the real one), guard_clock (ms, the bound's clock; default the monotonic
-- one even when clock is fake), log(level, script, msg), matches(filter,
-- topic), max_errors, bound_ms, sub_ids (MQTT 5: one Subscription
-- Identifier per filter, see reconcile()), fence_topic (the topic of the
-- reload handover's fence; the host makes it unique per client).  The host
-- passes every "subscribed" event to on_subscribed().
function M.new(opts)
  local self = setmetatable({}, R)
  self.dir = opts.dir
  self.transport = opts.transport
  self.clock = opts.clock or sys.monotonic_ms
  -- Persisted deadlines are wall-clock times.  The offset is taken once so
  -- an unchanged timer encodes the same every time (no rewrite per flush).
  local wall = opts.wall_clock or sys.realtime_ms
  self.wall = wall
  self.wall_offset = math.floor(wall() - self.clock())
  self.log = opts.log or default_log
  self.max_errors = opts.max_errors or M.DEFAULTS.max_errors
  local matches = opts.matches
  if not matches then
    local lunamq = require "lunamq"
    matches = function(f, t) return lunamq.topic_matches(f, t) == true end
  end
  self.matches = matches
  self.dispatch = dispatch_mod.new(matches)
  self.timers = timers_mod.new(self.clock, wall)
  -- where the sun is computed: { lat =, lon = } (degrees) or nil
  self.location = opts.location
  self.store = state_mod.new(opts.state_dir)
  local bound = opts.bound_ms
  if bound == nil then bound = M.DEFAULTS.bound_ms end
  self.guard = guard_mod.new(bound, opts.guard_clock or sys.monotonic_ms)
  self.scripts = {}     -- name -> script record
  self.subscribed = {}  -- filter -> qos, as asked of the broker
  self.sub_ids = opts.sub_ids and true or false
  self.id_of = {}       -- filter -> its Subscription Identifier (sub_ids)
  self.filter_of = {}   -- Subscription Identifier -> filter
  self.next_sub_id = 0
  self.fence_topic = opts.fence_topic or "lunamq/host/fence"
  self.fence_next = 1   -- the number of the next fence to send
  self.reset_subscriptions(self)
  self.last = {}        -- topic -> last payload seen (last(topic))
  self.touched = {}     -- scripts whose state may have changed
  self.reply_prefix = opts.reply_prefix or "lunamq/host/reply"
  -- libraries the configuration lets scripts have (os, io, package, debug)
  self.allow = {}
  for _, k in ipairs(opts.allow or {}) do
    if not M.ALLOWABLE[k] then error(("allow: %s is not os, io, package or debug"):format(k), 2) end
    self.allow[#self.allow + 1] = k
  end
  self.requests = {}    -- correlation data -> waiting task
  -- MQTT version the host connects with (request() needs 5); nil: unknown
  self.protocol = opts.protocol
  -- the config's settings table and the secrets file, for scripts
  self.settings = opts.settings or {}
  self.secrets = opts.secrets or {}
  -- -d: a line per message naming the topic and the handler
  self.trace = opts.trace and true or false
  -- the loop guard: a handler publishing to a topic its own filter
  -- matches more than loop_max times within a second is disabled
  self.loop_max = opts.loop_max or M.DEFAULTS.loop_max
  self.skipped = {}     -- directory entries not loaded, logged once
  self.seq = 0          -- for internal names (tasks, requests)
  -- correlation data stays unique across restarts: a late reply to an
  -- earlier run must not wake a new request
  self.run_id = ("%x"):format(math.floor(wall()) % 0x100000000)
  return self
end

-- --------------------------------------------------------------- helpers

local SAFE_GLOBALS = {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber",
  "tostring", "type", "unpack", "xpcall", "rawequal", "rawget", "rawset",
  "setmetatable", "getmetatable",
}
local SAFE_LIBS = { "string", "table", "math", "bit" }
-- what a script gets only when the configuration allows it (opts.allow)
M.ALLOWABLE = { os = true, io = true, package = true, debug = true }

local function copy(t)
  local r = {}
  for k, v in pairs(t) do r[k] = v end
  return r
end

-- "fmt", ... -> text; a single non-string argument is tostring'd.
local function fmt(...)
  local n = select("#", ...)
  local first = ...
  if n > 1 and type(first) == "string" then
    local ok, s = pcall(string.format, ...)
    if ok then return s end
  end
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  return table.concat(parts, " ")
end

local function ms(seconds, what)
  if type(seconds) ~= "number" or seconds < 0 then
    error(what .. ": seconds must be a number >= 0", 3)
  end
  return seconds * 1000
end

-- ------------------------------------------------------------ script API

-- A copy of a config table for one script (settings, secrets): reading,
-- #, pairs and ipairs work as on any table; a key the config does not have
-- cannot be added (a typo is an error at its line, not a silent nil
-- later); what a script changes in its copy changes nothing elsewhere (not
-- the config, not another script, not its own next version).
local function freeze(t, what, seen)
  if seen[t] then return seen[t] end
  local r = {}
  seen[t] = r
  for k, v in pairs(t) do
    r[k] = type(v) == "table" and freeze(v, what, seen) or v
  end
  return setmetatable(r, {
    __newindex = function(_, k)
      error(("%s has no key %s: settings come from the config, secrets from the secrets "
             .. "file"):format(what, tostring(k)), 2)
    end,
    __metatable = false,
  })
end
function R:frozen(what, t)
  return freeze(t or {}, what, {})
end

-- The environment one version of one script runs in.  `rec` is the script
-- record (stable across versions), `ver` this version's pending
-- registrations while its top level runs.
function R:make_env(rec, ver)
  local rt = self
  local env, api = {}, {}
  ver.modules = ver.modules or {}
  ver.deps = ver.deps or {}
  ver.on_connect = ver.on_connect or {}
  for _, k in ipairs(SAFE_GLOBALS) do env[k] = _G[k] end
  -- the string metatable is shared by every script and the host: not handed out
  env.getmetatable = function(v)
    if type(v) == "string" then return nil end
    return getmetatable(v)
  end
  -- copies, so one script cannot change string.format for another
  for _, k in ipairs(SAFE_LIBS) do
    if _G[k] then env[k] = copy(_G[k]) end
  end
  for _, k in ipairs(self.allow) do env[k] = _G[k] end
  env._G = env
  -- a script may not catch the runaway stop (see lunamq.guard)
  env.pcall, env.xpcall = self.guard.pcall, self.guard.xpcall
  -- What the host provides lives behind the environment's metatable, so an
  -- assignment such as `state = {}` is an error at its line rather than a
  -- table that silently stops being saved.
  env = setmetatable(env, {
    __index = api,
    __newindex = function(t, k, v)
      if api[k] ~= nil then
        error(("%s is provided by the host and cannot be replaced"):format(tostring(k)), 2)
      end
      rawset(t, k, v)
    end,
  })
  api.SCRIPT = rec.name
  api.state = rec.state
  api.json = { encode = json.encode, decode = json.decode, null = json.null }

  local log = {}
  for _, level in ipairs { "debug", "info", "warn", "error" } do
    log[level] = function(...) rt.log(level, rec.name, fmt(...)) end
  end
  api.log = log
  api.print = log.info

  -- the filter and options of on / keep_last / wait_for: qos, or an error
  -- at the caller's caller naming what is wrong (an unknown option too)
  local function check_sub(what, filter, o, known)
    if type(filter) ~= "string" then error(what .. ": filter must be a string", 3) end
    local lunamq = require "lunamq"
    local ok, msg = lunamq.validate_filter(filter)
    if not ok then error(("%s: bad filter %q: %s"):format(what, filter, msg), 3) end
    if type(o) ~= "table" then error(what .. ": options must be a table", 3) end
    for k in pairs(o) do
      if not known[k] then
        local names = {}
        for n in pairs(known) do names[#names + 1] = n end
        table.sort(names)
        error(("%s: unknown option %s (it takes %s)"):format(what, tostring(k),
              table.concat(names, ", ")), 3)
      end
    end
    local qos = o.qos or 0
    if qos ~= 0 and qos ~= 1 and qos ~= 2 then error(what .. ": qos must be 0, 1 or 2", 3) end
    return qos
  end
  local ON_OPTIONS = { qos = true, json = true, changed_only = true, debounce = true, throttle = true }

  -- on(filter, fn [, { qos =, json =, changed_only =, debounce = s, throttle = s }])
  function api.on(filter, fn, o)
    o = o or {}
    if type(fn) ~= "function" then error("on: handler must be a function", 2) end
    local qos = check_sub("on", filter, o, ON_OPTIONS)
    for _, k in ipairs { "debounce", "throttle" } do
      if o[k] ~= nil and (type(o[k]) ~= "number" or o[k] <= 0) then
        error(("on: %s must be a number of seconds > 0"):format(k), 2)
      end
    end
    local info = debug.getinfo(2, "l")
    rt.handler_seq = (rt.handler_seq or 0) + 1
    local h = {
      id = rt.handler_seq, script = rec.name, filter = filter, fn = fn, qos = qos,
      json = o.json and true or false, changed_only = o.changed_only and true or false,
      debounce = o.debounce and o.debounce * 1000, throttle = o.throttle and o.throttle * 1000,
      where = rec.name .. ".lua:" .. (info and info.currentline or 0),
      errors = 0, consecutive = 0, calls = 0, time_ms = 0, seen = {}, throttled = {},
    }
    if ver.loading then
      ver.handlers[#ver.handlers + 1] = h
    else
      -- registered from a handler or timer: live at once
      rec.handlers[#rec.handlers + 1] = h
      rt.dispatch:add(h)
      rt:reconcile()
    end
    return h
  end

  -- publish(topic, payload [, { qos =, retain =, props = }]); a table
  -- payload is sent as JSON, a number or boolean as its text; props are
  -- MQTT 5 properties by name (lunamq.proplist).
  function api.publish(topic, payload, o)
    o = o or {}
    if type(topic) ~= "string" then error("publish: topic must be a string", 2) end
    if type(payload) == "table" then
      local ok, text = pcall(json.encode, payload)
      if not ok then error(("publish %s: %s"):format(topic, text), 2) end
      payload = text
    elseif payload == nil then
      payload = ""
    else
      payload = tostring(payload)
    end
    rt:loop_check(topic)
    local retain = o.retain ~= nil and o.retain ~= false and o.retain ~= 0   -- 0 is off
    local id, msg = rt.transport.publish(topic, payload, o.qos or 0, retain, o.props)
    if not id then error(("publish %s: %s"):format(tostring(topic), tostring(msg)), 2) end
    return id
  end

  -- Timers are named so a reload finds them again.  At a script's top
  -- level they are declarations: when a timer of that name is live (from
  -- the previous version, declared or set by a handler) the reload keeps its
  -- deadline and gives it the new callback; a declared timer that the new
  -- version no longer declares is cancelled.  From a handler a timer is set
  -- anew each time (after("off", 300) restarts the wait), and one that no
  -- declaration claims survives a reload with the callback it was given.
  --
  -- on_timer(name, fn) at the top level names the callback of every timer
  -- called name: after/every/at may then leave out fn, and after a reload
  -- or a restart a live or restored timer of that name runs the new
  -- version's fn.  That is how a timer set only inside a handler survives a
  -- restart: its deadline is saved, and the next start attaches it to the
  -- script's on_timer(name) (a script without one gets a warning, and the
  -- timer is dropped: a closure cannot be brought back from disk).
  function api.on_timer(name, fn)
    if type(name) ~= "string" then error("on_timer: name must be a string", 2) end
    if type(fn) ~= "function" then error("on_timer: callback must be a function", 2) end
    if not ver.loading then error("on_timer: only at a script's top level", 2) end
    ver.callbacks[name] = fn
  end
  local function set_timer(name, secs, fn, periodic, what, sched)
    if type(name) ~= "string" then error(what .. ": name must be a string", 3) end
    if fn == nil then
      fn = (ver.loading and ver.callbacks or rec.callbacks or {})[name]
      if not fn then
        error(("%s: no callback for %q (pass one, or declare on_timer(%q, fn) before)")
              :format(what, name, name), 3)
      end
    end
    if type(fn) ~= "function" then error(what .. ": callback must be a function", 3) end
    local d = sched and 0 or ms(secs, what)
    if periodic and d <= 0 then error(what .. ": interval must be > 0", 3) end
    local interval = periodic and d or nil
    if ver.loading then
      ver.timers[#ver.timers + 1] = { name = name, delay = d, interval = interval, fn = fn,
                                      sched = sched }
    else
      local cb = rec.callbacks and rec.callbacks[name]
      if cb ~= fn and not (rec.declared and rec.declared[name]) then
        -- armed with a function of its own: it cannot come back from disk
        rec.warned = rec.warned or {}
        if not rec.warned[name] then
          rec.warned[name] = true
          local info = debug.getinfo(3, "Sl")
          rt.log("warn", rec.name, ("%s:%d: timer %q is armed with a function of its own: it will "
            .. "not survive a restart (name its callback with on_timer(%q, fn) at the top level "
            .. "and leave fn out)"):format(info and info.short_src:match("[^/]*$") or rec.name,
            info and info.currentline or 0, name, name))
        end
      end
      rt:arm(rec.name, name, d, interval, fn, false, sched, { declared = false })
    end
  end
  function api.after(name, secs, fn) set_timer(name, secs, fn, false, "after") end
  function api.every(name, secs, fn) set_timer(name, secs, fn, true, "every") end
  -- at(name, spec, fn): "HH:MM[:SS]", "sunset-00:30", "Mon-Fri 07:30"...
  -- (lunamq.calendar); cron(name, "*/5 * * * *", fn).  Each runs at or
  -- after its local time, never before.
  function api.at(name, spec, fn)
    local sched, why = rt:schedule("at", spec)
    if not sched then error("at: " .. why, 2) end
    set_timer(name, 0, fn, false, "at", sched)
  end
  function api.cron(name, spec, fn)
    local sched, why = rt:schedule("cron", spec)
    if not sched then error("cron: " .. why, 2) end
    set_timer(name, 0, fn, false, "cron", sched)
  end
  function api.cancel(name)
    if ver.loading then
      for i = #ver.timers, 1, -1 do
        if ver.timers[i].name == name then table.remove(ver.timers, i) end
      end
    end
    return rt.timers:cancel(rec.name, name)
  end
  -- Seconds until the named timer fires, nil when it is not armed;
  -- without a name { [name] = seconds } for every armed timer.
  function api.pending(name)
    if name == nil then
      local r = {}
      for _, t in ipairs(rt.timers:owned(rec.name)) do
        if not t.internal then r[t.name] = math.max(0, t.due - rt.clock()) / 1000 end
      end
      return r
    end
    if type(name) ~= "string" then error("pending: name must be a string or nil", 2) end
    local t = rt.timers:get(rec.name, name)
    if not t then return nil end
    return math.max(0, t.due - rt.clock()) / 1000
  end

  -- sleep(seconds): suspend this handler or timer callback; messages and
  -- other handlers go on meanwhile.
  function api.sleep(secs)
    local task = rt:current_task("sleep")
    local d = ms(secs, "sleep")
    rt.seq = rt.seq + 1
    rt.timers:set(rec.name, "\0sleep:" .. rt.seq, d, nil, function() rt:resume(task) end,
                  false, { internal = true })
    return coroutine.yield()
  end

  -- request(topic, payload [, { timeout = s (5), qos = (1), props = }]):
  -- MQTT 5 request/response.  Publishes with a Response Topic and
  -- Correlation Data, suspends the caller until the reply comes:
  -- payload, message; or nil, "timeout".
  function api.request(topic, payload, o)
    local task = rt:current_task("request")
    o = o or {}
    if rt.protocol and rt.protocol ~= 5 then
      error("request: needs MQTT 5 (Response Topic, Correlation Data); the host connects with "
            .. "MQTT 3.1.1 (-V): use publish() and wait_for() instead", 2)
    end
    for k in pairs(o) do
      if k ~= "timeout" and k ~= "qos" and k ~= "props" and k ~= "json" then
        error(("request: unknown option %s (it takes json, props, qos, timeout)"):format(tostring(k)), 2)
      end
    end
    local timeout = ms(o.timeout or 5, "request")
    rt.seq = rt.seq + 1
    local corr = rt.run_id .. "." .. rt.seq
    rt:want_replies()
    local props = {}
    for k, v in pairs(o.props or {}) do props[k] = v end
    props.response_topic = rt.reply_prefix .. "/" .. rec.name
    props.correlation_data = corr
    api.publish(topic, payload, { qos = o.qos or 1, props = props })
    local name = "\0request:" .. corr
    rt.requests[corr] = { task = task, owner = rec.name, timer = name, json = o.json }
    rt.timers:set(rec.name, name, timeout, nil, function()
      if rt.requests[corr] then
        rt.requests[corr] = nil
        rt:resume(task, nil, "timeout")
      end
    end, false, { internal = true })
    return coroutine.yield()
  end

  -- This script's handlers and their counters, in registration order:
  -- { { filter =, where = "file.lua:line", calls =, errors =, time_ms =
  -- (time spent running it), disabled = bool }, ... }.
  function api.stats()
    local r = {}
    for _, h in ipairs(rec.handlers) do
      if not h.keep then
        r[#r + 1] = { filter = h.filter, where = h.where, calls = h.calls, errors = h.errors,
                      time_ms = h.time_ms, disabled = h.disabled or false }
      end
    end
    return r
  end

  -- wait_for(filter [, timeout = 5 [, { json =, qos =, retained = }]]):
  -- inside a handler or timer, the next message on filter: payload (decoded
  -- with json), message; or nil, "timeout".  A retained copy the broker
  -- sends because of the new subscription is old news and skipped unless
  -- retained = true.
  local WAIT_OPTIONS = { json = true, qos = true, retained = true }
  function api.wait_for(filter, timeout, o)
    local task = rt:current_task("wait_for")
    o = o or {}
    local qos = check_sub("wait_for", filter, o, WAIT_OPTIONS)
    local d = ms(timeout == nil and 5 or timeout, "wait_for")
    rt.seq = rt.seq + 1
    local w = { filter = filter, qos = qos, waiter = true, task = task, script = rec.name,
                json = o.json and true or false, retained = o.retained and true or false,
                timer = "\0wait:" .. rt.seq, errors = 0, consecutive = 0, calls = 0 }
    rt.dispatch:add(w)
    rt:reconcile()
    rt.timers:set(rec.name, w.timer, d, nil, function()
      if rt:end_wait(w) then rt:resume(task, nil, "timeout") end
    end, false, { internal = true })
    return coroutine.yield()
  end

  -- keep_last(filter [, { qos = }]) at the top level: subscribe to filter
  -- only so that last(topic) has the latest value of its topics (retained
  -- device states), with no handler.
  function api.keep_last(filter, o)
    o = o or {}
    local qos = check_sub("keep_last", filter, o, { qos = true })
    if not ver.loading then error("keep_last: only at a script's top level", 2) end
    ver.handlers[#ver.handlers + 1] = { script = rec.name, filter = filter, qos = qos, keep = true,
                                        errors = 0, consecutive = 0, calls = 0, time_ms = 0 }
  end

  -- last(topic [, { json = true }]): the last payload seen on topic (any
  -- filter of any script, or keep_last), decoded when asked (nil when it
  -- is not JSON); nil when none came.
  function api.last(topic, o)
    local p = rt.last[topic]
    if p ~= nil and o and o.json then
      local ok, v = pcall(json.decode, p)
      if not ok then return nil end
      return v
    end
    return p
  end

  -- on_connect(fn) at the top level: fn() runs after every (re)connect, and
  -- when the script is (re)loaded while connected: announce discovery and
  -- availability again after a broker restart.
  function api.on_connect(fn)
    if type(fn) ~= "function" then error("on_connect: needs a function", 2) end
    if not ver.loading then error("on_connect: only at a script's top level", 2) end
    local info = debug.getinfo(2, "l")
    ver.on_connect[#ver.on_connect + 1] = { fn = fn, script = rec.name, errors = 0, consecutive = 0,
      calls = 0, time_ms = 0, where = rec.name .. ".lua:" .. (info and info.currentline or 0) }
  end

  -- settings (the config's settings table) and secrets (the secrets
  -- file), read-only: each script its own copy.
  api.settings = rt:frozen("settings", rt.settings)
  api.secrets = rt:frozen("secrets", rt.secrets)

  -- require "name": DIR/lib/name.lua ("a.b": lib/a/b.lua), run once per
  -- version of the script in its own environment (the sandbox); a change
  -- of the module reloads the scripts that use it.
  function api.require(name)
    if type(name) ~= "string" or not name:match("^[%w_]+[%w_%.]*$") then
      error("require: module name must be letters, digits, _ and dots", 2)
    end
    local mods = ver.modules
    if mods[name] ~= nil then
      if mods[name] == LOADING then error(("require: %q requires itself (a cycle)"):format(name), 2) end
      return mods[name]
    end
    local path = rt.dir .. "/lib/" .. name:gsub("%.", "/") .. ".lua"
    local src = sys.read_file(path)
    if not src then error(("require: module %q not found (looked for %s)"):format(name, path), 2) end
    local st = sys.stat(path)
    ver.deps[path] = st and (st.size .. "/" .. st.mtime) or "?"
    local chunk, cerr = load(src, "@" .. path, "t", env)
    if not chunk then error("require: " .. cerr, 2) end
    guard_mod.prepare(chunk)
    mods[name] = LOADING
    local v = chunk(name)
    if v == nil then v = true end
    mods[name] = v
    return v
  end
  -- The MQTT 5 properties of a message a handler got (third argument).
  function api.props(m)
    return require("lunamq").event_props(m)
  end
  -- now(): seconds on the monotonic clock (for intervals: it never jumps,
  -- and its zero is arbitrary).  time(): the wall clock, seconds since the
  -- epoch with a fraction.  date(format [, t]): os.date's formats ("*t",
  -- "!%H:%M" for UTC) for t (seconds, default time()), local time.
  function api.now() return rt.clock() / 1000 end
  function api.time() return rt.wall() / 1000 end
  function api.date(f, t)
    if f ~= nil and type(f) ~= "string" then error("date: format must be a string", 2) end
    if t ~= nil and type(t) ~= "number" then error("date: t must be seconds since the epoch", 2) end
    local ok, r = pcall(os.date, f or "%c", math.floor(t or rt.wall() / 1000))
    if not ok then error("date: " .. tostring(r), 2) end
    return r
  end
  -- sun([day]): the sun at the configured location on a local day (nil:
  -- today; seconds since the epoch; "YYYY-MM-DD"; { year, month, day }):
  -- { sunrise, sunset, dawn, dusk, noon } in seconds since the epoch, and
  -- polar = "day" | "night" when the sun does not rise or set that day.
  function api.sun(day)
    if not rt.location then
      error("sun: no location: set location = { lat = ..., lon = ... } in the config, "
            .. "or --location LAT,LON", 2)
    end
    local y, m, d
    if day == nil or type(day) == "number" then
      local t = os.date("*t", math.floor(day or rt.wall() / 1000))
      y, m, d = t.year, t.month, t.day
    elseif type(day) == "string" then
      y, m, d = day:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
      y, m, d = tonumber(y), tonumber(m), tonumber(d)
    elseif type(day) == "table" then
      y, m, d = tonumber(day.year), tonumber(day.month), tonumber(day.day)
    end
    if not (y and m and d) then
      error("sun: day must be nil, seconds since the epoch, \"YYYY-MM-DD\" or { year =, month =, day = }", 2)
    end
    return calendar.sun(rt.location.lat, rt.location.lon, y, m, d)
  end

  return env
end

-- A calendar schedule: kind "at" or "cron" and its spec -> { kind =,
-- spec =, calendar = function(after_ms) -> the next time (wall ms) }, or
-- nil, why.
function R:schedule(kind, spec)
  local next_s, why
  if kind == "cron" then
    next_s, why = calendar.cron_schedule(spec)
  else
    next_s, why = calendar.at_schedule(spec, self.location)
  end
  if not next_s then return nil, why end
  return { kind = kind, spec = spec, calendar = function(after_ms)
    local t = next_s(after_ms / 1000)
    return t and t * 1000
  end }
end

-- Arm a script's timer; a calendar one (sched) at its next time after now
-- (or at target, a wall-clock ms, when given: a restored deadline).
function R:arm(owner, name, delay, interval, fn, keep, sched, extra, target)
  extra = extra or {}
  if sched then
    local live = keep and self.timers:get(owner, name)
    if live and live.calendar then
      -- a reload: the live deadline stays unless the schedule changed
      if live.spec == sched.spec and live.kind == sched.kind then target = live.target end
      keep = false
    end
    local w = self.wall()
    target = target or sched.calendar(w)
    if not target then
      self.log("warn", owner, ("timer %q: %s %q never comes"):format(name, sched.kind, sched.spec))
      return
    end
    delay = math.max(0, math.ceil(target - w))
    extra.calendar, extra.target, extra.kind, extra.spec = sched.calendar, target, sched.kind,
                                                           sched.spec
  else
    extra.calendar, extra.target, extra.kind, extra.spec = false, false, false, false
  end
  return self.timers:set(owner, name, delay, interval, fn, keep, extra)
end

-- -------------------------------------------------------------- loading

local OWN = { runtime = true, guard = true, timers = true, dispatch = true, state = true, sys = true,
              host = true, calendar = true, json = true }
-- A traceback with only the scripts' frames (and the lib modules'): the
-- runtime's own lines and the C calls between them say nothing to the
-- author of a rule.
function M.script_frames(text)
  text = tostring(text)
  local out, n = {}, 0
  for line in text:gmatch("[^\n]+") do
    n = n + 1
    local frame = line:match("^%s+(.*)")
    if n == 1 or line == "stack traceback:" then
      out[#out + 1] = line
    elseif frame and not frame:match("^%[C%]") and not OWN[frame:match("lunamq/([%w_]+)%.lua:") or ""]
           and not frame:match("^%(tail call%)") and not frame:match("^%[string") then
      out[#out + 1] = line
    end
  end
  if out[#out] == "stack traceback:" then out[#out] = nil end
  return table.concat(out, "\n")
end

-- Compile and run one version of a script.  On success returns the
-- version's registrations; on failure nil and a message naming file:line.
function R:compile(rec, path)
  local src, err = sys.read_file(path)
  if not src then return nil, path .. ": cannot read" end
  local ver = { loading = true, handlers = {}, timers = {}, callbacks = {} }
  local env = self:make_env(rec, ver)
  -- text only: a precompiled chunk could break the VM's invariants
  local chunk, cerr = load(src, "@" .. path, "t", env)
  if not chunk then return nil, cerr, src end
  guard_mod.prepare(chunk)
  local ok, rerr = self.guard.call(chunk)
  ver.loading = false
  if not ok then return nil, M.script_frames(rerr), src end
  ver.env = env
  ver.src = src
  return ver
end

-- Swap a compiled version in: the old handlers go, the new ones come;
-- declared timers are re-attached by name (keeping their deadline) or
-- cancelled when no longer declared; handler-made timers stay.
function R:commit(rec, ver)
  local stopped = rec.version > 0 and self:stop_waiting(rec.name) or 0
  if stopped > 0 then
    self.log("info", rec.name, ("the previous version's %d waiting task%s stopped")
             :format(stopped, stopped == 1 and "" or "s"))
  end
  self.dispatch:remove(function(h) return h.script == rec.name and not h.waiter end)
  for _, h in ipairs(rec.handlers) do h.removed = true end
  rec.handlers = ver.handlers
  for _, h in ipairs(ver.handlers) do self.dispatch:add(h) end
  local declared = {}
  local saved = rec.saved_timers or {}
  rec.saved_timers = nil -- only the first version after a start uses them
  for _, t in ipairs(ver.timers) do
    declared[t.name] = true
    local live = self.timers:get(rec.name, t.name)
    local delay, target = t.delay, nil
    local was = saved[t.name]
    if not live and type(was) == "table" and type(was.due) == "number" then
      -- pending when the host stopped: the deadline it had, or at once
      delay = math.max(0, was.due - self.wall())
      target = was.due
      if t.sched and not (was[t.sched.kind] == t.sched.spec) then target = nil end
    end
    self:arm(rec.name, t.name, delay, t.interval, t.fn, live ~= nil, t.sched, { declared = true },
             target)
  end
  -- live timers set by handlers: on_timer(name) gives them the new callback
  for _, t in ipairs(self.timers:owned(rec.name)) do
    local cb = not t.internal and not declared[t.name] and ver.callbacks[t.name]
    if cb then t.fn = cb end
  end
  for name, was in pairs(saved) do
    local cb = ver.callbacks[name]
    if declared[name] then
      -- restored above
    elseif cb and type(was) == "table" and type(was.due) == "number" then
      -- set by a handler before the stop: its deadline, the on_timer callback
      local sched = was.at and self:schedule("at", was.at) or was.cron and self:schedule("cron", was.cron)
      local interval = type(was.interval) == "number" and was.interval > 0 and was.interval or nil
      self:arm(rec.name, name, math.max(0, was.due - self.wall()), interval, cb, false, sched or nil,
               { declared = false }, was.due)
      self.log("info", rec.name, ("timer %q restored (due in %.1f s)")
               :format(name, math.max(0, was.due - self.wall()) / 1000))
    else
      self.log("warn", rec.name, ("timer %q was pending when the host stopped, but the script "
        .. "neither declares it at its top level nor names its callback with on_timer(%q, fn): "
        .. "it cannot be restored"):format(name, name))
    end
  end
  rec.callbacks = ver.callbacks
  rec.declared = declared
  rec.warned = {}
  rec.on_connect = ver.on_connect
  rec.deps = ver.deps
  self.touched[rec.name] = true
  self.timers:cancel_owner(rec.name, function(t)
    return t.declared and not declared[t.name]
  end)
  rec.env = ver.env
  rec.src = ver.src
  rec.version = (rec.version or 0) + 1
  self:reconcile()
  if self.is_connected then self:run_on_connect(rec) end
end

-- name.lua -> name; hidden files (editor locks such as .#name.lua) and
-- other characters are not scripts.
local function script_name(file)
  return file:match("^([%w_%-][%w_%-%.]*)%.lua$")
end

-- Load or reload one file.  true when the new version is live.
function R:load(name, path, key)
  local rec = self.scripts[name]
  if rec == nil then
    local st, serr = self.store:load(name)
    if serr then self.log("warn", name, serr) end
    local saved, terr = self.store:load(name, "timers")
    if terr then self.log("warn", name, terr) end
    rec = { name = name, path = path, state = st, handlers = {}, version = 0,
            saved_timers = saved }
  end
  -- never live yet (new, or only broken versions so far)
  local fresh = rec.version == 0
  rec.key = key
  local ver, err, src = self:compile(rec, path)
  if not ver then
    rec.broken_src = src
    if fresh then
      -- a new file that does not load: remember its key so it is not
      -- retried until it changes, but it has nothing live
      rec.broken = true
      self.scripts[name] = rec
      self.log("error", name, "not loaded: " .. err)
    else
      self.log("error", name, "reload failed, the previous version keeps running: " .. err)
      -- (a lib module it uses changed and broke it: retried when it changes again)
      for dep in pairs(rec.deps or {}) do
        local st = sys.stat(dep)
        rec.deps[dep] = st and (st.size .. "/" .. st.mtime) or "gone"
      end
    end
    return false, err
  end
  rec.broken, rec.broken_src = false, nil
  self.scripts[name] = rec
  self:commit(rec, ver)
  self.log("info", name, (fresh and "loaded" or "reloaded") .. " " .. path)
  return true
end

function R:unload(name)
  local rec = self.scripts[name]
  if not rec then return end
  self:stop_waiting(name)
  self.dispatch:remove(function(h) return h.script == name end)
  self.timers:cancel_owner(name)
  self:save(rec)
  self.scripts[name] = nil
  self:reconcile()
  self.log("info", name, "unloaded (file removed)")
end

-- File times tick coarsely (a jiffy, a few ms), so two writes of the same
-- size in one tick leave size and mtime alike.  While a file's mtime is
-- that recent, its content is compared as well.
local RECENT_S = 2
function R:recent_and_different(rec, path, st)
  local sec = tonumber(st.mtime:match("^(%d+)"))
  if sys.realtime_ms() / 1000 - sec > RECENT_S then return false end
  local src = sys.read_file(path)
  return src ~= nil and src ~= rec.src and src ~= rec.broken_src
end

-- A lib module the script required has changed (or is gone) since it loaded.
function R:deps_changed(rec)
  for path, key in pairs(rec.deps or {}) do
    local st = sys.stat(path)
    if not st or (st.size .. "/" .. st.mtime) ~= key then return true end
  end
  return false
end

-- Look at the directory: load new files, reload changed ones (size or
-- mtime), unload removed ones.  Returns the number of changes seen.
function R:scan()
  local files, err = sys.list(self.dir)
  if not files then
    self.log("error", nil, err)
    return 0
  end
  local seen, changes = {}, 0
  for _, f in ipairs(files) do
    local name = script_name(f)
    if not name and f ~= ".state" and f ~= "lib" and not self.skipped[f] then
      -- (logged once per name)
      self.skipped[f] = true
      local st = sys.stat(self.dir .. "/" .. f)
      self.log("info", nil, ("skipped %s/%s: %s"):format(self.dir, f,
        st and st.dir and "a directory (scripts are *.lua files in the directory itself; "
                          .. "shared code goes in lib/)"
        or "not a script (name.lua, the name of letters, digits, _, - and .)"))
    end
    if name then
      local path = self.dir .. "/" .. f
      local st = sys.stat(path)
      if st and not st.dir then
        seen[name] = true
        local key = st.size .. "/" .. st.mtime
        local rec = self.scripts[name]
        if not rec or rec.key ~= key or self:recent_and_different(rec, path, st)
           or self:deps_changed(rec) then
          changes = changes + 1
          self:load(name, path, key)
        end
      end
    end
  end
  for name in pairs(self.scripts) do
    if not seen[name] then
      changes = changes + 1
      if self.scripts[name].broken then
        self.scripts[name] = nil
      else
        self:unload(name)
      end
    end
  end
  return changes
end

-- ------------------------------------------------------------ dispatch

-- Bring the broker's subscriptions to what the handlers need: only the
-- difference is sent, new subscriptions before the removal of old ones, so
-- a filter a reload keeps or adds loses nothing.
--
-- Overlapping filters (a/+ and a/#) make a broker such as mosquitto send
-- one copy of a message per matching subscription (MQTT 5 allows either,
-- [MQTT-3.3.4-2]..[MQTT-3.3.4-5]), which would call every matching handler
-- once per copy.  Two ways round that:
--
-- With sub_ids (MQTT 5, the broker has them) each filter is its own
-- SUBSCRIBE with its own Subscription Identifier, and a copy goes only to
-- the handlers of the filters whose identifiers it carries ([MQTT-3.3.4-3],
-- [MQTT-3.3.4-4]): every handler once per message however the broker
-- chooses.  Identifiers are never reused, so a late copy for a filter
-- unsubscribed since reaches nobody.
--
-- Without (MQTT 3.1.1, --no-sub-ids, or a CONNACK saying Subscription
-- Identifier Available 0) copies cannot be told apart, so the host
-- subscribes to a cover of the filters in which no two overlap
-- (dispatch.cover: a/# alone for a/+ and a/#) and dispatches every copy by
-- the trie: one copy per message, whatever the broker's policy.
--
-- The handover on a reload (see handover below).  Every SUBSCRIBE is
-- tracked until its SUBACK (on_subscribed).  An old subscription that
-- overlaps none of the new ones still waiting goes at once; one that does
-- is kept until the new ones are live.  Without identifiers that is the
-- SUBACK; a broker that sends a copy per subscription may then send
-- twice what it routes between the SUBACK and the UNSUBSCRIBE (a round
-- trip, and only for topics both match).  With identifiers it is exact:
-- while a new filter f is pending, its handlers take the copies of an old
-- subscription g that matches the topic (every message on it has one) and
-- ignore those under f's identifier; once every SUBACK is in, the host
-- publishes a fence (QoS 1) to its own fence topic.  The broker routes the
-- fence after f is live, and delivers in order, so every message that
-- arrives after the fence has a copy under f: from then on f's handlers
-- take only those, and g is unsubscribed.  Each message once, by the old
-- version or the new.
local FENCE_TIMEOUT_MS = 10000

function R:send_subscribe(list, props, what)
  local id, err = self.transport.subscribe(list, props)
  if not id then
    self.log("error", nil, ("subscribe %s: %s"):format(what, tostring(err)))
    return
  end
  if type(id) == "number" and id > 0 then
    self.outstanding[id] = true
    self.n_outstanding = self.n_outstanding + 1
  end
  return id
end

function R:send_unsubscribe(list)
  if #list == 0 then return end
  table.sort(list)
  local ok, err = self.transport.unsubscribe(list)
  if not ok then self.log("error", nil, "unsubscribe: " .. tostring(err)) end
  for _, f in ipairs(list) do
    self.subscribed[f] = nil
    self.retiring[f] = nil
    local id = self.id_of[f]
    if id then self.id_of[f], self.filter_of[id] = nil, nil end
  end
end

-- What the broker should have: { [filter] = qos }.
function R:target()
  local want = self.dispatch:wanted()
  if self.sub_ids then return want end
  return dispatch_mod.cover(want)
end

function R:reconcile()
  local want = self:target()
  local sub, unsub = {}, {}
  for f, q in pairs(want) do
    if self.subscribed[f] ~= q then sub[#sub + 1] = { f, q } end
    self.retiring[f] = nil
  end
  for f in pairs(self.subscribed) do
    if want[f] == nil then unsub[#unsub + 1] = f end
  end
  table.sort(sub, function(a, b) return a[1] < b[1] end)
  if #sub > 0 and self.sub_ids then
    -- a pending filter needs a fence only if a live subscription overlaps it
    local live = {}
    for f in pairs(self.subscribed) do
      if not self.pending[f] then live[#live + 1] = f end
    end
    for _, s in ipairs(sub) do
      local f = s[1]
      local id = self.id_of[f]
      local fresh = not id
      if fresh then
        self.next_sub_id = self.next_sub_id + 1
        id = self.next_sub_id
        self.id_of[f], self.filter_of[id] = id, f
      end
      self:send_subscribe({ s }, { subscription_identifier = id }, f)
      self.subscribed[f] = s[2]
      if fresh then
        -- (a QoS change re-subscribes the same filter: the broker replaces
        -- the subscription, nothing to hand over)
        local over = {}
        for _, g in ipairs(live) do
          if self.id_of[g] and dispatch_mod.overlap(f, g) then over[#over + 1] = self.id_of[g] end
        end
        if #over > 0 then
          table.sort(over)
          local of = {}
          for i, gid in ipairs(over) do of[i] = self.filter_of[gid] end
          self.pending[f] = { fence = self.fence_next, over = over, over_f = of }
          self.n_pending = self.n_pending + 1
        end
      end
    end
    if self.n_pending > 0 then self:want_fence() end
  elseif #sub > 0 then
    self:send_subscribe(sub, nil, "")
    for _, s in ipairs(sub) do
      self.subscribed[s[1]] = s[2]
      self.waiting[s[1]] = true
    end
  end
  -- old subscriptions: at once unless a new one still depends on them
  local now_list = {}
  for _, g in ipairs(unsub) do
    local tag
    if self.sub_ids then
      if self.pending[g] then
        self.pending[g] = nil
        self.n_pending = self.n_pending - 1
      end
      for _, p in pairs(self.pending) do
        for _, gid in ipairs(p.over) do
          if gid == self.id_of[g] then tag = math.max(tag or 0, p.fence) end
        end
      end
    else
      for f in pairs(self.waiting) do
        if want[f] and dispatch_mod.overlap(f, g) then tag = true break end
      end
    end
    if tag then self.retiring[g] = tag else now_list[#now_list + 1] = g end
  end
  self:send_unsubscribe(now_list)
end

-- The fence topic's subscription (made once, QoS 1) and the next fence
-- once no SUBACK is outstanding.
function R:want_fence()
  if not self.fence_id then
    self.next_sub_id = self.next_sub_id + 1
    self.fence_id = self.next_sub_id
    self:send_subscribe({ { self.fence_topic, 1 } }, { subscription_identifier = self.fence_id },
                        self.fence_topic)
  end
  self:maybe_send_fence()
end

function R:maybe_send_fence()
  if self.n_outstanding > 0 or self.fence_sent_upto >= self.fence_next then return end
  local due = false
  for _, p in pairs(self.pending) do
    if p.fence == self.fence_next then due = true break end
  end
  if not due then return end
  local k = self.fence_next
  self.fence_next = k + 1
  self.fence_sent_upto = k
  local id, err = self.transport.publish(self.fence_topic, self.run_id .. " " .. k, 1, false, nil)
  if not id then self.log("warn", nil, "fence: " .. tostring(err)) end
  self.timers:set("\0host", "fence", FENCE_TIMEOUT_MS, nil, function()
    if self.fence_seen < k then
      self.log("warn", nil, ("no fence back in %d s: handing over without it"):format(FENCE_TIMEOUT_MS / 1000))
      self:fence_arrived(k)
    end
  end, false, { internal = true })
end

-- Fence k is back: every filter waiting for it (or an earlier one) is live
-- for whatever arrives from now on; the old subscriptions go.
function R:fence_arrived(k)
  if k <= self.fence_seen then return end
  self.fence_seen = k
  for f, p in pairs(self.pending) do
    if p.fence <= k then
      self.pending[f] = nil
      self.n_pending = self.n_pending - 1
    end
  end
  local list = {}
  for g, tag in pairs(self.retiring) do
    if tag ~= true and tag <= k then list[#list + 1] = g end
  end
  self:send_unsubscribe(list)
  if self.n_pending == 0 then self.timers:cancel("\0host", "fence") end
  self:maybe_send_fence()
end

function R:on_fence(msg)
  local run, k = msg.payload:match("^(%S+) (%d+)$")
  if run == self.run_id then self:fence_arrived(tonumber(k)) end
end

-- A SUBACK (the host passes every "subscribed" event): msg_id, the reason
-- codes, the engine's error (e.g. LMQ_ESUB_ID_NOT_SUPPORTED) if the
-- request failed.
function R:on_subscribed(msg_id, reasons, err)
  if self.forgotten[msg_id] then
    -- asked before a switch of mode: its failure (or grant) is old news
    self.forgotten[msg_id] = nil
    return true
  end
  if not self.outstanding[msg_id] then return false end
  self.outstanding[msg_id] = nil
  self.n_outstanding = self.n_outstanding - 1
  if err and err ~= 0 then
    self.log("warn", nil, ("subscribe failed: %s"):format(tostring(err)))
  end
  for i, r in ipairs(reasons or {}) do
    if r >= 0x80 then self.log("warn", nil, ("subscription %d refused: 0x%02x"):format(i, r)) end
  end
  if self.n_outstanding > 0 then return true end
  if self.sub_ids then
    self:maybe_send_fence()
  else
    self.waiting = {}
    local list = {}
    for g, tag in pairs(self.retiring) do
      if tag == true then list[#list + 1] = g end
    end
    self:send_unsubscribe(list)
  end
  return true
end

-- Switch Subscription Identifiers off (the CONNACK said the broker has
-- none) or on: nothing the runtime asked for counts as subscribed any more
-- (the engine refused the SUBSCRIBEs that carried one), so everything is
-- subscribed again the other way.
function R:set_sub_ids(on)
  on = on and true or false
  if on == self.sub_ids then return end
  self.sub_ids = on
  self:reset_subscriptions()
  self:reconcile()
end

function R:reset_subscriptions()
  self.forgotten = self.forgotten or {}
  for id in pairs(self.outstanding or {}) do self.forgotten[id] = true end
  self.subscribed, self.id_of, self.filter_of = {}, {}, {}
  self.pending, self.n_pending, self.retiring, self.waiting = {}, 0, {}, {}
  self.outstanding, self.n_outstanding = {}, 0
  self.fence_id = nil
  self.fence_sent_upto = self.fence_next - 1
  self.fence_seen = self.fence_next - 1
  self.timers:cancel("\0host", "fence")
end

-- Tell the transport's event sink about a host event (value 1): the host
-- passes it to its client's C plugins (lmq_client_plugin_event), where the
-- metrics plugin counts it.  Optional: a transport without `event` is fine.
function R:event(name)
  local ev = self.transport and self.transport.event
  if ev then ev(name, 1) end
end

-- Note an error of a handler (or timer); disable it after max_errors in a
-- row.  runaway: the time bound stopped it.  Each is also an event:
-- host_handler_errors, host_handler_runaway, host_handler_disabled.
function R:failed(h, what, err, runaway)
  h.errors = h.errors + 1
  h.consecutive = h.consecutive + 1
  self.log("error", h.script, ("%s failed (%d calls, %d errors): %s")
           :format(what, h.calls or 0, h.errors, err))
  self:event("host_handler_errors")
  if runaway then self:event("host_handler_runaway") end
  if h.consecutive >= self.max_errors then
    h.disabled = true
    self.log("error", h.script, ("%s disabled after %d errors in a row"):format(what, h.consecutive))
    self:event("host_handler_disabled")
    return true
  end
end

-- What a message goes through before the handler: changed_only drops a
-- repeat, throttle drops what comes within the window after a call,
-- debounce holds the message until the topic has been quiet for a while
-- (and then calls with the latest one).  All per topic.
function R:call_handler(h, msg)
  local topic, payload = msg.topic, msg.payload
  if h.changed_only then
    if h.seen[topic] == payload then return end
    h.seen[topic] = payload
  end
  if h.throttle then
    local now, prev = self.clock(), h.throttled[topic]
    if prev and now - prev < h.throttle then return end
    h.throttled[topic] = now
  end
  if h.debounce then
    self.timers:set(h.script, ("\0debounce:%d:%s"):format(h.id, topic), h.debounce, nil,
                    function()
                      if not h.removed and not h.disabled then self:invoke(h, msg) end
                    end, false, { internal = true })
    return
  end
  self:invoke(h, msg)
end

function R:invoke(h, msg)
  local payload = msg.payload
  local arg = payload
  if h.json then
    local ok, v = pcall(json.decode, payload)
    if not ok then
      self.log("warn", h.script, ("%s: payload on %s is not JSON, handler skipped")
               :format(h.where, msg.topic))
      return
    end
    arg = v
  end
  h.calls = h.calls + 1
  h.label = h.label or ("handler %s (%s)"):format(h.where, h.filter)
  if self.trace then
    self.log("debug", h.script, ("%s -> %s (%d bytes)"):format(msg.topic, h.label, #payload))
  end
  self:spawn(h, h.label, h.fn, arg, msg.topic, msg)
end

-- ------------------------------------------------------------------ tasks
--
-- Every handler and timer callback runs as a task (a coroutine), so it can
-- wait: sleep() and request() suspend it, a timer or a reply resumes it.
-- The runaway bound covers each slice between two waits (the count hook is
-- global in LuaJIT, so it runs inside coroutines too).  Errors are counted
-- on the handler or timer that started the task.

--
-- A coroutine costs more to make than a short handler takes to run, so the
-- ones whose task finished are kept (POOL_MAX) and run the next task: a
-- worker calls its task's function, then yields DONE and waits for the
-- next one (a tail call, the stack does not grow).  One that failed is
-- dead and is not kept.  A task that finished is marked done, so a late
-- resume of it never reaches the coroutine's next task.
local DONE = setmetatable({}, { __tostring = function() return "task done" end })
local POOL_MAX = 32
local yield = coroutine.yield
local function worker(fn, ...)
  fn(...)
  return worker(yield(DONE))
end

function R:spawn(owner, what, fn, ...)
  local pool = self.pool
  if not pool then
    pool = {}
    self.pool = pool
  end
  local n = #pool
  local co
  if n > 0 then
    co = pool[n]
    pool[n] = nil
  else
    co = coroutine.create(worker)
  end
  local task = { co = co, owner = owner, what = what, script = owner.script or owner.owner }
  return self:resume(task, fn, ...)
end

function R:current_task(what)
  local task = self.current
  if not task or coroutine.running() ~= task.co then
    error(what .. ": only inside a handler or a timer callback", 3)
  end
  return task
end

function R:resume(task, ...)
  if task.done or coroutine.status(task.co) ~= "suspended" then return end
  local prev = self.current
  self.current = task
  local t0 = sys.monotonic_ms()
  local stops = self.guard.stops
  local ok, rok, err = self.guard.call(coroutine.resume, task.co, ...)
  local owner = task.owner
  owner.time_ms = (owner.time_ms or 0) + (sys.monotonic_ms() - t0)
  self.current = prev
  self.touched[task.script] = true
  if ok and rok then
    if err == DONE then
      task.done = true
      task.owner.consecutive = 0
      local pool = self.pool
      if #pool < POOL_MAX then pool[#pool + 1] = task.co end
    end
    return
  end
  local msg = ok and M.script_frames(debug.traceback(task.co, tostring(err))) or tostring(rok)
  self:task_failed(task, msg, self.guard.stops ~= stops)
end

function R:task_failed(task, msg, runaway)
  local o = task.owner
  if o.loop_stopped then
    o.loop_stopped = nil
    return
  end
  o.script = o.script or o.owner
  o.consecutive = o.consecutive or 0
  o.errors = o.errors or 0
  if self:failed(o, task.what, msg, runaway) then
    if o.filter then
      self:reconcile()
    elseif o.name then
      self.timers:cancel(o.owner, o.name)
    end
  end
end

-- The loop guard: the running handler publishes to topic; one whose own
-- filter matches it, more than loop_max times within a second, triggers
-- itself through the broker: it is disabled and reported, and this call
-- stops with an error.
function R:loop_check(topic)
  local task = self.current
  local h = task and task.owner
  if not (h and h.filter and h.fn) or not self.matches(h.filter, topic) then return end
  local now = self.clock()
  if not h.loop_since or now - h.loop_since >= 1000 then
    h.loop_since, h.loop_n = now, 0
  end
  h.loop_n = h.loop_n + 1
  if h.loop_n > self.loop_max then
    h.disabled = true
    self.log("error", h.script, ("loop: handler %s (%s) published to %s, which its own filter "
      .. "matches, more than %d times in a second: disabled (fix the rule and save it to "
      .. "reload)"):format(h.where, h.filter, topic, self.loop_max))
    self:event("host_handler_loop")
    h.loop_stopped = true -- (the error below is this report: not logged again)
    self:reconcile()
    error(("loop guard: %s publishes to its own filter (%s)"):format(h.where, topic), 0)
  end
end

-- A wait_for is over (message or timeout): its subscription goes.  true
-- the first time.
function R:end_wait(w)
  if w.ended then return false end
  w.ended = true
  self.dispatch:remove(function(h) return h == w end)
  self.timers:cancel(w.script, w.timer)
  self:reconcile()
  return true
end

-- A script's version is replaced or gone: everything of the old version
-- that waits stops (sleeping tasks, pending request and wait_for, debounce
-- and the other unnamed timers); named timers are the caller's business.
function R:stop_waiting(name)
  local n = 0
  for _, t in ipairs(self.timers:owned(name)) do
    if t.internal then
      if not t.name:match("^%z?debounce") then n = n + 1 end
      self.timers:cancel(name, t.name)
    end
  end
  for corr, p in pairs(self.requests) do
    if p.owner == name then self.requests[corr] = nil end
  end
  self.dispatch:remove(function(h)
    if h.waiter and h.script == name then
      h.ended = true
      return true
    end
  end)
  return n
end

-- The subscription for request() replies, made on first use.
function R:want_replies()
  if self.reply_handler then return end
  self.reply_handler = { filter = self.reply_prefix .. "/#", qos = 1, reply = true,
                         errors = 0, consecutive = 0, calls = 0 }
  self.dispatch:add(self.reply_handler)
  self:reconcile()
end

-- A reply: wake the request with its correlation data.  (msg.correlation
-- when the caller decoded it already, else from the MQTT 5 properties.)
function R:on_reply(msg)
  local corr = msg.correlation
  if not corr and msg.props then
    corr = require("lunamq").event_props(msg).correlation_data
  end
  local pend = corr and self.requests[corr]
  if not pend then return end
  self.requests[corr] = nil
  self.timers:cancel(pend.owner, pend.timer)
  self:wake_with(pend.task, msg, pend.json, "reply is not JSON: ")
end

-- Resume a request or wait_for with a message: payload (decoded when
-- asked), message; or nil, why, message when it is not JSON.
function R:wake_with(task, msg, as_json, not_json)
  local payload = msg.payload
  if as_json then
    local ok, v = pcall(json.decode, payload)
    if not ok then return self:resume(task, nil, not_json .. tostring(v), msg) end
    payload = v
  end
  self:resume(task, payload, msg)
end

-- A message for a wait_for (a retained copy only when it asked).
function R:on_wait(w, msg)
  if w.ended or (msg.retain and not w.retained) then return end
  self:end_wait(w)
  self:wake_with(w.task, msg, w.json, "not JSON: ")
end

-- The client is connected (every CONNACK): every script's on_connect.
function R:on_connected()
  self.is_connected = true
  for _, rec in pairs(self.scripts) do self:run_on_connect(rec) end
end
function R:on_disconnected() self.is_connected = false end

function R:run_on_connect(rec)
  for _, c in ipairs(rec.on_connect or {}) do
    if not c.disabled then
      c.calls = c.calls + 1
      self:spawn(c, ("on_connect %s"):format(c.where), c.fn)
    end
  end
end

function R:deliver_to(h, msg)
  if h.reply then
    self:on_reply(msg)
  elseif h.waiter then
    self:on_wait(h, msg)
  elseif h.keep then
    return
  elseif not h.disabled then
    self:call_handler(h, msg)
  end
end

-- The identifier whose copies handler h takes for topic while its filter
-- is pending (see reconcile): the first old subscription that matches the
-- topic, else its own.
function R:route(h, topic)
  local p = self.pending[h.filter]
  if p then
    for i, gid in ipairs(p.over) do
      if self.matches(p.over_f[i], topic) then return gid end
    end
  end
  return self.id_of[h.filter]
end

-- During a handover: each handler takes the copies under its route.
function R:deliver_routed(hs, msg, ids)
  local topic = msg.topic
  for i = 1, #hs do
    local h = hs[i]
    local r = self:route(h, topic)
    local take = false
    if type(ids) == "number" then
      take = r == ids
    else
      for j = 1, #ids do
        if ids[j] == r then take = true break end
      end
    end
    if take then self:deliver_to(h, msg) end
  end
end

-- The handlers of hs whose filter has Subscription Identifier id.
local function deliver_by_id(self, hs, id, msg)
  local f = self.filter_of[id]
  if not f then return end
  for i = 1, #hs do
    if hs[i].filter == f then self:deliver_to(hs[i], msg) end
  end
end

-- One incoming message: { topic =, payload =, qos =, retain = [, props =] }.
-- With Subscription Identifiers on it, only the handlers of those filters.
function R:deliver(msg)
  if msg.topic == self.fence_topic then return self:on_fence(msg) end
  self.last[msg.topic] = msg.payload
  local hs = self.dispatch:handlers_for(msg.topic)
  local ids = self.sub_ids and msg.props and msg.props ~= "" and sub_ids_of(msg)
  if ids and self.n_pending > 0 then
    return self:deliver_routed(hs, msg, ids)
  elseif type(ids) == "number" then
    return deliver_by_id(self, hs, ids, msg)
  elseif ids then
    for j = 1, #ids do deliver_by_id(self, hs, ids[j], msg) end
    return
  end
  for i = 1, #hs do self:deliver_to(hs[i], msg) end
end

-- Run the timers that are due.
function R:run_timers()
  return self.timers:run_due(function(t)
    if t.internal then
      -- the runtime's own (sleep, request timeout, debounce): they resume
      -- or start tasks, which carry the guard
      t.fn()
    else
      self:spawn(t, ("timer %q"):format(t.name), t.fn)
    end
  end)
end

-- Milliseconds until the next timer, nil when there is none.
function R:next_timer_in() return self.timers:next_in() end

-- A script's state table and its pending timers (deadlines as wall-clock
-- ms) to the state dir.  A script that never loaded has nothing to save.
function R:save(rec)
  if rec.version == 0 then return end
  local ok, err, bad = self.store:save(rec.name, rec.state)
  if not ok then self.log("error", rec.name, err) end
  self:report_unsaved(rec, ok and err or bad)
  local pending = {}
  for _, t in ipairs(self.timers:owned(rec.name)) do
    if not t.internal then
      local p = { due = math.floor(t.due + self.wall_offset), interval = t.interval }
      if t.calendar then
        p.due = t.target
        p[t.kind] = t.spec
      end
      pending[t.name] = p
    end
  end
  ok, err = self.store:save(rec.name, pending, "timers")
  if not ok then self.log("error", rec.name, err) end
end

-- Values of state that cannot be kept: one error line per value, when it
-- first appears (not at every flush while it stays).
function R:report_unsaved(rec, bad)
  local was = rec.unsaved or {}
  local now = {}
  for _, why in ipairs(bad or {}) do
    now[why] = true
    if not was[why] then
      self.log("error", rec.name, why .. " (the rest of the state is saved; "
               .. "state keeps strings, numbers, booleans and tables of them)")
    end
  end
  rec.unsaved = now
end

-- Persist every script that ran since the last flush.
function R:flush()
  for name in pairs(self.touched) do
    local rec = self.scripts[name]
    if rec then self:save(rec) end
  end
  self.touched = {}
end

-- Save everything (on the way out), and log the counters of every handler
-- that ran.
function R:close()
  self.guard.release()
  for _, rec in pairs(self.scripts) do self:save(rec) end
  self.touched = {}
  for name, rec in pairs(self.scripts) do
    for _, h in ipairs(rec.handlers) do
      if h.calls > 0 then
        self.log("info", name, ("handler %s (%s): %d calls, %d errors, %.1f ms%s")
                 :format(h.where, h.filter, h.calls, h.errors, h.time_ms,
                         h.disabled and ", disabled" or ""))
      end
    end
  end
end

-- { [script] = { handlers = n, timers = { names } } } for status and specs.
function R:status()
  local r = {}
  for name, rec in pairs(self.scripts) do
    local tn = {}
    for _, t in ipairs(self.timers:owned(name)) do
      if not t.internal then tn[#tn + 1] = t.name end
    end
    r[name] = { handlers = #rec.handlers, timers = tn, version = rec.version,
                broken = rec.broken }
  end
  return r
end

return M
