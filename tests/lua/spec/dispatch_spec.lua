-- The topic trie through the binding (lunamq.trie), and lunamq.dispatch
-- matching through it: the same handlers, in registration order, as trying
-- lmq_topic_matches on every filter, with 1,000 filters.
local lunamq = require "lunamq"
local dispatch = require "lunamq.dispatch"

local function plain_matches(f, t) return lunamq.topic_matches(f, t) == true end

-- Filters and topics from a small alphabet so that they meet often; "$SYS"
-- first makes '$' topics, and some filters are shared.
local WORDS = { "home", "kitchen", "light", "1", "2", "set", "", "$SYS" }

local function random_topic()
  local parts = {}
  for i = 1, math.random(1, 5) do parts[i] = WORDS[math.random(#WORDS)] end
  local t = table.concat(parts, "/")
  return t ~= "" and t or "home"
end

local function random_filter()
  local parts, n = {}, math.random(1, 5)
  for i = 1, n do
    local r = math.random(100)
    parts[i] = r <= 15 and "+" or (i == n and r >= 92) and "#" or WORDS[math.random(#WORDS)]
  end
  local f = table.concat(parts, "/")
  if math.random(20) == 1 then f = "$share/g" .. math.random(2) .. "/" .. f end
  if not lunamq.validate_filter(f) then f = "home/#" end
  return f
end

local function names(hs)
  local r = {}
  for i, h in ipairs(hs) do r[i] = h.name end
  return table.concat(r, ",")
end

describe("lunamq.trie #unit", function()
  it("matches values of every matching filter, ascending", function()
    local t = assert(lunamq.trie())
    assert.is_true(t:add("a/b", 3))
    assert.is_true(t:add("a/+", 2))
    assert.is_true(t:add("a/#", 1))
    assert.is_true(t:add("a/#", -7))
    assert.is_false(t:add("a/#", 1))        -- there already
    assert.is_true(t:add("#", 9))
    assert.are.equal(5, t:count())
    assert.are.same({ -7, 1, 2, 3, 9 }, (t:match("a/b")))
    local r, n = t:match("$SYS/x")          -- [MQTT-4.7.2-1]
    assert.are.same({}, r)
    assert.are.equal(0, n)
    assert.is_true(t:remove("a/#", -7))
    assert.is_false(t:remove("a/#", -7))
    assert.are.same({ 1, 2, 3, 9 }, (t:match("a/b")))
    t:close()
    t:close()                               -- twice is fine
  end)

  it("grows its array when more values match than it holds", function()
    local t = assert(lunamq.trie())
    local want = {}
    for v = 1, 300 do
      assert.is_true(t:add(v % 2 == 0 and "x/#" or "+/y", v))
      want[v] = v
    end
    local r, n = t:match("x/y")
    assert.are.equal(300, n)
    assert.are.same(want, r)
  end)

  it("refuses bad filters, topics and values with the engine's codes", function()
    local t = assert(lunamq.trie())
    local ok, msg, code = t:add("a/#/b", 1)
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.EFILTER_HASH, code)
    assert.are.equal(lunamq.strerror(code), msg)
    ok, msg, code = t:add("$share/g", 1)
    assert.are.equal(lunamq.E.ESHARE, code)
    ok, msg, code = t:match("a/+")
    assert.is_nil(ok)
    assert.are.equal(lunamq.E.ETOPIC_WILDCARD, code)
    ok, msg, code = t:match("")
    assert.are.equal(lunamq.E.ETOPIC_EMPTY, code)
    ok, msg, code = t:add("a", 1.5)
    assert.are.equal(lunamq.E.EINVAL, code)
    assert.matches("32%-bit integer", msg)
    ok, msg, code = t:add("a", 2 ^ 31)
    assert.are.equal(lunamq.E.EINVAL, code)
    assert.are.equal(0, t:count())
    t:close()
    ok, msg, code = t:match("a")
    assert.is_nil(ok)
    assert.are.equal("trie is closed", msg)
    assert.are.equal(lunamq.E.ESTATE, code)
  end)
end)

describe("lunamq.dispatch #unit", function()
  it("matches through the trie when the binding is there", function()
    assert.are.equal("trie", dispatch.new(plain_matches).mode)
    assert.are.equal("plain", dispatch.new(plain_matches, { trie = false }).mode)
  end)

  for _, mode in ipairs { "trie", "plain" } do
    it("gives handlers in registration order (" .. mode .. ")", function()
      local d = dispatch.new(plain_matches, mode == "plain" and { trie = false } or nil)
      assert.are.equal(mode, d.mode)
      local function h(name, filter) return { name = name, filter = filter, qos = 0 } end
      d:add(h("hash", "a/#"))
      d:add(h("exact", "a/b"))
      d:add(h("plus", "+/b"))
      d:add(h("other", "c"))
      d:add(h("shared", "$share/g/a/+"))
      assert.are.equal("hash,exact,plus,shared", names(d:handlers_for("a/b")))
      assert.are.equal("hash", names(d:handlers_for("a")))
      assert.are.equal("", names(d:handlers_for("$SYS/b")))
      -- cached until the filters change
      assert.are.equal(d:handlers_for("a/b"), d:handlers_for("a/b"))
      d:remove(function(x) return x.name == "hash" end)
      d:add(h("hash2", "a/#"))
      assert.are.equal("exact,plus,shared,hash2", names(d:handlers_for("a/b")))
      -- a topic name with a wildcard is no topic: nothing
      assert.are.equal("", names(d:handlers_for("a/+")))
    end)
  end

  it("merges filters the trie refused, in order, through matches()", function()
    -- a matcher that takes "odd/#/x" (not a valid filter) too
    local function m(f, t)
      if f == "odd/#/x" then return t:match("^odd/.*/x$") ~= nil end
      return plain_matches(f, t)
    end
    local got = {}
    for _, mode in ipairs { "trie", "plain" } do
      local d = dispatch.new(m, mode == "plain" and { trie = false } or nil)
      d:add({ name = "first", filter = "odd/#" })
      d:add({ name = "refused", filter = "odd/#/x" })
      d:add({ name = "last", filter = "odd/+/x" })
      got[mode] = names(d:handlers_for("odd/y/x"))
      d:remove(function(h) return h.name == "refused" end)
      got[mode] = got[mode] .. ";" .. names(d:handlers_for("odd/y/x"))
    end
    assert.are.equal("first,refused,last;first,last", got.trie)
    assert.are.equal(got.plain, got.trie)
  end)

  it("agrees with lmq_topic_matches on every filter, 1,000 filters", function()
    math.randomseed(20261202)
    local tried = dispatch.new(plain_matches)
    local plain = dispatch.new(plain_matches, { trie = false })
    assert.are.equal("trie", tried.mode)
    local hs = {}
    for i = 1, 1000 do
      -- some filters twice, as two scripts may ask for the same
      local f = (i > 1 and math.random(10) == 1) and hs[math.random(i - 1)].filter
                or random_filter()
      hs[i] = { name = "h" .. i, filter = f, qos = 0 }
      tried:add(hs[i])
      plain:add(hs[i])
    end
    local function check(live, rounds)
      local bad, total = 0, 0
      for _ = 1, rounds do
        local topic = random_topic()
        local want = {}
        for _, h in ipairs(live) do
          if lunamq.topic_matches(h.filter, topic) == true then want[#want + 1] = h end
        end
        local a, b = tried:handlers_for(topic), plain:handlers_for(topic)
        if names(a) ~= names(want) or names(b) ~= names(want) then
          bad = bad + 1
          if bad <= 3 then
            print(("topic %q: trie %s / plain %s / want %s"):format(topic, names(a),
                  names(b), names(want)))
          end
        end
        total = total + #want
      end
      assert.are.equal(0, bad)
      assert.is_true(total > rounds, "the cases meet")
    end
    check(hs, 2000)
    -- a reload: a third go, some come back
    local live = {}
    local gone = function(h) return tonumber(h.name:sub(2)) % 3 == 0 end
    tried:remove(gone)
    plain:remove(gone)
    for _, h in ipairs(hs) do if not gone(h) then live[#live + 1] = h end end
    for i = 3, 300, 3 do
      tried:add(hs[i])
      plain:add(hs[i])
      live[#live + 1] = hs[i]
    end
    check(live, 2000)
    assert.are.equal(#live, tried.trie:count())
  end)
end)
