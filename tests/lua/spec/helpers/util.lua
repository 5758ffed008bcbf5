-- Small things the specs share: temp dirs, files, a fake clock, a fake
-- transport that records what the runtime asks of the broker, a log sink.
local M = {}

function M.tmpdir()
  local p = io.popen("mktemp -d /tmp/lunamq-spec-XXXXXX")
  local d = p:read("*l")
  p:close()
  return d
end

function M.rmrf(dir)
  if dir and dir:match("^/tmp/lunamq%-") then os.execute("rm -rf '" .. dir .. "'") end
end

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- now() in ms, advanced by hand.
function M.fake_clock(start)
  local c = { t = start or 1000 }
  function c.now() return c.t end
  function c.advance(ms) c.t = c.t + ms end
  return c
end

-- Let the fake clock run to until_ms, timer by timer (each at its
-- deadline), then run what is due and flush.
function M.run_timers_to(rt, clock, until_ms)
  while true do
    local d = rt:next_timer_in()
    if not d or clock.now() + d > until_ms then break end
    clock.advance(d)
    rt:run_timers()
  end
  clock.advance(until_ms - clock.now())
  rt:run_timers()
  rt:flush()
end

function M.fake_transport()
  local t = { published = {}, subscribes = {}, unsubscribes = {}, next_id = 0 }
  function t.publish(topic, payload, qos, retain, props)
    t.next_id = t.next_id + 1
    t.published[#t.published + 1] = { topic = topic, payload = payload, qos = qos, retain = retain,
                                       props = props }
    return t.next_id
  end
  -- (message ids as the engine gives them; t.sub_props[i]: the i-th
  -- SUBSCRIBE's properties)
  t.sub_props = {}
  function t.subscribe(list, props)
    t.next_id = t.next_id + 1
    t.subscribes[#t.subscribes + 1] = list
    t.sub_props[#t.subscribes] = props or false
    return t.next_id
  end
  function t.unsubscribe(list)
    t.next_id = t.next_id + 1
    t.unsubscribes[#t.unsubscribes + 1] = list
    return t.next_id
  end
  return t
end

function M.log_sink()
  local s = { lines = {} }
  function s.log(level, script, msg)
    s.lines[#s.lines + 1] = { level = level, script = script, msg = msg }
  end
  function s.find(level, pattern)
    for _, l in ipairs(s.lines) do
      if (not level or l.level == level) and l.msg:find(pattern) then return l end
    end
  end
  return s
end

return M
