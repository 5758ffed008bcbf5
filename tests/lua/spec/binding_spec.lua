-- The LuaJIT binding without a broker: it reads the build's cdef, agrees
-- with the C header, reports errors as nil, message, code, and keeps its
-- client handles safe to close.
local ffi = require "ffi"
local lunamq = require "lunamq"

local function header_text()
  -- tests/lua/spec -> the repository's public header
  local src = debug.getinfo(1, "S").source:sub(2)
  local root = src:match("^(.*)/tests/lua/spec/[^/]*$") or "."
  local f = assert(io.open(root .. "/core/include/lunamq.h", "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

describe("the binding's cdef #unit", function()
  it("declares every function the public header exports", function()
    local n = 0
    for name in header_text():gmatch("LMQ_API[^;{]-%f[%w_](lmq_[%w_]+)%s*%(") do
      n = n + 1
      local ok = pcall(function() return lunamq.C[name] end)
      assert.is_true(ok, name .. " is in lunamq.h but not reachable through the cdef")
    end
    assert.is_true(n > 40, "the header's functions were found")
  end)

  it("reaches every function the binding calls", function()
    for _, name in ipairs(lunamq._uses) do
      local ok = pcall(function() return lunamq.C[name] end)
      assert.is_true(ok, name .. " is used by lunamq.lua but missing from the cdef")
    end
  end)

  it("has every lmq_event field the binding copies", function()
    for _, field in ipairs(lunamq._event_fields) do
      assert.is_not_nil(ffi.offsetof("lmq_event", field), "lmq_event." .. field)
    end
  end)

  it("maps event type names to the header's enum values", function()
    for code, name in pairs(lunamq.event_names) do
      assert.are.equal(code, tonumber(lunamq.C["LMQ_EV_" .. name:upper()]))
    end
  end)

  it("reports the library's version", function()
    local major, minor, patch = lunamq.version:match("^(%d+)%.(%d+)%.(%d+)$")
    assert.is_not_nil(major)
    assert.are.equal(major * 1000000 + minor * 1000 + patch, lunamq.version_number)
  end)

  insulate("when the module is loaded a second time", function()
    it("does not redefine the cdef's types", function()
      package.loaded.lunamq = nil
      local again = require "lunamq"
      assert.are.equal(lunamq.version, again.version)
      assert.are_not.equal(lunamq, again)
    end)
  end)
end)

describe("errors #unit", function()
  it("name codes and give their text", function()
    assert.are.equal(-1, lunamq.E.EINVAL)
    assert.are.equal("LMQ_EINVAL", lunamq.errname(-1))
    assert.are.equal("invalid argument", lunamq.strerror(-1))
    assert.is_nil(lunamq.E.NOT_A_CODE)
  end)
end)

describe("topic helpers #unit", function()
  it("match filters as the engine does", function()
    assert.is_true(lunamq.topic_matches("a/+/c", "a/b/c"))
    assert.is_true(lunamq.topic_matches("a/#", "a"))
    assert.is_false(lunamq.topic_matches("a/+", "a/b/c"))
    -- [MQTT-4.7.2-1] a wildcard first level does not match a $ topic
    assert.is_false(lunamq.topic_matches("#", "$SYS/x"))
  end)

  it("return nil, message, code for an invalid filter", function()
    local ok, msg, code = lunamq.topic_matches("a/#/b", "a/x/b")
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.EFILTER_HASH, code)
    assert.is_string(msg)
  end)

  it("validate names and filters", function()
    assert.is_true(lunamq.validate_name("home/hall"))
    local ok, _, code = lunamq.validate_name("home/+")
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.ETOPIC_WILDCARD, code)
    assert.is_true(lunamq.validate_filter("home/+/temp"))
    ok, _, code = lunamq.validate_filter("home/te+")
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.EFILTER_PLUS, code)
    ok, _, code = lunamq.validate_name("")
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.ETOPIC_EMPTY, code)
  end)
end)

