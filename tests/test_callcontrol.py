"""Call control through the simulator, as a telephony engineer would check it: a caller talking
to an agent is transferred to a queue or to one agent, put on hold, sent DTMF, hung up. The
daemon's CallControl is driven directly here; tests/test_cti_*.py drive it over HTTP."""

import gevent
import pytest

from acd.callcontrol import CallNotFound, ControlError, Refused

from tests.acd_world import World


@pytest.fixture
def world(tmp_path, redis_url):
    worlds = []

    def make(queues, **kw):
        w = World(tmp_path / f"w{len(worlds)}", redis_url, queues, **kw)
        worlds.append(w)
        return w
    for i in range(2):
        (tmp_path / f"w{i}").mkdir()
    yield make
    for w in worlds:
        w.close()


def talking(world, queue="support"):
    """A caller bridged to an agent: (caller uuid, agent id)."""
    caller = world.call(queue)
    agent = world.bridged(caller)
    world.wait_call(caller, state="bridged")
    return caller, agent


def test_transfer_to_a_queue_keeps_the_callers_wait_and_frees_the_agent(world):
    w = world({"support": {"tiers": ["2001"]}, "sales": {"tiers": ["2002"]}})
    daemon = w.daemon()
    caller, agent = talking(w)
    assert agent == "2001"
    first = w.store.call(caller)
    reply = daemon.control.transfer(caller, queue="sales")
    assert reply == {"uuid": caller, "transfer": {"queue": "sales"}}
    assert w.bridged_again(caller) == "2002"
    assert w.driver.api(f"uuid_exists {caller}") == "true"
    again = w.wait_call(caller, state="bridged", agent="2002")
    assert again["queue"] == "sales"
    assert float(again["enqueued_at"]) == float(first["enqueued_at"])   # the original wait
    w.wait_agent("2001", state="waiting", status="available")
    # the caller no longer parks after its bridge: when 2002 hangs up, the caller hangs up
    leg = again["agent_leg"]
    w.hangup(leg)
    assert w.hung_up(caller)["Hangup-Cause"] == "NORMAL_CLEARING"
    gevent.sleep(0.5)
    assert w.store.call(caller) is None


def test_transfer_to_an_agent_and_back_to_the_queue_when_it_does_not_answer(world):
    w = world({"support": {"tiers": ["2001", "2002", "2101"]}},
              agents={"2002": {"status": "on-break"}})
    daemon = w.daemon()
    caller, agent = talking(w)
    assert agent == "2001"
    with pytest.raises(Refused):
        daemon.control.transfer(caller, agent="9999")
    with pytest.raises(Refused):
        daemon.control.transfer(caller, agent="2001")
    daemon.control.transfer(caller, agent="2101")            # rings until the ring timeout
    created = w.wait(lambda e: e.name == "CHANNEL_CREATE" and e.get("variable_acd_agent") == "2101"
                     and e.get("variable_acd_call") == caller)
    assert created["variable_acd_call"] == caller
    # not answered: back to the support queue, where 2001 (out of wrap-up) takes it again
    assert w.bridged_again(caller, timeout=15) == "2001"


def test_hold_unhold_dtmf_and_hangup(world):
    w = world({"support": {"tiers": ["2001"]}})
    daemon = w.daemon()
    caller, _ = talking(w)
    leg = w.store.call(caller)["agent_leg"]
    assert daemon.control.dtmf(caller, "12#") == {"uuid": caller, "digits": "12#"}
    digits = [w.wait(lambda e, d=d: e.name == "DTMF" and e.uuid == leg and e["DTMF-Digit"] == d)
              for d in "12#"]
    assert all(d["DTMF-Source"] == "APP" for d in digits)
    for bad in ("", "12x", "1" * 33, "1;uuid_kill"):
        with pytest.raises(Refused):
            daemon.control.dtmf(caller, bad)
    assert daemon.control.hold(caller) == {"uuid": caller, "held": True}
    w.wait(lambda e: e.name == "CHANNEL_HOLD" and e.uuid == leg)
    with pytest.raises(ControlError, match="already on hold"):
        daemon.control.hold(caller)
    assert daemon.control.hold(caller, on=False) == {"uuid": caller, "held": False}
    w.wait(lambda e: e.name == "CHANNEL_UNHOLD" and e.uuid == leg)
    with pytest.raises(ControlError, match="not on hold"):
        daemon.control.hold(caller, on=False)
    assert daemon.control.hangup(caller) == {"uuid": caller, "hangup": True}
    w.hung_up(caller)
    w.hung_up(leg)
    w.wait_agent("2001", state="waiting")
    with pytest.raises(CallNotFound):
        daemon.control.hangup(caller)


def test_control_of_a_call_that_is_not_talking(world):
    w = world({"support": {"tiers": ["2101"]}})
    daemon = w.daemon()
    caller = w.call("support")                                  # rings 2101, never answered
    with pytest.raises(ControlError, match="not in a conversation"):
        daemon.control.hold(caller)
    with pytest.raises(CallNotFound):
        daemon.control.transfer("no-such-call", queue="support")
