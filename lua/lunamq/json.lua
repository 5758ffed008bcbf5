-- lunamq.json - JSON for rule scripts and for the state files.
--
-- Decoding is lua-cjson's (C, exact: strtod), with JSON null turned into
-- nil so `if sensor.occupancy then` is false for {"occupancy": null};
-- json.null stays for a script that must send a null.  Encoding is written
-- here, because lua-cjson's is wrong for these uses: it escapes "/" (Home
-- Assistant discovery topics come out as "homeassistant\/switch\/...") and
-- prints at most 14 significant digits (2^53 becomes 9.007199254741e+15).
-- Here integers up to 2^53 are exact integers, other numbers the shortest
-- text that reads back as the same double, strings are escaped only where
-- JSON needs it (UTF-8 passes as it is).
--
-- encode_state / decode_state: the same text with tags, so a state table
-- comes back exactly (numeric keys stay numbers, mixed tables keep both
-- parts, +-inf survive); values that cannot be kept are reported with the
-- key path and left out, never failing the rest.
local cjson = require("cjson").new()
cjson.decode_max_depth(1000)

local M = {}
local null = cjson.null
M.null = null

local type, pairs, next, tostring, tonumber = type, pairs, next, tostring, tonumber
local format, concat, floor, huge = string.format, table.concat, math.floor, math.huge
local gsub, byte = string.gsub, string.byte

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
              ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function esc_char(c) return ESC[c] or format("\\u%04x", byte(c)) end
local function quote(s)
  return '"' .. gsub(s, '[%c"\\]', esc_char) .. '"'
end

local TWO53 = 2 ^ 53
-- The text of a finite number: an integer as one, else the shortest of
-- %.14g .. %.17g that reads back exactly.
local function number(n)
  if n == floor(n) and n > -TWO53 and n < TWO53 then
    if n == 0 then return "0" end -- (-0 too)
    return format("%.0f", n)
  end
  for p = 14, 16 do
    local s = format("%." .. p .. "g", n)
    if tonumber(s) == n then return s end
  end
  return format("%.17g", n)
end
M.number = number

-- keys 1..n and nothing else (n >= 1): n; else nil
local function array_len(t)
  local n = #t
  if n == 0 or t[n] == nil then return nil end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  if count ~= n then return nil end
  return n
end

-- ------------------------------------------------------------ plain JSON

