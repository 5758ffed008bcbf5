-- A reload that changes filters: the new subscriptions go out before the
-- old ones are dropped, and every message on a filter the new version keeps
-- or adds is handled once, with Subscription Identifiers (the fence) and
-- without (a non-overlapping cover).  And the fallback when CONNACK says
-- the broker has no identifiers.  Messages are fed by hand, copy by copy,
-- as mosquitto sends them (one per matching subscription).
local runtime = require "lunamq.runtime"
local dispatch = require "lunamq.dispatch"
local host = require "lunamq.host"
local util = require "helpers.util"

local FENCE = "lunamq/host/me/fence"

local function new_rt(dir, extra)
  local transport = util.fake_transport()
  local sink = util.log_sink()
  local o = { dir = dir, state_dir = dir .. "/.state", transport = transport, log = sink.log,
              fence_topic = FENCE, clock = util.fake_clock().now }
  for k, v in pairs(extra or {}) do o[k] = v end
  return runtime.new(o), transport, sink
end

-- The raw MQTT 5 property block of a PUBLISH carrying identifiers ids.
local function ids_props(ids)
  local b = {}
  for _, id in ipairs(ids) do
    b[#b + 1] = string.char(0x0B, id) -- (ids < 128 here)
  end
  return table.concat(b)
end
local function copy(topic, payload, ids)
  return { topic = topic, payload = payload, qos = 1, retain = false,
           props = ids and ids_props(ids) or nil }
end

-- What the handlers published, in order.
local function handled(tr)
  local r = {}
  for _, p in ipairs(tr.published) do
    if p.topic ~= FENCE then r[#r + 1] = p.payload end
  end
  return r
end
local function fences(tr)
  local r = {}
  for _, p in ipairs(tr.published) do
    if p.topic == FENCE then r[#r + 1] = p end
  end
  return r
end
-- Every SUBSCRIBE's filters (one list per packet).
local function sub_filters(tr)
  local r = {}
  for _, list in ipairs(tr.subscribes) do
    local fs = {}
    for i, s in ipairs(list) do fs[i] = s[1] end
    r[#r + 1] = table.concat(fs, ",")
  end
  return r
end
-- SUBACK every SUBSCRIBE not acknowledged yet.
local function ack_all(rt)
  local ids = {}
  for id in pairs(rt.outstanding) do ids[#ids + 1] = id end
  table.sort(ids)
  for _, id in ipairs(ids) do rt:on_subscribed(id, { 0 }) end
end

local RULE = [[ on(%q, function(p, t) publish("out", "%s " .. t .. " " .. p) end, { qos = 1 }) ]]

describe("filter algebra #unit", function()
  it("knows when two filters can match one topic", function()
    assert.is_true(dispatch.overlap("a/+", "a/#"))
    assert.is_true(dispatch.overlap("a/+/c", "a/b/+"))
    assert.is_true(dispatch.overlap("a/#", "a")) -- '#' matches its parent level
    assert.is_false(dispatch.overlap("a/+", "a/b/c"))
    assert.is_false(dispatch.overlap("#", "$SYS/x")) -- the $ rule
    assert.is_false(dispatch.overlap("+/x", "$SYS/x"))
    assert.is_true(dispatch.overlap("$SYS/#", "$SYS/+"))
  end)

  it("knows when one filter covers another", function()
    assert.is_true(dispatch.covers("a/#", "a/+"))
    assert.is_true(dispatch.covers("a/#", "a"))
    assert.is_false(dispatch.covers("a/+", "a/#"))
    assert.is_false(dispatch.covers("a/+", "a"))
    assert.is_false(dispatch.covers("#", "$SYS/x"))
    assert.is_true(dispatch.covers("+/+", "a/b"))
  end)

  it("makes a cover in which no two filters overlap, at the highest QoS", function()
    assert.are.same({ ["a/#"] = 1, b = 0 }, dispatch.cover { ["a/+"] = 1, ["a/#"] = 0, b = 0 })
    assert.are.same({ ["a/+/+"] = 2 }, dispatch.cover { ["a/+/c"] = 2, ["a/b/+"] = 0 })
    assert.are.same({ ["#"] = 0, ["$SYS/x"] = 1, ["$share/g/a"] = 0 },
                    dispatch.cover { ["#"] = 0, ["a/b"] = 0, ["$SYS/x"] = 1, ["$share/g/a"] = 0 })
    -- and it is a cover: every filter is covered by one of it
    local want = { ["x/+/1"] = 0, ["x/2/+"] = 0, ["y/#"] = 0, ["y/+/z"] = 0, ["w"] = 0 }
    local c = dispatch.cover(want)
    for f in pairs(want) do
      local n = 0
      for g in pairs(c) do if dispatch.covers(g, f) then n = n + 1 end end
      assert.are.equal(1, n, f)
    end
    for f in pairs(c) do
      for g in pairs(c) do assert.is_true(f == g or not dispatch.overlap(f, g), f .. " " .. g) end
    end
  end)
end)

describe("a reload that changes filters #unit", function()
  local dir
  before_each(function() dir = util.tmpdir() end)
  after_each(function() util.rmrf(dir) end)

  it("with identifiers: a/+ to a/#, each message once, the old filter dropped after the fence", function()
    util.write(dir .. "/r.lua", RULE:format("a/+", "v1"))
    local rt, tr = new_rt(dir, { sub_ids = true })
    rt:scan()
    ack_all(rt)
    local id1 = rt.id_of["a/+"]
    rt:deliver(copy("a/x", "1", { id1 }))
    util.write(dir .. "/r.lua", RULE:format("a/#", "v2"))
    assert.are.equal(1, rt:scan())
    local id2 = rt.id_of["a/#"]
    assert.is_true(id2 > id1)
    -- the new filter (and the fence topic) subscribed, the old one kept
    assert.are.same({ "a/+", "a/#", FENCE }, sub_filters(tr))
    assert.are.same({}, tr.unsubscribes)
    assert.are.equal(0, #fences(tr), "no fence before the SUBACKs")
    -- routed before the broker took the SUBSCRIBE: only the old copy
    rt:deliver(copy("a/x", "2", { id1 }))
    ack_all(rt)
    -- both live: a copy under each; a/+ does not match a/x/y: a/#'s only
    rt:deliver(copy("a/x", "3", { id1 }))
    rt:deliver(copy("a/x", "3", { id2 }))
    rt:deliver(copy("a/x/y", "4", { id2 }))
    rt:deliver(copy("a/x", "5", { id2, id1 })) -- (one copy for both, as a broker may)
    local f = fences(tr)
    assert.are.equal(1, #f, "the fence went once every SUBACK was in")
    assert.are.equal(1, f[1].qos)
    assert.are.same({}, tr.unsubscribes)
    rt:deliver(copy(FENCE, f[1].payload, { rt.fence_id }))
    -- after the fence every message has a copy under a/#: the old one goes
    assert.are.same({ { "a/+" } }, tr.unsubscribes)
    assert.is_nil(rt.filter_of[id1])
    rt:deliver(copy("a/x", "6", { id1 })) -- late, before the UNSUBSCRIBE took
    rt:deliver(copy("a/x", "6", { id2 }))
    rt:deliver(copy("a/x", "7", { id2 }))
    assert.are.same({ "v1 a/x 1", "v2 a/x 2", "v2 a/x 3", "v2 a/x/y 4", "v2 a/x 5", "v2 a/x 6",
                      "v2 a/x 7" }, handled(tr))
    assert.are.equal(0, rt.n_pending)
  end)

  it("with identifiers: a filter kept, another added over it, nothing doubled", function()
    util.write(dir .. "/r.lua", RULE:format("a/+", "plus"))
    local rt, tr = new_rt(dir, { sub_ids = true })
    rt:scan()
    ack_all(rt)
    util.write(dir .. "/r.lua", RULE:format("a/+", "plus") .. RULE:format("a/#", "hash"))
    rt:scan()
    local p, h = rt.id_of["a/+"], rt.id_of["a/#"]
    rt:deliver(copy("a/x", "1", { p }))        -- before a/# is live
    ack_all(rt)
    rt:deliver(copy("a/x", "2", { p }))
    rt:deliver(copy("a/x", "2", { h }))
    rt:deliver(copy(FENCE, fences(tr)[1].payload, { rt.fence_id }))
    rt:deliver(copy("a/x", "3", { p }))
    rt:deliver(copy("a/x", "3", { h }))
    assert.are.same({}, tr.unsubscribes, "a/+ is still wanted")
    assert.are.same({ "plus a/x 1", "hash a/x 1", "plus a/x 2", "hash a/x 2", "plus a/x 3",
                      "hash a/x 3" }, handled(tr))
  end)

  it("with identifiers: filters that do not overlap change at once, no fence", function()
    util.write(dir .. "/r.lua", RULE:format("a/+", "v1"))
    local rt, tr = new_rt(dir, { sub_ids = true })
    rt:scan()
    ack_all(rt)
    util.write(dir .. "/r.lua", RULE:format("b/+", "v2"))
    rt:scan()
    assert.are.same({ { "a/+" } }, tr.unsubscribes)
    ack_all(rt)
    assert.are.equal(0, #fences(tr))
    rt:deliver(copy("b/x", "1", { rt.id_of["b/+"] }))
    assert.are.same({ "v2 b/x 1" }, handled(tr))
  end)

  it("with identifiers: hands over without the fence if it never comes back", function()
    util.write(dir .. "/r.lua", RULE:format("a/+", "v1"))
    local clock = util.fake_clock()
    local rt, tr, sink = new_rt(dir, { sub_ids = true, clock = clock.now })
    rt:scan()
    ack_all(rt)
    util.write(dir .. "/r.lua", RULE:format("a/#", "v2"))
    rt:scan()
    ack_all(rt)
    clock.advance(10001)
    rt:run_timers()
    assert.are.same({ { "a/+" } }, tr.unsubscribes)
    assert.is_not_nil(sink.find("warn", "no fence back"))
  end)

  it("without identifiers: a cover, the new one subscribed, the old one dropped at its SUBACK", function()
    util.write(dir .. "/r.lua", RULE:format("a/+", "v1") .. RULE:format("a/b", "v1"))
    local rt, tr = new_rt(dir, { sub_ids = false })
    rt:scan()
    assert.are.same({ ["a/+"] = 1 }, rt.subscribed, "a/b is covered by a/+")
    ack_all(rt)
    util.write(dir .. "/r.lua", RULE:format("a/#", "v2") .. RULE:format("a/b", "v2"))
    rt:scan()
    assert.are.same({ "a/+", "a/#" }, sub_filters(tr))
    assert.are.same({}, tr.unsubscribes, "not before the SUBACK")
    assert.is_false(tr.sub_props[2], "no Subscription Identifier")
    rt:deliver(copy("a/b", "1"))
    ack_all(rt)
    assert.are.same({ { "a/+" } }, tr.unsubscribes)
    rt:deliver(copy("a/b/c", "2"))
    -- one copy per message with a cover: every matching handler once
    assert.are.same({ "v2 a/b 1", "v2 a/b 1", "v2 a/b/c 2" }, handled(tr))
  end)

  it("falls back to a cover when CONNACK says the broker has no identifiers", function()
    util.write(dir .. "/r.lua", RULE:format("a/+", "p") .. RULE:format("a/#", "h"))
    local rt, tr, sink = new_rt(dir, { sub_ids = true })
    rt:scan()
    assert.are.equal(2, #tr.subscribes)
    assert.is_truthy(tr.sub_props[1].subscription_identifier)
    -- the CONNACK: Subscription Identifier Available (0x29) = 0
    local mode = host.connected({ protocol = 5 }, rt, { type = "connected", props = "\41\0" },
                                sink.log, nil)
    assert.is_false(rt.sub_ids)
    assert.matches("cover", mode)
    assert.is_not_nil(sink.find("info", "dispatch: a non%-overlapping cover[^\n]*CONNACK"))
    -- subscribed again, a/# alone, without an identifier
    assert.are.same({ "a/#" }, { sub_filters(tr)[3] })
    assert.is_false(tr.sub_props[3])
    -- the SUBSCRIBEs the engine refused (LMQ_ESUB_ID_NOT_SUPPORTED) are nobody's now
    local n_warn = #sink.lines
    assert.is_true(rt:on_subscribed(1, nil, "LMQ_ESUB_ID_NOT_SUPPORTED"))
    assert.is_true(rt:on_subscribed(2, nil, "LMQ_ESUB_ID_NOT_SUPPORTED"))
    assert.are.equal(n_warn, #sink.lines, "no warning per refused SUBSCRIBE")
    assert.is_false(rt:on_subscribed(99, { 0 }), "not the runtime's")
    rt:deliver(copy("a/x", "1"))
    assert.are.same({ "p a/x 1", "h a/x 1" }, handled(tr))
    -- a later CONNACK: the same mode, no second line
    local n = #sink.lines
    assert.are.equal(mode, host.connected({ protocol = 5 }, rt, { type = "connected" }, sink.log, mode))
    assert.are.equal(n, #sink.lines)
  end)

  it("keeps identifiers when CONNACK has none of that property, and says so", function()
    util.write(dir .. "/r.lua", RULE:format("a/+", "p"))
    local rt, _, sink = new_rt(dir, { sub_ids = true })
    rt:scan()
    host.connected({ protocol = 5 }, rt, { type = "connected", props = "\34\0\10" }, sink.log, nil)
    assert.is_true(rt.sub_ids)
    assert.is_not_nil(sink.find("info", "dispatch: one Subscription Identifier per filter"))
  end)
end)