describe("property lists #unit", function()
  it("take MQTT 5 property names and user properties", function()
    assert.is_not_nil(lunamq.proplist { content_type = "text/plain", message_expiry_interval = 60,
                                        user = { { "a", "1" }, { "a", "2" } } })
    assert.is_not_nil(lunamq.proplist { user = { k = "v" } })
  end)

  it("refuse an unknown property name", function()
    local pl, msg, code = lunamq.proplist { colour = "blue" }
    assert.is_nil(pl)
    assert.matches("unknown property colour", msg)
    assert.are.equal(lunamq.E.EINVAL, code)
  end)

  it("pass the engine's refusal of a bad value through", function()
    -- [MQTT-1.5.4-1] UTF-8 strings must be well-formed
    local pl, _, code = lunamq.proplist { content_type = "\255\254" }
    assert.is_nil(pl)
    assert.is_true(code < 0)
  end)

  it("decode to an empty table for an event without properties", function()
    assert.are.same({}, lunamq.event_props { type = "message" })
  end)
end)

describe("a client #unit", function()
  it("takes options by their LMQ_OPT_ names", function()
    local c = assert(lunamq.new { host = "127.0.0.1", port = 1, keepalive = 30,
                                  client_id = "spec", clean_start = true })
    assert.is_true(c:set("reconnect", false))
    c:close()
  end)

  it("refuses an unknown option with nil, message, EINVAL", function()
    local c, msg, code = lunamq.new { no_such_option = 1 }
    assert.is_nil(c)
    assert.matches("unknown option", msg)
    assert.are.equal(lunamq.E.EINVAL, code)
  end)

  it("passes the engine's refusal of a bad value through", function()
    local c = assert(lunamq.new())
    local ok, msg, code = c:set("protocol", 9)
    assert.is_nil(ok)
    assert.is_true(code < 0)
    assert.is_string(msg)
    assert.is_true(#msg > 0)
    c:close()
  end)

  it("refuses a malformed URL with EURL", function()
    local c = assert(lunamq.new())
    local ok, _, code = c:set_url("gopher://x")
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.EURL, code)
    c:close()
  end)

  it("sets a proxy by name and refuses a malformed proxy URL with EURL", function()
    local c = assert(lunamq.new())
    assert.is_true(c:set("proxy", "socks5h://user:pw@127.0.0.1:1080"))
    local ok, msg, code = c:set("proxy", "socks4://x")
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.EURL, code)
    assert.truthy(msg:find("socks5, socks5h or http", 1, true))
    assert.is_true(c:set("proxy", ""))
    c:close()
  end)

  it("refuses to publish to a topic with a wildcard", function()
    local c = assert(lunamq.new())
    local id, _, code = c:publish("a/+", "x", 0)
    assert.is_nil(id)
    assert.are.equal(lunamq.E.ETOPIC_WILDCARD, code)
    c:close()
  end)

  it("has no events before it connects", function()
    local c = assert(lunamq.new())
    assert.is_nil(c:next_event())
    local n = 0
    for _ in c:events() do n = n + 1 end
    assert.are.equal(0, n)
    c:close()
  end)

  it("may be closed twice and then refuses calls", function()
    local c = assert(lunamq.new())
    c:close()
    c:close()
    local ok, msg, code = c:connect()
    assert.is_nil(ok)
    assert.matches("closed", msg)
    assert.are.equal(lunamq.E.ESTATE, code)
    assert.is_nil(c:publish("a", "b"))
    assert.are.equal(-1, c:fd())
  end)

  it("is freed by the garbage collector when not closed", function()
    -- The finalizer is lmq_client_free; many unclosed clients must not
    -- leak or crash (the sanitizer build checks the former).
    for _ = 1, 200 do lunamq.new { host = "127.0.0.1" } end
    collectgarbage()
    collectgarbage()
    assert.is_true(true)
  end)

  it("reports a refused connection as a connect_failed event", function()
    local broker = require "helpers.broker"
    local c = assert(lunamq.new { host = "127.0.0.1", port = broker.free_port(),
                                  reconnect = false, connect_timeout_ms = 2000 })
    assert.is_true(c:connect())
    local ev = c:wait(function(e) return e.type == "connect_failed" end, 3000)
    assert.is_not_nil(ev)
    assert.is_true(ev.error < 0)
    assert.is_string(ev.errname)
    c:close()
  end)
end)
