"""Wrap-up codes end to end: an agent answers, hangs up, gives a code over the API; the code is
in the event stream, the metric, acd report; a required code that wins holds the agent."""

import io
import json
import re
import time

import gevent
import pytest

from acd.config import ConfigError, parse_config
from acd.records import print_report
from tests import cti_world
from tests.cti_world import PASSWORD

cti_factory = cti_world.cti_factory   # the fixture

CODES = ["sale", "callback", "complaint"]


def test_a_code_given_after_the_call_is_counted_everywhere(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"], "wrap-up-codes": CODES}},
                        {"2001": {"wrap-up-time": 1}})
    _, admin = world.daemon()
    agent = admin.as_(admin.login("2001", PASSWORD))
    stream = admin.stream()
    caller = world.call("support")
    assert world.bridged(caller) == "2001"
    world.hangup(caller)
    world.wait_agent("2001", state="wrap-up")
    assert agent.post(f"/api/v1/calls/{caller}/wrap-up", {"code": "nope"}).status == 422
    answer = agent.post(f"/api/v1/calls/{caller}/wrap-up", {"code": "sale", "note": "2 units"})
    assert answer.status == 200, answer
    assert (answer.json["code"], answer.json["note"], answer.json["agent"]) == (
        "sale", "2 units", "2001")
    recent = agent.get("/api/v1/agents/2001/calls").json["recent"]
    assert [(c["call"], c["wrap_up_code"], c["wrap_up_note"]) for c in recent] == [
        (caller, "sale", "2 units")]
    event = stream.next(lambda e: e["event"] == "call.wrap-up")
    assert (event["data"]["call"], event["data"]["code"], event["data"]["queue"]) == (
        caller, "sale", "support")
    text = admin.get("/metrics").data.decode()
    assert 'acd_wrap_up_codes_total{code="sale",queue="support"} 1.0' in text
    out = io.StringIO()
    assert print_report(world.config, time.time() - 60, time.time() + 1, None, "json", out) == 0
    assert json.loads(out.getvalue())["wrap_up_codes"] == [
        {"queue": "support", "code": "sale", "calls": 1}]
    out = io.StringIO()
    print_report(world.config, time.time() - 60, time.time() + 1, None, "csv", out)
    assert "code,support/sale,1," in out.getvalue()
    stream.close()


def test_a_required_code_that_wins_holds_the_agent_until_given(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"], "wrap-up-codes": CODES,
                                     "wrap-up-code-required": True, "wrap-up-code-wins": True}},
                        {"2001": {"wrap-up-time": 0.5}})
    _, admin = world.daemon()
    agent = admin.as_(admin.login("2001", PASSWORD))
    caller = world.call("support")
    assert world.bridged(caller) == "2001"
    world.hangup(caller)
    world.wait_agent("2001", state="wrap-up")
    second = world.call("support")
    gevent.sleep(1.5)          # well past wrap-up-time: still held, the caller waits
    assert world.store.agent("2001")["state"] == "wrap-up"
    assert agent.post(f"/api/v1/calls/{caller}/wrap-up", {"code": "callback"}).status == 200
    assert world.bridged(second) == "2001"


def test_without_a_winning_code_wrap_up_time_ends_the_wrap_up(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"], "wrap-up-codes": CODES,
                                     "wrap-up-code-required": True}},
                        {"2001": {"wrap-up-time": 0.5}})
    world.daemon()
    caller = world.call("support")
    assert world.bridged(caller) == "2001"
    world.hangup(caller)
    second = world.call("support")
    assert world.bridged(second) == "2001"


def test_config_checks_the_codes():
    with pytest.raises(ConfigError, match=re.escape("queues[0].wrap-up-code-required: needs "
                                                    "wrap-up-codes")):
        parse_config({"queues": [{"name": "q", "wrap-up-code-required": True}]}, "t.yaml")
    with pytest.raises(ConfigError, match=re.escape("queues[0].wrap-up-codes: expected a list")):
        parse_config({"queues": [{"name": "q", "wrap-up-codes": "sale"}]}, "t.yaml")
