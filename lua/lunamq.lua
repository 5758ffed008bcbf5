-- lunamq.lua - the LuaJIT binding of the lunamq engine.
--
-- In the lua-resty-core manner: ffi.cdef of the engine's generated header,
-- opaque client handles with ffi.gc attached right after creation, an
-- explicit close that disarms the finalizer, out-parameter boxes allocated
-- once, and one helper turning a return code into `nil, message, code`.
--
-- Events are pulled in batches (lmq_client_events) into a reused array and
-- copied into Lua tables at once: a C-to-Lua callback from a JIT-compiled FFI
-- call would panic LuaJIT, and the engine's pointers are only borrowed until
-- the next pull.
--
-- Where things are found (an embedding program that preloads
-- package.loaded["lunamq.cdef"] gets its own cdef and its own symbols,
-- whatever the environment says):
--   cdef     LUNAMQ_CDEF, else package.loaded["lunamq.cdef"] (a string an
--            embedding program may preload), else lunamq_cdef.h next to the
--            library, in ../include of it, or in the usual include dirs.
--   library  LUNAMQ_LIBRARY, else the symbols already in the process (a
--            program linked with the engine), else "lunamq" on the loader's
--            path, else the usual install prefixes.
-- The cdef is the build's own output read at require time, so the binding
-- cannot carry a stale copy of the header.
local ffi = require "ffi"
local bit = require "bit"

local M = {}

local function readable(path)
  local f = path and io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

local LIB_PREFIXES = { "/usr/local/lib", "/usr/local/lib/x86_64-linux-gnu",
                       "/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/local/lib64" }

-- An embedding program (lunamq host) preloads the cdef of the engine linked
-- into it: then that cdef and that engine are used, whatever the
-- environment says, so the program and its Lua side cannot disagree.
local embedded = type(package.loaded["lunamq.cdef"]) == "string"

