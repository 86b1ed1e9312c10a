"""Auto-answer (agents[].auto-answer): the agent's leg of acd's originate carries the standard
auto-answer signalling, seen on the simulator's CHANNEL_CREATE as any switch would set it; the
other agents' legs do not. Every agent leg carries the acd call uuid for the softphone's card."""

import pytest

from acd.config import ConfigError, parse_config
from acd.esl import commands as cmd

from tests.acd_world import World

ALERT_INFO = "<http://www.notused.com>;info=alert-autoanswer;delay=0"


@pytest.fixture
def world(tmp_path, redis_url):
    worlds = []

    def make(queues, **kw):
        w = World(tmp_path, redis_url, queues, **kw)
        worlds.append(w)
        return w
    yield make
    for w in worlds:
        w.close()


def test_auto_answer_is_a_checked_boolean():
    agents = [{"id": "1", "contact": "user/1", "auto-answer": True}, {"id": "2", "contact": "user/2"}]
    config = parse_config({"agents": agents}, env={})
    assert config.agent("1").auto_answer is True
    assert config.agent("2").auto_answer is False
    with pytest.raises(ConfigError, match=r"src: agents\[0\]\.auto-answer: expected true or false"):
        parse_config({"agents": [dict(agents[0], **{"auto-answer": "yes"})]}, source="src", env={})


def test_the_auto_answer_leg_variables_are_acds_own_constants():
    leg = cmd.leg("user/1001", dict(cmd.AUTO_ANSWER, origination_uuid="u1"))
    assert leg == f"[sip_auto_answer=true,sip_h_Alert-Info={ALERT_INFO},origination_uuid=u1]user/1001"
    with pytest.raises(cmd.UnsafeValue):   # anything else in a per-leg value is still refused
        cmd.leg("user/1001", {"sip_h_Alert-Info": "<sip:x>;info=alert-autoanswer"})


def test_only_the_auto_answer_agents_leg_carries_the_signalling(world):
    w = world({"support": {"tiers": ["2001", "2002"], "strategy": "ring-all", "ring-timeout": 5}},
              agents={"2001": {"auto-answer": True}})
    w.daemon()
    caller = w.call("support")
    created = {}
    for _ in range(2):
        event = w.wait(lambda e: e.name == "CHANNEL_CREATE" and e.get("variable_acd_agent")
                       and e["variable_acd_agent"] not in created)
        created[event["variable_acd_agent"]] = event
    auto, plain = created["2001"], created["2002"]
    assert auto["variable_sip_auto_answer"] == "true"
    assert auto["variable_sip_h_Alert-Info"] == ALERT_INFO
    assert "variable_sip_auto_answer" not in plain
    assert "variable_sip_h_Alert-Info" not in plain
    for event in (auto, plain):   # the softphone links its call to the desktop's card with it
        assert event["variable_sip_h_X-Acd-Call"] == caller


def test_click_to_dial_rings_an_auto_answer_agent_with_the_signalling(world):
    w = world({"support": {"tiers": ["2001", "2002"]}}, agents={"2001": {"auto-answer": True}},
              cti={"dial-template": "sofia/gateway/pstn/{number}"},
              sim={"users": {"+4930555001": {"answer-after": 0.3}}})
    daemon = w.daemon()
    legs = {agent: daemon.outbound.dial(agent, "+4930555001")["uuid"]
            for agent in ("2001", "2002")}
    created = {agent: w.wait(lambda e, leg=leg: e.name == "CHANNEL_CREATE" and e.uuid == leg)
               for agent, leg in legs.items()}
    assert created["2001"]["variable_sip_auto_answer"] == "true"
    assert created["2001"]["variable_sip_h_Alert-Info"] == ALERT_INFO
    assert "variable_sip_auto_answer" not in created["2002"]
    for agent, event in created.items():
        assert event["variable_sip_h_X-Acd-Call"] == legs[agent]
