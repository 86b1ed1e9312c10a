"""What the desktop and the wallboard read: an agent's calls, one call, the wallboard, /me --
over real HTTP against a daemon with the simulator as FreeSWITCH."""

import time

from tests import cti_world
from tests.cti_world import PASSWORD

cti_factory = cti_world.cti_factory   # the fixture

QUEUES = {"support": {"tiers": ["2001"]},
          "hotline": {"ring-timeout": 1, "tiers": ["2101"], "service-level-threshold": 30}}


def test_an_agents_current_and_recent_calls(cti_factory):
    world = cti_factory(QUEUES)
    _, admin = world.daemon()
    agent = admin.as_(admin.login("2001", PASSWORD))
    assert agent.get("/api/v1/agents/2001/calls").json == {"agent": "2001", "current": None,
                                                           "recent": []}
    first = world.call("support", number="+4930111222", name="Max")
    world.bridged(first)
    world.wait_agent("2001", state="in-call")
    now = agent.get("/api/v1/agents/2001/calls").json
    current = now["current"]
    assert (current["call"], current["state"], current["queue"], current["direction"]) == (
        first, "in-call", "support", "inbound")
    assert (current["caller_number"], current["caller_name"]) == ("+4930111222", "Max")
    assert current["answered_at_epoch"] >= current["enqueued_at_epoch"]
    view = agent.get(f"/api/v1/calls/{first}").json
    assert (view["state"], view["agent"], view["queue"]) == ("bridged", "2001", "support")
    world.hangup(first)
    world.wait_agent("2001", state="waiting")
    second = world.call("support")
    world.bridged(second)
    world.hangup(second)
    world.wait_agent("2001", state="waiting")
    assert admin.get(f"/api/v1/calls/{first}").status == 404      # over: no longer held
    calls = agent.get("/api/v1/agents/2001/calls?limit=5").json
    assert calls["current"] is None
    assert [c["call"] for c in calls["recent"]] == [second, first]   # newest first
    record = calls["recent"][1]
    assert (record["result"], record["answered"], record["agent"]) == ("answered", True, "2001")
    assert record["caller_number"] == "+4930111222" and record["talk"] > 0
    assert record["ended_at_epoch"] >= record["answered_at_epoch"] >= record["enqueued_at_epoch"]
    assert len(agent.get("/api/v1/agents/2001/calls?limit=1").json["recent"]) == 1
    for limit in ("0", "51", "abc", "-1"):
        resp = agent.get(f"/api/v1/agents/2001/calls?limit={limit}")
        assert resp.status == 400 and "limit" in resp.json["error"]


def test_a_missed_call_is_in_the_agents_recent_calls(cti_factory):
    world = cti_factory(QUEUES)
    _, admin = world.daemon()
    caller = world.call("hotline")
    world.rang("2101")                     # never answers; the caller gives up
    world.hangup(caller)
    world.wait_agent("2101", state="waiting")
    recent = admin.get("/api/v1/agents/2101/calls").json["recent"]
    assert [(c["call"], c["result"], c["answered"], c["agent"]) for c in recent] == [
        (caller, "abandoned", False, None)]


def test_the_wallboard(cti_factory):
    world = cti_factory(QUEUES)
    _, admin = world.daemon()
    answered = world.call("support")
    world.bridged(answered)
    missed = world.call("hotline")
    world.rang("2101")
    world.hangup(missed)
    world.wait_agent("2001", state="in-call")
    an_agent = admin.as_(admin.login("2001", PASSWORD))
    assert an_agent.get("/api/v1/wallboard").status == 403
    board = admin.get("/api/v1/wallboard").json
    assert abs(board["time_epoch"] - time.time()) < 5
    queues = {q["queue"]: q for q in board["queues"]}
    assert list(queues) == ["support", "hotline"]
    assert queues["support"]["today"]["answered"] == 1
    assert queues["support"]["today"]["service_level"] == 1.0
    assert queues["support"]["agents"]["by_state"]["in-call"] == 1
    assert queues["hotline"]["today"]["abandoned"] == 1
    assert queues["hotline"]["today"]["service_level"] == 0.0
    assert queues["hotline"]["today"]["service_level_threshold"] == 30
    agents = {a["id"]: a for a in board["agents"]}
    assert (agents["2001"]["state"], agents["2001"]["call"]) == ("in-call", answered)
    assert abs(agents["2001"]["since_epoch"] - time.time()) < 5     # answered just now
    assert agents["2001"]["status_since_epoch"] is None               # never changed status
    assert agents["2001"]["queues"] == ["support"]
    admin.put("/api/v1/agents/2101/status", {"status": "on-break", "reason": "training"})
    agents = {a["id"]: a for a in admin.get("/api/v1/wallboard").json["agents"]}
    assert (agents["2101"]["status"], agents["2101"]["reason"]) == ("on-break", "training")
    assert abs(agents["2101"]["status_since_epoch"] - time.time()) < 5


def test_me_for_each_kind_of_token(cti_factory):
    world = cti_factory(QUEUES, {"2001": {"role": "supervisor"}})
    _, admin = world.daemon()
    me = admin.get("/api/v1/me").json
    assert (me["role"], me["agent_id"], me["agent"], me["kind"]) == ("admin", None, None,
                                                                    "admin-token")
    assert me["expires_at"] is None
    me = admin.get("/api/v1/me", token=admin.login("2001", PASSWORD)).json
    assert (me["role"], me["agent_id"], me["kind"]) == ("supervisor", "2001", "session")
    assert me["agent"]["queues"] == [{"name": "support", "level": 1, "position": 1}]