local function find_cdef(libpath)
  if embedded then return package.loaded["lunamq.cdef"], "package.loaded" end
  local env = os.getenv("LUNAMQ_CDEF")
  if env and env ~= "" then
    local s = readable(env)
    if not s then error("lunamq: LUNAMQ_CDEF=" .. env .. " cannot be read", 3) end
    return s, env
  end
  local pre = package.loaded["lunamq.cdef"]
  if type(pre) == "string" then return pre, "package.loaded" end
  local tries = {}
  if libpath and libpath:find("/") then
    local d = dirname(libpath)
    tries[#tries + 1] = d .. "/lunamq_cdef.h"
    tries[#tries + 1] = d .. "/../include/lunamq_cdef.h"
    tries[#tries + 1] = d .. "/../../include/lunamq_cdef.h"
  end
  tries[#tries + 1] = "/usr/local/include/lunamq_cdef.h"
  tries[#tries + 1] = "/usr/include/lunamq_cdef.h"
  for _, p in ipairs(tries) do
    local s = readable(p)
    if s then return s, p end
  end
  error("lunamq: lunamq_cdef.h not found (set LUNAMQ_CDEF); looked in "
        .. table.concat(tries, ", "), 3)
end

-- The cdef must be known before ffi.C can be asked for symbols, so the
-- library path is settled first (by name only), then the header is read.
local function find_library()
  local env = os.getenv("LUNAMQ_LIBRARY")
  if env and env ~= "" then return env end
  for _, d in ipairs(LIB_PREFIXES) do
    local p = d .. "/liblunamq.so"
    if io.open(p, "rb") then return p end
  end
  return nil
end

local libpath = find_library()
local cdef_text, cdef_from = find_cdef(libpath)
-- A second require (another copy of the module, a spec reloading it) must
-- not redefine the types: ffi.cdef refuses that.
if not pcall(ffi.typeof, "lmq_event") then
  ffi.cdef(cdef_text)
end

local function has_symbols(ns)
  return pcall(function() return ns.lmq_version end)
end

local C
if embedded and has_symbols(ffi.C) then
  C = ffi.C
  libpath = "(process)"
elseif os.getenv("LUNAMQ_LIBRARY") and os.getenv("LUNAMQ_LIBRARY") ~= "" then
  C = ffi.load(libpath)
elseif has_symbols(ffi.C) then
  C = ffi.C
  libpath = "(process)"
else
  local ok, lib = pcall(ffi.load, "lunamq")
  if ok then
    C = lib
  elseif libpath then
    C = ffi.load(libpath)
  else
    error("lunamq: liblunamq.so not found (set LUNAMQ_LIBRARY)", 2)
  end
end

M.C = C
M.cdef_path = cdef_from
M.library_path = libpath
M.version = ffi.string(C.lmq_version())
M.version_number = C.lmq_version_number()

-- Every C function this binding calls.  A spec checks that each is declared
-- by the cdef the binding loaded, so a rename in the header is a test
-- failure and not a runtime surprise.
M._uses = {
  "lmq_version", "lmq_version_number", "lmq_strerror", "lmq_errname",
  "lmq_topic_validate_name", "lmq_topic_validate_filter", "lmq_topic_matches",
  "lmq_client_new", "lmq_client_free", "lmq_client_set_int", "lmq_client_set_str",
  "lmq_client_set_url", "lmq_client_errmsg", "lmq_client_publish",
  "lmq_client_subscribe", "lmq_client_unsubscribe", "lmq_client_ack",
  "lmq_client_disconnect", "lmq_client_events", "lmq_client_connect",
  "lmq_client_fd", "lmq_client_want", "lmq_client_timeout_ms",
  "lmq_client_on_readable", "lmq_client_on_writable", "lmq_client_on_timeout",
  "lmq_reason_name", "lmq_proplist_new", "lmq_proplist_free", "lmq_proplist_add_int",
  "lmq_proplist_add_str", "lmq_proplist_add_user", "lmq_event_prop_int",
  "lmq_event_prop_str", "lmq_event_prop_user", "lmq_client_load_plugin",
  "lmq_client_plugin_event",
}
-- The lmq_event fields read when copying an event.
M._event_fields = {
  "type", "error", "reason", "msg_id", "packet_id", "qos", "retain", "dup",
  "session_present", "ack_id", "log_level", "topic_len", "topic", "payload_len",
  "payload", "n_reasons", "reasons", "props_len", "props", "text",
}

-- ------------------------------------------------------------------ errors

function M.strerror(code) return ffi.string(C.lmq_strerror(code)) end

function M.errname(code)
  local p = C.lmq_errname(code)
  return p ~= nil and ffi.string(p) or nil
end

-- lunamq.E.EINVAL == -1 etc., resolved from the cdef's enum.
M.E = setmetatable({}, { __index = function(t, k)
  local ok, v = pcall(function() return C["LMQ_" .. k] end)
  if not ok then return nil end
  v = tonumber(v)
  rawset(t, k, v)
  return v
end })

-- rc < 0 -> nil, message, code.  The client's detailed message, when it has
-- one, says more than the static text.
local function fail(rc, c)
  local msg
  if c ~= nil then
    local p = C.lmq_client_errmsg(c)
    if p ~= nil then msg = ffi.string(p) end
  end
  if not msg or msg == "" then msg = M.strerror(rc) end
  return nil, msg, rc
end

local function ret(rc, c)
  rc = tonumber(rc)
  if rc < 0 then return fail(rc, c) end
  return rc
end

local function ret_true(rc, c)
  rc = tonumber(rc)
  if rc < 0 then return fail(rc, c) end
  return true
end

-- ------------------------------------------------------------------ topics

function M.validate_name(topic)
  return ret_true(C.lmq_topic_validate_name(topic, #topic))
end

function M.validate_filter(filter)
  return ret_true(C.lmq_topic_validate_filter(filter, #filter))
end

-- true / false, or nil, message, code when either side is invalid.
function M.topic_matches(filter, topic)
  local rc = C.lmq_topic_matches(filter, #filter, topic, #topic)
  if rc < 0 then return fail(rc) end
  return rc == 1
end

-- ------------------------------------------------------------- topic trie

-- lunamq.trie(): the engine's topic trie (lmq_trie_*), filters carrying
-- int32 values (handler ids, say); match(topic) gives, in one call, the
-- values of every filter that matches, ascending, as lmq_topic_matches
-- would match them.  Freed by the GC, or at once by close().
local Trie = {}
Trie.__index = Trie
M.Trie = Trie

local INT32_MIN, INT32_MAX = -2147483648, 2147483647

function M.trie()
  local h = C.lmq_trie_new()
  if h == nil then return nil, M.strerror(-2), -2 end
  h = ffi.gc(h, C.lmq_trie_free)
  return setmetatable({ h = h, cap = 64, out = ffi.new("int32_t[?]", 64) }, Trie)
end

local function trie_closed()
  return nil, "trie is closed", M.E.ESTATE
end

-- add / remove: lmq_trie_add or lmq_trie_remove, 1 -> true, 0 -> false.
local function trie_edit(self, cfn, filter, value)
  if self.h == nil then return trie_closed() end
  if type(filter) ~= "string" then return nil, "filter must be a string", M.E.EINVAL end
  if type(value) ~= "number" or value % 1 ~= 0 or value < INT32_MIN or value > INT32_MAX then
    return nil, "value must be a 32-bit integer", M.E.EINVAL
  end
  local rc = cfn(self.h, filter, #filter, value)
  if rc < 0 then return fail(rc) end
  return rc == 1
end

-- add(filter, value) -> true (added) / false (there already), or nil,
-- message, code (a bad filter: the lmq_topic_validate_filter code).
function Trie:add(filter, value) return trie_edit(self, C.lmq_trie_add, filter, value) end

-- remove(filter, value) -> true (removed) / false (was not there), or nil,
-- message, code.
function Trie:remove(filter, value) return trie_edit(self, C.lmq_trie_remove, filter, value) end

function Trie:count()
  if self.h == nil then return trie_closed() end
  return tonumber(C.lmq_trie_count(self.h))
end

-- match(topic [, into]) -> a list of the matching values (ascending; into,
-- when given, is filled from 1 and its tail left alone), and their number;
-- or nil, message, code for a bad topic name.
function Trie:match(topic, into)
  if self.h == nil then return trie_closed() end
  local n = C.lmq_trie_match(self.h, topic, #topic, self.out, self.cap)
  if n > self.cap then
    -- more than the array holds: grow it (it is kept) and ask again
    local cap = self.cap
    while cap < n do cap = cap * 2 end
    self.cap, self.out = cap, ffi.new("int32_t[?]", cap)
    n = C.lmq_trie_match(self.h, topic, #topic, self.out, self.cap)
  end
  if n < 0 then return fail(n) end
  local r, out = into or {}, self.out
  for i = 0, n - 1 do r[i + 1] = out[i] end
  return r, n
end

-- Frees the engine's trie now and disarms the finalizer.  Safe twice.
function Trie:close()
  local h = self.h
  if h == nil then return end
  self.h = nil
  ffi.gc(h, nil)
  C.lmq_trie_free(h)
end

for _, name in ipairs { "lmq_trie_new", "lmq_trie_free", "lmq_trie_add", "lmq_trie_remove",
                        "lmq_trie_count", "lmq_trie_match" } do
  M._uses[#M._uses + 1] = name
end

function M.reason_name(packet_type, reason)
  local p = C.lmq_reason_name(packet_type, reason)
  return p ~= nil and ffi.string(p) or nil
end

-- ------------------------------------------------------------------ events

-- The header's numbers, as the cdef declares them: enum constants are read
-- from C (lunamq.const("LMQ_EV_MESSAGE") == 4), never written here.
local function const(name) return tonumber(C[name]) end
M.const = const

-- Event type codes to names ("message"), every LMQ_EV_* of the cdef.
local EVENT_NAMES = {}
for name in cdef_text:gmatch("LMQ_EV_([%w_]+)%s*=") do
  EVENT_NAMES[const("LMQ_EV_" .. name)] = name:lower()
end
M.event_names = EVENT_NAMES
local EV_MESSAGE, EV_LOG, EV_CONNECTED =
  const("LMQ_EV_MESSAGE"), const("LMQ_EV_LOG"), const("LMQ_EV_CONNECTED")

local BATCH = 64
-- lmq_client_events writes no more than this per event (the cdef's size).
local EVENT_SIZE = ffi.sizeof("lmq_event")

local function copy_event(ev)
  local t = {
    type = EVENT_NAMES[ev.type] or tostring(ev.type), code = ev.type,
    error = ev.error, reason = ev.reason, msg_id = ev.msg_id,
  }
  if ev.type == EV_MESSAGE then
    t.topic = ffi.string(ev.topic, ev.topic_len)
    t.payload = ev.payload ~= nil and ffi.string(ev.payload, ev.payload_len) or ""
    t.qos, t.retain, t.dup, t.ack_id = ev.qos, ev.retain ~= 0, ev.dup ~= 0, ev.ack_id
    t.packet_id = ev.packet_id
  elseif ev.type == EV_LOG then
    t.level = ev.log_level
  elseif ev.type == EV_CONNECTED then
    t.session_present = ev.session_present ~= 0
  end
  if ev.n_reasons > 0 and ev.reasons ~= nil then
    local r = {}
    for i = 0, ev.n_reasons - 1 do r[i + 1] = ev.reasons[i] end
    t.reasons = r
  end
  if ev.props_len > 0 and ev.props ~= nil then
    t.props = ffi.string(ev.props, ev.props_len)
  end
  if ev.text ~= nil then t.text = ffi.string(ev.text) end
  if ev.error ~= 0 then t.errname = M.errname(ev.error) end
  return t
end

-- -------------------------------------------------------- MQTT 5 properties

-- Property names (MQTT 5.0 section 2.2.2.2) to identifiers (the header's
-- LMQ_PROP_* values), and which ones are strings or binary data (the rest
-- are integers).  User properties go separately as `user`.
local PROP, PROP_STR = {}, {}
for name, enum, is_str in ([[
  payload_format_indicator PAYLOAD_FORMAT - message_expiry_interval MESSAGE_EXPIRY -
  content_type CONTENT_TYPE s response_topic RESPONSE_TOPIC s
  correlation_data CORRELATION_DATA s subscription_identifier SUBSCRIPTION_ID -
  session_expiry_interval SESSION_EXPIRY -
  assigned_client_identifier ASSIGNED_CLIENT_ID s server_keep_alive SERVER_KEEP_ALIVE -
  authentication_method AUTH_METHOD s authentication_data AUTH_DATA s
  request_problem_information REQUEST_PROBLEM_INFO - will_delay_interval WILL_DELAY -
  request_response_information REQUEST_RESPONSE_INFO -
  response_information RESPONSE_INFO s server_reference SERVER_REFERENCE s
  reason_string REASON_STRING s receive_maximum RECEIVE_MAXIMUM -
  topic_alias_maximum TOPIC_ALIAS_MAXIMUM - topic_alias TOPIC_ALIAS -
  maximum_qos MAXIMUM_QOS - retain_available RETAIN_AVAILABLE -
  maximum_packet_size MAXIMUM_PACKET_SIZE -
  wildcard_subscription_available WILDCARD_SUB_AVAILABLE -
  subscription_identifier_available SUB_ID_AVAILABLE -
  shared_subscription_available SHARED_SUB_AVAILABLE -
]]):gmatch("(%S+)%s+(%S+)%s+(%S)") do
  local id = const("LMQ_PROP_" .. enum)
  PROP[name] = id
  if is_str == "s" then PROP_STR[id] = true end
end
local PROP_SUB_ID, PROP_USER = PROP.subscription_identifier, const("LMQ_PROP_USER")
M.PROP = PROP

-- A property list from { content_type = "application/json", user =
-- { { "k", "v" }, ... } or { k = "v" } , ... }: an lmq_proplist freed by the
-- GC, or nil, message, code.
function M.proplist(t)
  local pl = C.lmq_proplist_new()
  if pl == nil then return nil, M.strerror(-2), -2 end
  pl = ffi.gc(pl, C.lmq_proplist_free)
  for k, v in pairs(t) do
    local rc
    if k == "user" then
      rc = 0
      if v[1] ~= nil then
        for _, kv in ipairs(v) do
          local key, val = tostring(kv[1]), tostring(kv[2])
          rc = C.lmq_proplist_add_user(pl, key, #key, val, #val)
          if rc < 0 then break end
        end
      else
        local keys = {}
        for uk in pairs(v) do keys[#keys + 1] = uk end
        table.sort(keys) -- a map has no order: make it a stable one
        for _, uk in ipairs(keys) do
          local val = tostring(v[uk])
          rc = C.lmq_proplist_add_user(pl, uk, #uk, val, #val)
          if rc < 0 then break end
        end
      end
    else
      local id = PROP[k]
      if not id then return nil, "unknown property " .. tostring(k), M.E.EINVAL end
      if PROP_STR[id] then
        v = tostring(v)
        rc = C.lmq_proplist_add_str(pl, id, v, #v)
      else
        if type(v) == "boolean" then v = v and 1 or 0 end
        rc = C.lmq_proplist_add_int(pl, id, v)
      end
    end
    if rc < 0 then return fail(rc) end
  end
  return pl
end

local prop_ev = ffi.new("lmq_event[1]")
local prop_i64 = ffi.new("int64_t[1]")
local prop_s = ffi.new("const char *[2]")
local prop_len = ffi.new("int32_t[2]")

-- Points prop_ev at a raw property block; false when there is none.
local function load_props(raw)
  if not raw or raw == "" then return false end
  ffi.fill(prop_ev, ffi.sizeof(prop_ev))
  prop_ev[0].props = ffi.cast("const uint8_t *", raw)
  prop_ev[0].props_len = #raw
  return true
end

-- The Subscription Identifiers of the block in prop_ev: a list, or nil.
local function read_sub_ids()
  local ids, i = nil, 0
  while C.lmq_event_prop_int(prop_ev, PROP_SUB_ID, i, prop_i64) == 1 do
    i = i + 1
    ids = ids or {}
    ids[i] = tonumber(prop_i64[0])
  end
  return ids
end

-- The MQTT 5 properties an event carried (ev.props, the raw block) as a
-- table: { content_type = ..., user = { { k, v }, ... },
-- subscription_identifier = { ... } }.  Decoded on demand, not on every
-- event.
function M.event_props(ev)
  local r = {}
  if not load_props(ev.props) then return r end
  for name, id in pairs(PROP) do
    if PROP_STR[id] then
      if C.lmq_event_prop_str(prop_ev, id, prop_s, prop_len) == 1 then
        r[name] = ffi.string(prop_s[0], prop_len[0])
      end
    elseif id == PROP_SUB_ID then
      r[name] = read_sub_ids()
    elseif C.lmq_event_prop_int(prop_ev, id, 0, prop_i64) == 1 then
      r[name] = tonumber(prop_i64[0])
    end
  end
  local i = 0
  while C.lmq_event_prop_user(prop_ev, i, prop_s, prop_len, prop_s + 1, prop_len + 1) == 1 do
    r.user = r.user or {}
    i = i + 1
    r.user[i] = { ffi.string(prop_s[0], prop_len[0]), ffi.string(prop_s[1], prop_len[1]) }
  end
  return r
end

-- The Subscription Identifiers a message event carried, as a list, or nil
-- when it has none: what a dispatcher asks of every message, so only that
-- property is looked up.
function M.event_sub_ids(ev)
  if not load_props(ev.props) then return nil end
  return read_sub_ids()
end

-- ------------------------------------------------------------------ client

local Client = {}
Client.__index = Client
M.Client = Client

local function option_id(name)
  local ok, v = pcall(function() return C["LMQ_OPT_" .. name:upper()] end)
  if ok then return tonumber(v) end
  return nil
end

-- lunamq.new{ host = "127.0.0.1", port = 1883, protocol = 5, ... }: option
-- names are the LMQ_OPT_* names in lower case; a string value goes through
-- lmq_client_set_str, a number or boolean through lmq_client_set_int.
function M.new(opts)
  local h = C.lmq_client_new()
  if h == nil then return nil, M.strerror(-2), -2 end
  h = ffi.gc(h, C.lmq_client_free)
  local self = setmetatable({
    h = h,
    evs = ffi.new("lmq_event[?]", BATCH),
    pending = {}, pending_i = 1,
  }, Client)
  for k, v in pairs(opts or {}) do
    local ok, msg, code = self:set(k, v)
    if not ok then
      self:close()
      return nil, msg, code
    end
  end
  return self
end

function Client:set(name, value)
  local h = self.h
  if h == nil then return nil, "client is closed", M.E.ESTATE end
  local id = option_id(name)
  if not id then return nil, "unknown option " .. tostring(name), M.E.EINVAL end
  local tv = type(value)
  if tv == "string" then
    return ret_true(C.lmq_client_set_str(h, id, value, #value), h)
  elseif tv == "boolean" then
    return ret_true(C.lmq_client_set_int(h, id, value and 1 or 0), h)
  elseif tv == "number" then
    return ret_true(C.lmq_client_set_int(h, id, value), h)
  end
  return nil, "option " .. name .. " wants a string, number or boolean", M.E.EINVAL
end

function Client:set_url(url)
  return ret_true(C.lmq_client_set_url(self.h, url, #url), self.h)
end

function Client:errmsg()
  return self.h ~= nil and ffi.string(C.lmq_client_errmsg(self.h)) or ""
end

-- Frees the engine's client now and disarms the finalizer.  Safe to call
-- twice.
function Client:close()
  local h = self.h
  if h == nil then return end
  self.h = nil
  ffi.gc(h, nil)
  C.lmq_client_free(h)
end

local function closed()
  return nil, "client is closed", M.E.ESTATE
end

-- load_plugin(path [, config]): a C plugin (lunamq_plugin.h) at the end of
-- the client's chain; before connecting.  true, or nil, message, code.
function Client:load_plugin(path, config)
  if self.h == nil then return closed() end
  return ret_true(C.lmq_client_load_plugin(self.h, path, config), self.h)
end

-- plugin_event(name [, value]): tell the client's C plugins about an event
-- of the application's (their on_app_event hook; the metrics plugin sums
-- value per name).  name: 1-255 bytes of UTF-8; value: an integer,
-- default 1.  true, or nil, message, code (EINVAL for a bad name).
function Client:plugin_event(name, value)
  if self.h == nil then return closed() end
  value = value or 1
  if type(name) ~= "string" then
    return nil, "plugin_event: name must be a string", M.E.EINVAL
  end
  if type(value) ~= "number" or value ~= math.floor(value) or value ~= value
     or math.abs(value) > 2 ^ 53 then
    return nil, "plugin_event: value must be an integer", M.E.EINVAL
  end
  local rc = tonumber(C.lmq_client_plugin_event(self.h, name, #name, value))
  if rc < 0 then return nil, "plugin_event: " .. M.strerror(rc), rc end
  return true
end

function Client:connect()
  if self.h == nil then return closed() end
  return ret_true(C.lmq_client_connect(self.h), self.h)
end

-- A flag given as a boolean or a number: 0, false and nil are off.  (Lua's
-- `v and 1 or 0` is 1 for 0.)
local function flag(v)
  return v ~= nil and v ~= false and v ~= 0
end

-- publish(topic, payload [, qos [, retain]]) or publish(topic, payload,
-- { qos =, retain =, props = { ... } (see lunamq.proplist) }) -> message id
function Client:publish(topic, payload, qos, retain)
  if self.h == nil then return closed() end
  local pl
  if type(qos) == "table" then
    local o = qos
    qos, retain = o.qos, o.retain
    if o.props then
      local msg, code
      pl, msg, code = M.proplist(o.props)
      if not pl then return nil, msg, code end
    end
  end
  payload = payload or ""
  return ret(C.lmq_client_publish(self.h, topic, #topic, payload, #payload,
                                  qos or 0, flag(retain) and 1 or 0, pl), self.h)
end

-- Subscription options as on the wire: bits 0-1 QoS, 2 no local,
-- 3 retain as published, 4-5 retain handling.
local SUB_NO_LOCAL, SUB_RAP = const("LMQ_SUB_NO_LOCAL"), const("LMQ_SUB_RETAIN_AS_PUBLISHED")
local SUB_RH_SHIFT = 4   -- LMQ_SUB_RETAIN_HANDLING_MASK is bits 4-5
local function sub_options(o)
  if type(o) == "number" then return o end
  o = o or {}
  local v = o.qos or 0
  if flag(o.no_local) then v = bit.bor(v, SUB_NO_LOCAL) end
  if flag(o.retain_as_published) then v = bit.bor(v, SUB_RAP) end
  if o.retain_handling then v = bit.bor(v, bit.lshift(o.retain_handling, SUB_RH_SHIFT)) end
  return v
end

-- subscribe("a/#", 1) or subscribe({ "a/#", { "b/+", 2 }, { filter = "c",
-- qos = 1, no_local = true } }) -> message id
-- subscribe(filter, qos) or subscribe({ { filter, qos or { options } }, ... }
-- [, qos [, props]]): props as for publish (MQTT 5 SUBSCRIBE properties,
-- e.g. { subscription_identifier = 7 }).
function Client:subscribe(filters, qos, props)
  if self.h == nil then return closed() end
  local pl
  if props then
    local msg, code
    pl, msg, code = M.proplist(props)
    if not pl then return nil, msg, code end
  end
  if type(filters) == "string" then filters = { { filters, qos } } end
  local n = #filters
  if n == 0 then return nil, "no filter", M.E.EINVAL end
  local subs = ffi.new("lmq_subscription[?]", n)
  -- The strings stay anchored by `filters` (or the table made above) until
  -- the call has copied them.
  for i, f in ipairs(filters) do
    local filter, o
    if type(f) == "string" then
      filter, o = f, qos or 0
    else
      filter = f.filter or f[1]
      o = f[2] or f
      if type(o) == "table" and o.qos == nil and qos then o = qos end
    end
    subs[i - 1].filter = filter
    subs[i - 1].filter_len = #filter
    subs[i - 1].options = sub_options(o)
  end
  return ret(C.lmq_client_subscribe(self.h, subs, n, pl), self.h)
end

function Client:unsubscribe(filters)
  if self.h == nil then return closed() end
  if type(filters) == "string" then filters = { filters } end
  local n = #filters
  if n == 0 then return nil, "no filter", M.E.EINVAL end
  local ptrs = ffi.new("const char *[?]", n)
  local lens = ffi.new("int32_t[?]", n)
  for i, f in ipairs(filters) do
    ptrs[i - 1] = f
    lens[i - 1] = #f
  end
  local rc = C.lmq_client_unsubscribe(self.h, ptrs, lens, n, nil)
  return ret(rc, self.h)
end

function Client:ack(ack_id, reason)
  if self.h == nil then return closed() end
  return ret_true(C.lmq_client_ack(self.h, ack_id, reason or 0), self.h)
end

-- Pause (true) or resume (false) the delivery of messages while the
-- connection goes on (lmq_client_pause_delivery): acks of our publishes,
-- PINGRESP and the rest are still read, incoming messages and their acks
-- wait in the engine.  Returns how many messages were held.
function Client:pause_delivery(paused)
  if self.h == nil then return closed() end
  return ret(C.lmq_client_pause_delivery(self.h, paused == false and 0 or 1), self.h)
end

function Client:disconnect(reason)
  if self.h == nil then return closed() end
  return ret_true(C.lmq_client_disconnect(self.h, reason or 0, nil), self.h)
end

-- The next event as a table, or nil when none is pending.  Events are pulled
-- in batches and copied, so nothing returned points into the engine.
function Client:next_event()
  local p = self.pending
  local i = self.pending_i
  if p[i] == nil then
    if self.h == nil then return nil end
    local n = C.lmq_client_events(self.h, self.evs, BATCH, EVENT_SIZE)
    if n <= 0 then return nil end
    p = {}
    for k = 0, n - 1 do p[k + 1] = copy_event(self.evs[k]) end
    self.pending, i = p, 1
  end
  self.pending_i = i + 1
  return p[i]
end

-- for ev in c:events() do ... end: every pending event, then stops.
function Client:events()
  return Client.next_event, self
end

-- -------------------------------------------------------- external driver

function Client:fd() return self.h ~= nil and C.lmq_client_fd(self.h) or -1 end
function Client:want() return self.h ~= nil and C.lmq_client_want(self.h) or 0 end
function Client:timeout_ms()
  return self.h ~= nil and tonumber(C.lmq_client_timeout_ms(self.h)) or -1
end
function Client:on_readable() return ret_true(C.lmq_client_on_readable(self.h), self.h) end
function Client:on_writable() return ret_true(C.lmq_client_on_writable(self.h), self.h) end
function Client:on_timeout() return ret_true(C.lmq_client_on_timeout(self.h), self.h) end

pcall(ffi.cdef, [[
struct lmq_lua_pollfd { int fd; short events; short revents; };
int poll(struct lmq_lua_pollfd *fds, unsigned long nfds, int timeout);
]])
local POLLIN, POLLOUT, POLLERR, POLLHUP = 1, 4, 8, 16
local pfd = ffi.new("struct lmq_lua_pollfd[2]")

-- Wait at most max_ms (nil: the client's own deadline) for the client's
-- socket, then hand what happened to the engine.  The external driver:
-- the caller keeps control of time, which is what the host needs for its
-- timers and its reload scan.  extra_fd, when given, is watched for reading
-- as well (the host's signal fd).  Returns true and whether extra_fd is
-- readable, or nil, message, code.
function Client:step(max_ms, extra_fd)
  local h = self.h
  if h == nil then return closed() end
  local to = tonumber(C.lmq_client_timeout_ms(h))
  if max_ms and (to < 0 or to > max_ms) then to = max_ms end
  if to < 0 then to = 1000 end
  local fd = C.lmq_client_fd(h)
  local want = C.lmq_client_want(h)
  pfd[0].fd = fd
  pfd[0].events = (bit.band(want, 1) ~= 0 and POLLIN or 0)
                + (bit.band(want, 2) ~= 0 and POLLOUT or 0)
  pfd[0].revents = 0
  pfd[1].fd = extra_fd or -1
  pfd[1].events = POLLIN
  pfd[1].revents = 0
  -- fd -1 (waiting to reconnect) is ignored by poll: only the timeout runs.
  local n = ffi.C.poll(pfd, 2, to)
  local extra = false
  if n > 0 then
    local rev = pfd[0].revents
    if bit.band(rev, POLLOUT + POLLERR + POLLHUP) ~= 0 then
      C.lmq_client_on_writable(h)
    end
    -- the write may have replaced the socket: check before reading
    if bit.band(rev, POLLIN + POLLERR + POLLHUP) ~= 0 and C.lmq_client_fd(h) == fd then
      C.lmq_client_on_readable(h)
    end
    extra = extra_fd ~= nil and pfd[1].revents ~= 0
  end
  if C.lmq_client_timeout_ms(h) == 0 then C.lmq_client_on_timeout(h) end
  return true, extra
end

-- Drive the client until pred(ev) is true for some event (returned), or
-- until timeout_ms passes (nil, "timeout").  Events seen on the way are
-- handed to `seen` when given.  For scripts and tests that want to wait.
function Client:wait(pred, timeout_ms, seen)
  local clock = M.monotonic_ms
  local deadline = clock() + (timeout_ms or 5000)
  while true do
    local ev = self:next_event()
    while ev do
      if pred(ev) then return ev end
      if seen then seen(ev) end
      ev = self:next_event()
    end
    local left = deadline - clock()
    if left <= 0 then return nil, "timeout", M.E.ETIMEOUT end
    local ok, msg, code = self:step(math.min(left, 100))
    if not ok then return nil, msg, code end
  end
end

-- CLOCK_MONOTONIC in milliseconds (a float with sub-millisecond part): the
-- host's clock (lunamq.sys), one for the binding and the host.
M.monotonic_ms = require("lunamq.sys").monotonic_ms

return M
