-- lunamq.state - what a script keeps across restarts, as JSON files in the
-- state directory: STATE_DIR/<script>.json is its `state` table,
-- STATE_DIR/<script>.timers.json its pending timers.  Written atomically
-- (temp file, fsync, rename) and only when the encoding changed, so a crash
-- leaves the last good copy.
local sys = require "lunamq.sys"
local cjson = require("cjson").new()
cjson.encode_sparse_array(true)

local M = {}
local Store = {}
Store.__index = Store

-- dir nil: nothing is persisted (load gives {}, save does nothing).
function M.new(dir)
  local self = setmetatable({ dir = dir, last = {} }, Store)
  if dir then assert(sys.mkdir_p(dir)) end
  return self
end

-- kind nil: the state table; "timers": the pending timers.
function Store:path(owner, kind)
  return self.dir .. "/" .. owner .. (kind and ("." .. kind) or "") .. ".json"
end

local function slot(owner, kind) return owner .. "\0" .. (kind or "") end

-- The saved table ({} when there is none).  A file that does not decode is
-- kept aside (.bad) and reported, not silently overwritten.
function Store:load(owner, kind)
  if not self.dir then return {} end
  local path = self:path(owner, kind)
  local s = sys.read_file(path)
  if not s then
    -- nothing saved yet: an empty table needs no file either
    self.last[slot(owner, kind)] = "{}"
    return {}
  end
  local ok, t = pcall(cjson.decode, s)
  if not ok or type(t) ~= "table" then
    os.rename(path, path .. ".bad")
    return {}, ("%s unreadable, kept as %s.bad: %s"):format(path, path, tostring(t))
  end
  self.last[slot(owner, kind)] = s
  return t
end

-- Save if it changed.  true, or nil, message (a table JSON cannot hold:
-- functions, cycles, mixed keys).
function Store:save(owner, t, kind)
  if not self.dir then return true end
  local ok, s = pcall(cjson.encode, t)
  if not ok then
    return nil, ("%s of %s not saved: %s"):format(kind or "state", owner, tostring(s))
  end
  local k = slot(owner, kind)
  if self.last[k] == s then return true end
  local w, err = sys.write_atomic(self:path(owner, kind), s)
  if not w then return nil, err end
  self.last[k] = s
  return true
end

return M
