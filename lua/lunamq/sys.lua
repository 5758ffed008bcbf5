-- lunamq.sys - the few libc calls the host needs, through the FFI, so the
-- host depends on nothing but LuaJIT and the engine: a monotonic and a wall
-- clock, directory listing with size and mtime (statx, whose layout is the
-- same on every Linux architecture), mkdir, and an atomic file write
-- (temp file, fsync, rename).
local ffi = require "ffi"
local bit = require "bit"

local M = {}

pcall(ffi.cdef, [[
struct lmq_sys_timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clk, void *ts);
]])
pcall(ffi.cdef, [[
typedef struct lmq_lua_dir lmq_lua_dir;
struct lmq_lua_dirent {
  uint64_t d_ino; int64_t d_off; unsigned short d_reclen; unsigned char d_type;
  char d_name[256];
};
lmq_lua_dir *opendir(const char *name);
struct lmq_lua_dirent *readdir(lmq_lua_dir *d);
int closedir(lmq_lua_dir *d);

struct lmq_lua_statx_ts { int64_t tv_sec; uint32_t tv_nsec; int32_t reserved; };
struct lmq_lua_statx {
  uint32_t mask; uint32_t blksize; uint64_t attributes;
  uint32_t nlink; uint32_t uid; uint32_t gid; uint16_t mode; uint16_t spare0;
  uint64_t ino; uint64_t size; uint64_t blocks; uint64_t attributes_mask;
  struct lmq_lua_statx_ts atime, btime, ctime, mtime;
  uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
  uint64_t spare2[14];
};
int statx(int dirfd, const char *path, int flags, unsigned int mask,
          struct lmq_lua_statx *buf);

int open(const char *path, int flags, int mode);
long write(int fd, const void *buf, unsigned long n);
int fsync(int fd);
int close(int fd);
int rename(const char *from, const char *to);
int unlink(const char *path);
int mkdir(const char *path, int mode);
char *strerror(int errnum);
int getpid(void);
]])

local ts = ffi.new("struct lmq_sys_timespec")

-- Milliseconds on CLOCK_MONOTONIC (never jumps with the wall clock).
function M.monotonic_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

