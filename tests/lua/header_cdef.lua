-- The generated lunamq_cdef.h is read by LuaJIT's ffi.cdef as it is, the
-- shared library loads, and calls through the FFI return what C returns.
-- Also checks that every LMQ_E* constant in lunamq.h has a message, so the
-- header's enum cannot drift from errors.def unnoticed.
-- usage: luajit header_cdef.lua lunamq_cdef.h liblunamq.so lunamq.h
local ffi = require "ffi"
local cdef_path, lib_path, header_path = arg[1], arg[2], arg[3]

local failed, passed = 0, 0
local function check(cond, what)
  if cond then passed = passed + 1 else failed = failed + 1; print("FAIL " .. what) end
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

ffi.cdef(slurp(cdef_path))
local C = ffi.load(lib_path)

check(ffi.string(C.lmq_version()):match("^%d+%.%d+%.%d+$") ~= nil, "lmq_version is MAJOR.MINOR.PATCH")
local major, minor, patch = ffi.string(C.lmq_version()):match("^(%d+)%.(%d+)%.(%d+)$")
check(C.lmq_version_number() == major * 1000000 + minor * 1000 + patch,
      "lmq_version_number agrees with lmq_version")

check(C.LMQ_EINVAL == -1, "enum constants are visible through the FFI")
check(ffi.string(C.lmq_strerror(C.LMQ_EINVAL)) == "invalid argument", "lmq_strerror through the FFI")

-- Every LMQ_E* in the header names a code the library knows.
local n = 0
local errors = slurp(header_path):match("enum lmq_error%s*(%b{})")
check(errors ~= nil, "enum lmq_error is in the header")
for name in (errors or ""):gmatch("%f[%w_](LMQ_E[%w_]+)%s*=") do
  n = n + 1
  local code = C[name]
  local errname = C.lmq_errname(code)
  check(errname ~= nil and ffi.string(errname) == name, name .. " is in errors.def with the same value")
end
check(n > 20, "the header's error enum was found")

check(C.lmq_topic_matches("a/+/c", -1, "a/b/c", -1) == 1, "lmq_topic_matches through the FFI")
check(C.lmq_topic_matches("a/#", 3, "b", 1) == 0, "explicit lengths through the FFI")
check(C.lmq_topic_validate_name("a/#", -1) == C.LMQ_ETOPIC_WILDCARD, "validation code through the FFI")

print(string.format("%d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
