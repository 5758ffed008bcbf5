-- A private mosquitto for #broker specs: a free loopback port, a config in a
-- temp dir, started as a daemon with a pid file, ready once a client can
-- connect (with a deadline), stopped by pid.
--
--   local broker = require "helpers.broker"
--   local b = assert(broker.start())   -- b.port, b.host ({ port = N }: that port)
--   finally(function() b:stop() end)
local ffi = require "ffi"

local M = {}

pcall(ffi.cdef, [[
struct lmq_spec_sockaddr_in { uint16_t family; uint16_t port; uint32_t addr; uint8_t zero[8]; };
int socket(int domain, int type, int protocol);
int bind(int fd, const void *addr, uint32_t len);
int getsockname(int fd, void *addr, uint32_t *len);
int close(int fd);
uint16_t ntohs(uint16_t v);
int getpid(void);
int kill(int pid, int sig);
]])

-- A port the kernel just handed out on 127.0.0.1 (closed again at once).
function M.free_port()
  local fd = ffi.C.socket(2, 1, 0)
  assert(fd >= 0, "socket")
  local sa = ffi.new("struct lmq_spec_sockaddr_in")
  sa.family = 2
  sa.addr = 0x0100007f -- 127.0.0.1 in network order on little endian
  if ffi.abi("be") then sa.addr = 0x7f000001 end
  local len = ffi.new("uint32_t[1]", ffi.sizeof(sa))
  assert(ffi.C.bind(fd, sa, len[0]) == 0, "bind")
  assert(ffi.C.getsockname(fd, sa, len) == 0, "getsockname")
  ffi.C.close(fd)
  return ffi.C.ntohs(sa.port)
end

local function mkdtemp()
  local p = io.popen("mktemp -d /tmp/lunamq-lua-XXXXXX")
  local d = p:read("*l")
  p:close()
  return d
end

local Broker = {}
Broker.__index = Broker

function Broker:stop()
  if self.pid then
    -- SIGKILL: a test broker keeps nothing (persistence false), and
    -- mosquitto takes up to a second to notice SIGTERM.  A killed process
    -- holds no socket, so there is nothing to wait for (its zombie is for
    -- init to reap).
    ffi.C.kill(self.pid, 9)
    self.pid = nil
  end
  if self.dir then os.execute("rm -rf '" .. self.dir .. "'") end
  self.dir = nil
end

-- Start mosquitto; returns the broker or nil, message.
function M.start(opts)
  opts = opts or {}
  local lunamq = require "lunamq"
  local exe = os.getenv("LMQ_MOSQUITTO") or "/usr/sbin/mosquitto"
  local dir = mkdtemp()
  local port = opts.port or M.free_port()
  local conf = dir .. "/mosquitto.conf"
  local f = assert(io.open(conf, "w"))
  f:write(("listener %d 127.0.0.1\n"):format(port))
  f:write("allow_anonymous true\n")
  f:write("max_inflight_messages 1000\n")
  f:write("max_queued_messages 0\n")
  f:write("persistence false\n")
  f:write(("pid_file %s/mosquitto.pid\n"):format(dir))
  f:write(("log_dest file %s/mosquitto.log\n"):format(dir))
  local whoami = io.popen("id -u"):read("*l")
  if whoami == "0" then f:write("user root\n") end
  f:close()
  local b = setmetatable({ dir = dir, port = port, host = "127.0.0.1" }, Broker)
  -- (env -u: a sanitizer runtime preloaded for the specs is not mosquitto's)
  if not os.execute(("env -u LD_PRELOAD '%s' -d -c '%s' 2>/dev/null"):format(exe, conf)) then
    b:stop()
    return nil, "mosquitto did not start"
  end
  -- ready when the pid file is there and a client gets a CONNACK
  local deadline = lunamq.monotonic_ms() + (opts.timeout_ms or 5000)
  while lunamq.monotonic_ms() < deadline do
    local pf = io.open(dir .. "/mosquitto.pid")
    if pf then
      b.pid = tonumber(pf:read("*l"))
      pf:close()
    end
    if b.pid then
      local c = lunamq.new { host = b.host, port = port, reconnect = false,
                             connect_timeout_ms = 500 }
      c:connect()
      local ev = c:wait(function(e)
        return e.type == "connected" or e.type == "connect_failed"
      end, 1000)
      c:close()
      if ev and ev.type == "connected" then return b end
    end
    os.execute("sleep 0.02")
  end
  b:stop()
  return nil, "mosquitto did not accept connections on port " .. port
end

return M
