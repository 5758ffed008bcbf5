-- examples/home/ha_switch.lua: Home Assistant MQTT discovery of a virtual
-- switch, with fake HA messages.
local example = require "helpers.example"

local CONFIG = "homeassistant/switch/lunamq_guest_mode/config"
local STATE = "lunamq/guest_mode/state"
local AVAIL = "lunamq/guest_mode/availability"
local COMMAND = "lunamq/guest_mode/set"

describe("examples/home/ha_switch.lua #unit", function()
  local ex
  before_each(function() ex = example.new("ha_switch.lua") end)
  after_each(function() ex:close() end)

  it("announces itself when it loads: config, availability and state, all retained", function()
    local topics = {}
    for _, p in ipairs(ex:records()) do
      topics[#topics + 1] = p.topic
      assert.is_true(p.retain, p.topic .. " is retained")
      assert.are.equal(1, p.qos)
    end
    assert.are.same({ CONFIG, AVAIL, STATE }, topics)
    local cfg = ex:sent(CONFIG)[1]
    assert.are.equal("lunamq_guest_mode", cfg.unique_id)
    assert.are.equal(COMMAND, cfg.command_topic)
    assert.are.equal(STATE, cfg.state_topic)
    assert.are.equal(AVAIL, cfg.availability_topic)
    assert.are.same({ "online" }, ex:sent(AVAIL))
    assert.are.same({ "OFF" }, ex:sent(STATE))
  end)

  it("subscribes to its command topic and to HA's status", function()
    assert.are.same({ [COMMAND] = 1, ["homeassistant/status"] = 1 }, ex.rt.subscribed)
  end)

  it("follows ON and OFF commands on the state topic", function()
    ex:clear()
    ex:send(COMMAND, "ON")
    ex:send(COMMAND, "OFF")
    assert.are.same({ "ON", "OFF" }, ex:sent(STATE))
    assert.is_true(ex:records(STATE)[1].retain)
  end)

  it("ignores another command, with a warning", function()
    ex:clear()
    ex:send(COMMAND, "MAYBE")
    assert.are.same({}, ex:sent())
    assert.truthy(ex.logs.find("warn", "MAYBE"))
  end)

  it("announces itself again when HA comes online, with the current state", function()
    ex:send(COMMAND, "ON")
    ex:clear()
    ex:send("homeassistant/status", "offline")
    assert.are.same({}, ex:sent())
    ex:send("homeassistant/status", "online")
    assert.are.equal(1, #ex:sent(CONFIG))
    assert.are.same({ "online" }, ex:sent(AVAIL))
    assert.are.same({ "ON" }, ex:sent(STATE))
  end)

  it("keeps the switch's state across a restart", function()
    ex:send(COMMAND, "ON")
    ex:restart()
    assert.are.same({ "ON" }, ex:sent(STATE))
  end)
end)
