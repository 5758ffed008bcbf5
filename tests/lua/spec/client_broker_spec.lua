-- The binding against a real mosquitto: connect, subscribe, a publish that
-- comes back at each QoS, unsubscribe, disconnect.
local lunamq = require "lunamq"
local broker = require "helpers.broker"

local function is(t) return function(ev) return ev.type == t end end

describe("a client against mosquitto #broker", function()
  local b

  setup(function()
    b = assert(broker.start())
  end)

  teardown(function()
    if b then b:stop() end
  end)

  local function connected(opts)
    opts = opts or {}
    opts.host, opts.port, opts.reconnect = b.host, b.port, false
    local c = assert(lunamq.new(opts))
    assert.is_true(c:connect())
    local ev = assert(c:wait(is("connected"), 3000))
    assert.is_false(ev.session_present)
    return c
  end

  it("connects with MQTT 5 and disconnects cleanly", function()
    local c = connected { protocol = 5, client_id = "lua-spec-connect" }
    finally(function() c:close() end)
    assert.is_true(c:disconnect())
    local ev = assert(c:wait(is("disconnected"), 3000))
    assert.are.equal(0, ev.error)
  end)

  for _, qos in ipairs { 0, 1, 2 } do
    it("gets back what it publishes at QoS " .. qos, function()
      local c = connected { protocol = 5 }
      finally(function() c:close() end)
      local topic = "lua/spec/roundtrip/" .. qos
      local sid = assert(c:subscribe(topic, qos))
      local sub = assert(c:wait(is("subscribed"), 3000))
      assert.are.equal(sid, sub.msg_id)
      assert.are.same({ qos }, sub.reasons) -- granted QoS
      local payload = "payload \0 with a NUL and " .. qos
      local pid = assert(c:publish(topic, payload, qos))
      local msg, published
      local deadline = lunamq.monotonic_ms() + 3000
      while not (msg and published) and lunamq.monotonic_ms() < deadline do
        local ev = c:wait(function(e) return e.type == "message" or e.type == "published" end, 500)
        if ev and ev.type == "message" then msg = ev end
        if ev and ev.type == "published" and ev.msg_id == pid then published = ev end
      end
      assert.is_not_nil(msg, "message came back")
      assert.is_not_nil(published, "publish completed")
      assert.are.equal(0, published.error)
      assert.are.equal(topic, msg.topic)
      assert.are.equal(payload, msg.payload)
      assert.are.equal(qos, msg.qos)
      assert.is_false(msg.retain)
    end)
  end

  it("sends and receives MQTT 5 properties", function()
    local c = connected { protocol = 5 }
    finally(function() c:close() end)
    assert(c:subscribe("lua/spec/props", 1))
    assert(c:wait(is("subscribed"), 3000))
    assert(c:publish("lua/spec/props", "{}", {
      qos = 1,
      props = { content_type = "application/json", response_topic = "lua/spec/reply",
                correlation_data = "\0\1\2", message_expiry_interval = 3600,
                payload_format_indicator = 1,
                user = { { "room", "hall" }, { "room", "kitchen" } } },
    }))
    local ev = assert(c:wait(is("message"), 3000))
    local p = lunamq.event_props(ev)
    assert.are.equal("application/json", p.content_type)
    assert.are.equal("lua/spec/reply", p.response_topic)
    assert.are.equal("\0\1\2", p.correlation_data)
    assert.are.equal(1, p.payload_format_indicator)
    -- the broker passes on the remaining lifetime (MQTT 5.0 section 3.3.2.3.3)
    assert.is_true(p.message_expiry_interval <= 3600 and p.message_expiry_interval > 3500)
    -- user properties keep their order and repeats (section 3.3.2.3.7)
    assert.are.same({ { "room", "hall" }, { "room", "kitchen" } }, p.user)
  end)

  it("does not get its own messages back with no_local", function()
    local c = connected { protocol = 5 }
    finally(function() c:close() end)
    assert(c:subscribe { { filter = "lua/spec/nolocal/a", qos = 1, no_local = true },
                         { "lua/spec/nolocal/b", 1 } })
    assert(c:wait(is("subscribed"), 3000))
    assert(c:publish("lua/spec/nolocal/a", "mine", 1))
    assert(c:publish("lua/spec/nolocal/b", "marker", 1))
    local ev = assert(c:wait(is("message"), 3000))
    -- no local (section 3.8.3.1): a/ is not sent back; b/ (after it) is
    assert.are.equal("lua/spec/nolocal/b", ev.topic)
  end)

  it("retains with retain = 1 or true, not with retain = 0 or false", function()
    local c = connected { protocol = 5 }
    finally(function() c:close() end)
    local base = "lua/spec/retain0/" .. tostring(lunamq.monotonic_ms()):gsub("%.", "_")
    for i, r in ipairs { 0, false, 1, true } do
      local id = assert(c:publish(base .. "/" .. i, "r" .. tostring(r), { qos = 1, retain = r }))
      assert(c:wait(function(e) return e.type == "published" and e.msg_id == id end, 3000))
    end
    -- a new subscription gets the retained ones only (MQTT 5.0 section 3.3.1.3)
    local s = connected { protocol = 5 }
    finally(function() s:close() end)
    assert(s:subscribe(base .. "/#", 1))
    local got = {}
    for _ = 1, 2 do
      local ev = assert(s:wait(is("message"), 3000))
      assert.is_true(ev.retain)
      assert.is_true(ev.packet_id > 0)     -- QoS 1: the PUBLISH's packet id
      got[#got + 1] = ev.topic
    end
    table.sort(got)
    assert.are.same({ base .. "/3", base .. "/4" }, got)
    assert.is_nil(s:wait(is("message"), 200))
    for i = 3, 4 do assert(c:publish(base .. "/" .. i, "", { qos = 1, retain = true })) end
  end)

  it("gets its own messages back with no_local = 0", function()
    local c = connected { protocol = 5 }
    finally(function() c:close() end)
    assert(c:subscribe { { filter = "lua/spec/nolocal0", qos = 0, no_local = 0 } })
    assert(c:wait(is("subscribed"), 3000))
    assert(c:publish("lua/spec/nolocal0", "mine", 0))
    local ev = assert(c:wait(is("message"), 3000))
    assert.are.equal("lua/spec/nolocal0", ev.topic)
    assert.are.equal(0, ev.packet_id)     -- QoS 0 has none
  end)

  it("stops receiving after it unsubscribes", function()
    local c = connected { protocol = 4 }
    finally(function() c:close() end)
    assert(c:subscribe({ "lua/spec/unsub/a", { "lua/spec/unsub/b", 1 } }))
    local sub = assert(c:wait(is("subscribed"), 3000))
    assert.are.same({ 0, 1 }, sub.reasons)
    assert(c:unsubscribe { "lua/spec/unsub/a" })
    assert(c:wait(is("unsubscribed"), 3000))
    assert(c:publish("lua/spec/unsub/a", "gone", 1))
    assert(c:publish("lua/spec/unsub/b", "kept", 1))
    local ev = assert(c:wait(is("message"), 3000))
    -- the broker keeps order on one connection: had a/ arrived, it would be first
    assert.are.equal("lua/spec/unsub/b", ev.topic)
  end)

  it("delivers a batch larger than one pull", function()
    local c = connected { protocol = 5 }
    finally(function() c:close() end)
    assert(c:subscribe("lua/spec/batch", 1))
    assert(c:wait(is("subscribed"), 3000))
    local n = 200
    for i = 1, n do assert(c:publish("lua/spec/batch", tostring(i), 1)) end
    local got = {}
    local deadline = lunamq.monotonic_ms() + 5000
    while #got < n and lunamq.monotonic_ms() < deadline do
      local ev = c:wait(is("message"), 1000)
      if ev then got[#got + 1] = tonumber(ev.payload) end
    end
    assert.are.equal(n, #got)
    for i = 1, n do assert.are.equal(i, got[i]) end
  end)

  it("keeps completing its QoS 1 publishes while message delivery is paused", function()
    local c = connected { protocol = 5, receive_maximum = 10 }
    finally(function() c:close() end)
    assert(c:subscribe("lua/spec/paused", 1))
    assert(c:wait(is("subscribed"), 3000))
    assert.are.equal(0, c:pause_delivery(true))
    -- more than the Receive Maximum of our own messages come back while
    -- paused: the PUBACKs of our publishes are still read [MQTT-3.3.4-9]
    local n, done = 30, 0
    for i = 1, n do assert(c:publish("lua/spec/paused", tostring(i), 1)) end
    local deadline = lunamq.monotonic_ms() + 5000
    while done < n and lunamq.monotonic_ms() < deadline do
      local ev = c:wait(function(e) return e.type == "published" or e.type == "message" end, 1000)
      assert.is_false(ev ~= nil and ev.type == "message", "no message while paused")
      if ev and ev.type == "published" then
        assert.are.equal(0, ev.error)
        done = done + 1
      end
    end
    assert.are.equal(n, done)
    local held = assert(c:pause_delivery(false))
    assert.is_true(held > 0 and held <= 10)
    local got = {}
    deadline = lunamq.monotonic_ms() + 5000
    while #got < n and lunamq.monotonic_ms() < deadline do
      local ev = c:wait(is("message"), 1000)
      if ev then got[#got + 1] = tonumber(ev.payload) end
    end
    -- every message once, in order, once delivery resumed
    assert.are.equal(n, #got)
    for i = 1, n do assert.are.equal(i, got[i]) end
  end)
end)