-- Milliseconds since the epoch (CLOCK_REALTIME): what persisted deadlines use.
function M.realtime_ms()
  ffi.C.clock_gettime(0, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local function errno_text()
  return ffi.string(ffi.C.strerror(ffi.errno()))
end

local AT_FDCWD = -100
local STATX_BASIC = 0x7ff
local sx = ffi.new("struct lmq_lua_statx")

-- { size =, mtime = "sec.nsec", dir = bool } or nil, message.  (mtime is a
-- string: nanoseconds since the epoch do not fit a double.)
function M.stat(path)
  if ffi.C.statx(AT_FDCWD, path, 0, STATX_BASIC, sx) ~= 0 then
    return nil, path .. ": " .. errno_text()
  end
  return {
    size = tonumber(sx.size),
    mtime = ("%d.%09d"):format(tonumber(sx.mtime.tv_sec), tonumber(sx.mtime.tv_nsec)),
    dir = bit.band(sx.mode, 0xf000) == 0x4000,
    mode = bit.band(sx.mode, 0xfff), -- permission bits
  }
end

-- The names in a directory (without "." and ".."), sorted; or nil, message.
function M.list(dir)
  local d = ffi.C.opendir(dir)
  if d == nil then return nil, dir .. ": " .. errno_text() end
  local names = {}
  while true do
    local e = ffi.C.readdir(d)
    if e == nil then break end
    local name = ffi.string(e.d_name)
    if name ~= "." and name ~= ".." then names[#names + 1] = name end
  end
  ffi.C.closedir(d)
  table.sort(names)
  return names
end

-- mkdir -p; true or nil, message.
function M.mkdir_p(path)
  local acc = path:sub(1, 1) == "/" and "" or "."
  for part in path:gmatch("[^/]+") do
    acc = acc .. "/" .. part
    if ffi.C.mkdir(acc, 493) ~= 0 and ffi.errno() ~= 17 then -- 0755, EEXIST
      return nil, acc .. ": " .. errno_text()
    end
  end
  return true
end

local O_WRONLY, O_CREAT, O_TRUNC, O_CLOEXEC = 1, 64, 512, 524288

-- Replace path's content so that a crash leaves either the old or the new
-- file, never a torn one: write a temp file beside it, fsync, rename over.
function M.write_atomic(path, data)
  local tmp = ("%s.tmp.%d"):format(path, ffi.C.getpid())
  local fd = ffi.C.open(tmp, bit.bor(O_WRONLY, O_CREAT, O_TRUNC, O_CLOEXEC), 420)
  if fd < 0 then return nil, tmp .. ": " .. errno_text() end
  local off, n = 0, #data
  local buf = ffi.cast("const char *", data)
  while off < n do
    local w = tonumber(ffi.C.write(fd, buf + off, n - off))
    if w < 0 then
      local msg = errno_text()
      ffi.C.close(fd)
      ffi.C.unlink(tmp)
      return nil, tmp .. ": " .. msg
    end
    off = off + w
  end
  local ok = ffi.C.fsync(fd) == 0
  local msg = not ok and errno_text()
  ffi.C.close(fd)
  if ok and ffi.C.rename(tmp, path) ~= 0 then
    ok, msg = false, errno_text()
  end
  if not ok then
    ffi.C.unlink(tmp)
    return nil, path .. ": " .. msg
  end
  return true
end

function M.getpid() return ffi.C.getpid() end

pcall(ffi.cdef, [[
int flock(int fd, int op);
int ftruncate(int fd, long length);
long pread(int fd, void *buf, unsigned long n, long off);
]])

-- An exclusive lock on path (created if need be, our pid written in it),
-- held while the process lives (the fd stays open; the kernel drops the
-- lock when the process ends, kill -9 included).  fd, or nil, message and,
-- when another process holds it, its pid as written in the file.
function M.lock(path)
  local fd = ffi.C.open(path, bit.bor(2, O_CREAT, O_CLOEXEC), 420) -- O_RDWR
  if fd < 0 then return nil, path .. ": " .. errno_text() end
  if ffi.C.flock(fd, 6) ~= 0 then -- LOCK_EX | LOCK_NB
    local e = ffi.errno()
    local msg = errno_text()
    local buf = ffi.new("char[32]")
    local n = tonumber(ffi.C.pread(fd, buf, 31, 0))
    ffi.C.close(fd)
    if e == 11 then -- EWOULDBLOCK
      return nil, "locked", n and n > 0 and tonumber(ffi.string(buf, n):match("%d+")) or nil
    end
    return nil, path .. ": " .. msg
  end
  ffi.C.ftruncate(fd, 0)
  local pid = tostring(ffi.C.getpid()) .. "\n"
  ffi.C.write(fd, pid, #pid)
  return fd
end

pcall(ffi.cdef, [[
typedef struct { unsigned long val[16]; } lmq_sys_sigset;
int sigemptyset(lmq_sys_sigset *set);
int sigaddset(lmq_sys_sigset *set, int sig);
int sigprocmask(int how, const lmq_sys_sigset *set, lmq_sys_sigset *old);
int signalfd(int fd, const lmq_sys_sigset *mask, int flags);
long read(int fd, void *buf, unsigned long n);
]])

local SIGINT, SIGTERM, SIG_BLOCK = 2, 15, 0
local SFD_NONBLOCK, SFD_CLOEXEC = 2048, 524288

-- SIGINT and SIGTERM as a readable fd (signalfd), so a poll loop can shut
-- down cleanly between two batches instead of dying mid-handler.  Returns
-- the fd, or nil, message.
function M.signal_fd()
  local set = ffi.new("lmq_sys_sigset")
  ffi.C.sigemptyset(set)
  ffi.C.sigaddset(set, SIGINT)
  ffi.C.sigaddset(set, SIGTERM)
  if ffi.C.sigprocmask(SIG_BLOCK, set, nil) ~= 0 then return nil, errno_text() end
  local fd = ffi.C.signalfd(-1, set, bit.bor(SFD_NONBLOCK, SFD_CLOEXEC))
  if fd < 0 then return nil, errno_text() end
  return fd
end

-- The number of the signal waiting on a signal fd, or nil.
local siginfo = ffi.new("uint8_t[128]") -- struct signalfd_siginfo
function M.read_signal(fd)
  if tonumber(ffi.C.read(fd, siginfo, 128)) ~= 128 then return nil end
  return ffi.cast("uint32_t *", siginfo)[0]
end

-- ------------------------------------------------------- directory watch
--
-- inotify on a directory, and an epoll set that gathers it with the signal
-- fd, so the host still waits on one extra descriptor beside the client's
-- socket.  Everything is non-blocking: the host drains what is there and
-- goes back to its loop.
pcall(ffi.cdef, [[
int inotify_init1(int flags);
int inotify_add_watch(int fd, const char *path, uint32_t mask);
int epoll_create1(int flags);
int epoll_ctl(int epfd, int op, int fd, void *ev);
]])

local IN_NONBLOCK, IN_CLOEXEC = 2048, 524288
M.IN = {
  MODIFY = 0x2, ATTRIB = 0x4, CLOSE_WRITE = 0x8, MOVED_FROM = 0x40, MOVED_TO = 0x80,
  CREATE = 0x100, DELETE = 0x200, DELETE_SELF = 0x400, MOVE_SELF = 0x800,
  Q_OVERFLOW = 0x4000, IGNORED = 0x8000, ONLYDIR = 0x1000000,
}

-- A watch on dir for mask (M.IN bits): the inotify fd, or nil, message.
-- also: more directories on the same fd, watched when they exist.
function M.inotify_watch(dir, mask, also)
  local fd = ffi.C.inotify_init1(bit.bor(IN_NONBLOCK, IN_CLOEXEC))
  if fd < 0 then return nil, "inotify: " .. errno_text() end
  if ffi.C.inotify_add_watch(fd, dir, bit.bor(mask, M.IN.ONLYDIR)) < 0 then
    local msg = errno_text()
    ffi.C.close(fd)
    return nil, "inotify " .. dir .. ": " .. msg
  end
  for _, d in ipairs(also or {}) do ffi.C.inotify_add_watch(fd, d, bit.bor(mask, M.IN.ONLYDIR)) end
  return fd
end

-- Every event waiting on an inotify fd, without blocking: a list of
-- { mask =, name = } (name "" for the directory itself).  nil, message
-- when the fd is unusable.
local ibuf_size = 65536
local ibuf = ffi.new("uint8_t[?]", ibuf_size)
function M.inotify_read(fd)
  local out = {}
  while true do
    local n = tonumber(ffi.C.read(fd, ibuf, ibuf_size))
    if n < 0 then
      local e = ffi.errno()
      if e == 11 then return out end -- EAGAIN: drained
      if e ~= 4 then return nil, "inotify: " .. errno_text() end -- EINTR: again
    elseif n == 0 then
      return out
    else
      -- struct inotify_event { int wd; uint32_t mask, cookie, len; char name[]; }
      local off = 0
      while off + 16 <= n do
        local u = ffi.cast("uint32_t *", ibuf + off)
        local len = u[3]
        local name = len > 0 and ffi.string(ibuf + off + 16) or ""
        out[#out + 1] = { mask = u[1], name = name }
        off = off + 16 + len
      end
    end
  end
end

-- An epoll fd watching every fd in fds for reading (poll it like any fd:
-- it is readable when one of them is).  fd, or nil, message.
function M.epoll_of(fds)
  local ep = ffi.C.epoll_create1(IN_CLOEXEC) -- EPOLL_CLOEXEC has O_CLOEXEC's value
  if ep < 0 then return nil, "epoll: " .. errno_text() end
  -- struct epoll_event is packed on x86-64 only; its first field (events)
  -- is all that is set: nobody calls epoll_wait, the fds are drained.
  local ev = ffi.new("uint32_t[4]")
  for _, fd in ipairs(fds) do
    ev[0] = 1 -- EPOLLIN
    if ffi.C.epoll_ctl(ep, 1, fd, ev) ~= 0 then -- EPOLL_CTL_ADD
      local msg = errno_text()
      ffi.C.close(ep)
      return nil, "epoll: " .. msg
    end
  end
  return ep
end

function M.close(fd) if fd and fd >= 0 then ffi.C.close(fd) end end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

return M
