-- state: what a script keeps comes back from disk exactly (numeric keys,
-- arrays, mixed tables, +-inf, big integers); what cannot be kept (function,
-- userdata, a cycle, NaN) is refused by key path and never stops the rest.
-- And lunamq.json: null is nil, no escaped slashes, integers to 2^53.
local runtime = require "lunamq.runtime"
local json = require "lunamq.json"
local util = require "helpers.util"

local function new_rt(dir)
  local sink = util.log_sink()
  return runtime.new { dir = dir, state_dir = dir .. "/.state", transport = util.fake_transport(),
                       log = sink.log, clock = util.fake_clock().now }, sink
end

local function roundtrip(v)
  local s, bad = json.encode_state(v)
  assert.are.same({}, bad)
  return json.decode_state(s)
end

describe("state #unit", function()
  it("round-trips numeric keys, arrays, mixed and nested tables exactly", function()
    local v = {
      hours = { [0] = 1.5, [1] = 2, [23] = 3 },
      list = { "a", "b", "c" },
      mixed = { 10, 20, name = "x", [2.5] = "half", [-1] = true },
      nested = { { 1, { 2, { 3 } } }, { k = { [7] = "seven" } } },
      big = 2 ^ 53, neg = -(2 ^ 53) + 1, tiny = 0.1, third = 1 / 3,
      inf = math.huge, ninf = -math.huge, [5] = "five", ["$weird"] = "dollar",
      empty = {}, unicode = "Grüße \"q\" \\ / \n",
    }
    local r = roundtrip(v)
    assert.are.same(v, r)
    assert.are.equal(1.5, r.hours[0])
    assert.are.equal("number", type(next(r.hours)))
    assert.are.equal(1 / 3, r.third)
  end)

  it("refuses function, userdata, a cycle and NaN by key path, keeping the rest", function()
    local cyc = { a = 1 }
    cyc.self = cyc
    local s, bad = json.encode_state({
      ok = 1, f = function() end, u = io.stdout, nan = 0 / 0, c = cyc,
      deep = { list = { 1, function() end, 3 } }, [0 / 0 ~= 0 / 0 and "k" or 1] = "v",
    })
    table.sort(bad)
    assert.are.same({
      "state.c.self: a table that contains itself (a cycle) cannot be saved",
      "state.deep.list[2]: a function cannot be saved",
      "state.f: a function cannot be saved",
      "state.nan: NaN cannot be saved",
      "state.u: a userdata cannot be saved",
    }, bad)
    local r = json.decode_state(s)
    assert.are.equal(1, r.ok)
    assert.are.equal("v", r.k)
    assert.are.same({ a = 1 }, r.c)
    assert.are.equal(3, r.deep.list[3])
  end)

  it("survives a restart of the runtime with numeric keys intact", function()
    local dir = util.tmpdir()
    util.write(dir .. "/h.lua", [[
      on("tick", function(p) state.hours[tonumber(p)] = (state.hours[tonumber(p)] or 0) + 1 end)
      state.hours = state.hours or {}
      on("ask", function() publish("out", tostring(state.hours[0])) end)
    ]])
    local rt = new_rt(dir)
    rt:scan()
    rt:deliver { topic = "tick", payload = "0" }
    rt:deliver { topic = "tick", payload = "0" }
    rt:deliver { topic = "tick", payload = "13" }
    rt:close()
    local rt2 = new_rt(dir)
    rt2:scan()
    rt2:deliver { topic = "ask", payload = "" }
    assert.are.same({ [0] = 2, [13] = 1 }, rt2.scripts.h.state.hours)
    util.rmrf(dir)
  end)

  it("logs a refused value once, names the script, and saves later changes", function()
    local dir = util.tmpdir()
    util.write(dir .. "/s.lua", [[
      on("bad", function() state.cb = print end)
      on("n", function(p) state.n = tonumber(p) end)
    ]])
    local rt, sink = new_rt(dir)
    rt:scan()
    rt:deliver { topic = "bad", payload = "" }
    rt:flush()
    for i = 1, 3 do
      rt:deliver { topic = "n", payload = tostring(i) }
      rt:flush()
    end
    local n = 0
    for _, l in ipairs(sink.lines) do
      if l.msg:find("state.cb: a function cannot be saved", 1, true) then
        n = n + 1
        assert.are.equal("s", l.script)
      end
    end
    assert.are.equal(1, n)
    assert.are.same({ n = 3 }, json.decode_state(util.read(dir .. "/.state/s.json")))
    util.rmrf(dir)
  end)
end)

describe("json #unit", function()
  it("decodes null as nil, so it is not truthy", function()
    local v = json.decode('{"occupancy":null,"battery":90,"list":[1,null,3]}')
    assert.is_nil(v.occupancy)
    assert.are.equal(90, v.battery)
    assert.are.equal(3, v.list[3])
    assert.is_nil(json.decode("null"))
  end)

  it("encodes without escaped slashes, integers exact to 2^53, shortest floats", function()
    assert.are.equal('{"t":"homeassistant/switch/x/config"}',
                     json.encode { t = "homeassistant/switch/x/config" })
    assert.are.equal("9007199254740992", json.encode(2 ^ 53))
    assert.are.equal("[1,0.1,-2.5,1e+300]", json.encode { 1, 0.1, -2.5, 1e300 })
    assert.are.equal('"a\\"b\\\\c\\n\\u0001"', json.encode('a"b\\c\n\1'))
    assert.are.equal('{"a":null}', json.encode { a = json.null })
    assert.are.equal(2 ^ 53, json.decode(json.encode(2 ^ 53)))
  end)

  it("refuses what JSON cannot hold", function()
    assert.has_error(function() json.encode { f = print } end, "json.encode: a function cannot be encoded")
    assert.has_error(function() json.encode(0 / 0) end)
    local c = {}
    c[1] = c
    assert.has_error(function() json.encode(c) end,
                     "json.encode: a table that contains itself cannot be encoded")
  end)
end)