local encode_value
local function encode_table(t, buf, seen, depth)
  if seen[t] then error("json.encode: a table that contains itself cannot be encoded", 0) end
  if depth > 1000 then error("json.encode: nested too deep", 0) end
  seen[t] = true
  local n = array_len(t)
  if n then
    buf[#buf + 1] = "["
    for i = 1, n do
      if i > 1 then buf[#buf + 1] = "," end
      encode_value(t[i], buf, seen, depth + 1)
    end
    buf[#buf + 1] = "]"
  else
    buf[#buf + 1] = "{"
    -- keys in order, so the same table is always the same text
    local keys = {}
    for k in pairs(t) do
      local tk = type(k)
      if tk == "number" then
        keys[#keys + 1] = number(k)
      elseif tk == "string" then
        keys[#keys + 1] = k
      else
        error("json.encode: a " .. tk .. " key cannot be encoded", 0)
      end
    end
    table.sort(keys)
    for i, k in ipairs(keys) do
      if i > 1 then buf[#buf + 1] = "," end
      local v = t[k]
      if v == nil then v = t[tonumber(k)] end
      buf[#buf + 1] = quote(k)
      buf[#buf + 1] = ":"
      encode_value(v, buf, seen, depth + 1)
    end
    buf[#buf + 1] = "}"
  end
  seen[t] = nil
end

function encode_value(v, buf, seen, depth)
  local tv = type(v)
  if tv == "string" then
    buf[#buf + 1] = quote(v)
  elseif tv == "number" then
    if v ~= v or v == huge or v == -huge then
      error("json.encode: " .. tostring(v) .. " is not a JSON number", 0)
    end
    buf[#buf + 1] = number(v)
  elseif tv == "boolean" then
    buf[#buf + 1] = v and "true" or "false"
  elseif tv == "table" then
    encode_table(v, buf, seen, depth)
  elseif v == nil or v == null then
    buf[#buf + 1] = "null"
  else
    error("json.encode: a " .. tv .. " cannot be encoded", 0)
  end
end

-- value -> JSON text; raises an error for what JSON cannot hold.
function M.encode(v)
  local buf = {}
  encode_value(v, buf, {}, 0)
  return concat(buf)
end

-- JSON null -> nil, in place (objects lose the key, arrays get a hole).
local function strip_null(t, depth)
  if depth > 1000 then return t end
  for k, v in next, t do
    if v == null then
      t[k] = nil
    elseif type(v) == "table" then
      strip_null(v, depth + 1)
    end
  end
  return t
end

-- JSON text -> value (null -> nil); raises an error on bad JSON.
function M.decode(s)
  local v = cjson.decode(s)
  if type(v) == "table" then return strip_null(v, 0) end
  if v == null then return nil end
  return v
end

-- --------------------------------------------------------------- state
--
-- The state file is JSON.  A table whose keys are all strings (none
-- beginning with "$") is an object, one with keys 1..n an array, any other
-- table {"$t": [[key, value], ...]} (a number key stays a number); +-inf is
-- {"$n": "inf"} / {"$n": "-inf"}.  What cannot be kept (a function,
-- userdata, a coroutine, a table that contains itself, NaN, a key that is
-- neither string nor number) is left out and reported.

local function path_of(path, k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return path .. "." .. k end
  if type(k) == "string" then return path .. "[" .. quote(k) .. "]" end
  return path .. "[" .. tostring(k) .. "]"
end

local state_value
-- appends the encoding of t; refused values go to bad as "path: why"
local function state_table(t, buf, path, seen, bad, depth)
  if seen[t] then
    bad[#bad + 1] = path .. ": a table that contains itself (a cycle) cannot be saved"
    buf[#buf + 1] = "null"
    return
  end
  if depth > 200 then
    bad[#bad + 1] = path .. ": nested deeper than 200 levels, not saved"
    buf[#buf + 1] = "null"
    return
  end
  seen[t] = true
  local n = array_len(t)
  if n then
    buf[#buf + 1] = "["
    for i = 1, n do
      if i > 1 then buf[#buf + 1] = "," end
      -- (a refused element leaves a hole, the others keep their index)
      if not state_value(t[i], buf, path_of(path, i), seen, bad, depth + 1) then
        buf[#buf + 1] = "null"
      end
    end
    buf[#buf + 1] = "]"
    seen[t] = nil
    return
  end
  local strs, nums, plain = {}, {}, true
  for k in pairs(t) do
    local tk = type(k)
    if tk == "string" then
      strs[#strs + 1] = k
      if byte(k, 1) == 36 then plain = false end -- "$..."
    elseif tk == "number" and k == k then
      nums[#nums + 1] = k
      plain = false
    else
      bad[#bad + 1] = ("%s: a %s key cannot be saved"):format(path, tk == "number" and "NaN" or tk)
    end
  end
  table.sort(strs)
  table.sort(nums)
  local first = true
  if plain then
    buf[#buf + 1] = "{"
    for _, k in ipairs(strs) do
      local mark = #buf
      buf[#buf + 1] = (first and "" or ",") .. quote(k) .. ":"
      if not state_value(t[k], buf, path_of(path, k), seen, bad, depth + 1) then
        for i = #buf, mark + 1, -1 do buf[i] = nil end
      else
        first = false
      end
    end
    buf[#buf + 1] = "}"
  else
    buf[#buf + 1] = '{"$t":['
    local function pair(k, ktext)
      local mark = #buf
      buf[#buf + 1] = (first and "[" or ",[") .. ktext .. ","
      if not state_value(t[k], buf, path_of(path, k), seen, bad, depth + 1) then
        for i = #buf, mark + 1, -1 do buf[i] = nil end
      else
        buf[#buf + 1] = "]"
        first = false
      end
    end
    for _, k in ipairs(nums) do
      if k == huge or k == -huge then
        pair(k, k > 0 and '{"$n":"inf"}' or '{"$n":"-inf"}')
      else
        pair(k, number(k))
      end
    end
    for _, k in ipairs(strs) do pair(k, quote(k)) end
    buf[#buf + 1] = "]}"
  end
  seen[t] = nil
end

-- true when v was written, false when it was refused (nothing written)
function state_value(v, buf, path, seen, bad, depth)
  local tv = type(v)
  if tv == "string" then
    buf[#buf + 1] = quote(v)
  elseif tv == "number" then
    if v ~= v then
      bad[#bad + 1] = path .. ": NaN cannot be saved"
      return false
    elseif v == huge then
      buf[#buf + 1] = '{"$n":"inf"}'
    elseif v == -huge then
      buf[#buf + 1] = '{"$n":"-inf"}'
    else
      buf[#buf + 1] = number(v)
    end
  elseif tv == "boolean" then
    buf[#buf + 1] = v and "true" or "false"
  elseif tv == "table" then
    state_table(v, buf, path, seen, bad, depth)
  elseif v == null then
    buf[#buf + 1] = "null"
  else
    bad[#bad + 1] = ("%s: a %s cannot be saved"):format(path, tv)
    return false
  end
  return true
end

-- A state table -> JSON text, and the list of what was left out
-- ("state.a.b: a function cannot be saved"), empty when nothing was.
function M.encode_state(t, root)
  local buf, bad = {}, {}
  state_value(t, buf, root or "state", {}, bad, 0)
  return concat(buf), bad
end

local untag
local function untag_value(v)
  if type(v) ~= "table" then
    if v == null then return nil end
    return v
  end
  return untag(v)
end
function untag(t)
  local tagged = t["$t"]
  if tagged ~= nil and next(t, next(t)) == nil and type(tagged) == "table" then
    local r = {}
    for _, p in ipairs(tagged) do
      local k = untag_value(p[1])
      if k ~= nil then r[k] = untag_value(p[2]) end
    end
    return r
  end
  local n = t["$n"]
  if n ~= nil and next(t, next(t)) == nil then
    if n == "inf" then return huge end
    if n == "-inf" then return -huge end
  end
  for k, v in pairs(t) do
    if type(v) == "table" then
      t[k] = untag(v)
    elseif v == null then
      t[k] = nil
    end
  end
  return t
end

-- JSON text written by encode_state (or any JSON) -> value; raises on bad JSON.
function M.decode_state(s)
  return untag_value(cjson.decode(s))
end

return M
