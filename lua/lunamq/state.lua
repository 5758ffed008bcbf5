-- lunamq.state - what a script keeps across restarts, as JSON files in the
-- state directory: STATE_DIR/<script>.json is its `state` table,
-- STATE_DIR/<script>.timers.json its pending timers.  Written atomically
-- (temp file, fsync, rename) and only when the encoding changed, so a crash
-- leaves the last good copy.  The encoding (lunamq.json's encode_state)
-- round-trips exactly what it accepts: strings, numbers (not NaN; +-inf
-- too), booleans, and tables of those with string or number keys, arrays
-- and mixed tables alike.  A value it cannot keep is left out and named,
-- and the rest is saved all the same.
local sys = require "lunamq.sys"
local json = require "lunamq.json"

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
  local ok, t = pcall(json.decode_state, s)
  if not ok or type(t) ~= "table" then
    os.rename(path, path .. ".bad")
    return {}, ("%s unreadable, kept as %s.bad: %s"):format(path, path, tostring(t))
  end
  self.last[slot(owner, kind)] = s
  return t
end

-- Save if it changed.  true, or nil, message (the write failed); and the
-- list of values left out ("state.a[2]: a function cannot be saved"), which
-- do not stop the rest from being saved.
function Store:save(owner, t, kind)
  local s, bad = json.encode_state(t, kind == nil and "state" or kind)
  if not self.dir then return true, bad end
  local k = slot(owner, kind)
  if self.last[k] == s then return true, bad end
  local w, err = sys.write_atomic(self:path(owner, kind), s)
  if not w then return nil, err, bad end
  self.last[k] = s
  return true, bad
end

return M
