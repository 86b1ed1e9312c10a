"""Skill-based routing end to end: the simulator as FreeSWITCH, a private Redis, callers driven
with ``originate loopback/...`` (tests/acd_world.py); the HTTP API over real TCP."""

import json
import urllib.request

import pytest

from tests.blocking import blocking
from tests.acd_world import World


@pytest.fixture
def world_factory(tmp_path, redis_url):
    worlds = []

    def make(queues, agents=None, **defaults):
        path = tmp_path / f"w{len(worlds)}"
        path.mkdir()
        world = World(path, redis_url, queues, agents, **defaults)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()


def http(daemon, method, path, body=None):
    """A request while the daemon's greenlets keep running."""
    return blocking(_http, daemon, method, path, body)


def _http(daemon, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{daemon.http.server_port}{path}", data=data, method=method,
        headers={"Authorization": "Bearer test-token", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def skills_queue(order="best-match", **settings):
    return dict({"strategy": "skills", "skill-order": order}, **settings)


def test_best_suited_agent_wins_over_a_longer_idle_one(world_factory):
    # 2001 is the longest idle (synced first) but 2002 speaks better German
    world = world_factory({"support": skills_queue(requirements={"german": 3},
                                                   tiers=["2001", "2002", "2003"])},
                          {"2001": {"skills": {"german": 3}}, "2002": {"skills": {"german": 8}},
                           "2003": {"skills": {"english": 9}}})
    world.daemon()
    caller = world.call("support")
    assert world.bridged(caller) == "2002"
    second = world.call("support")
    assert world.bridged(second) == "2001"   # 2003 lacks German: never offered
    third = world.call("support")
    world.collect(1.0)
    assert world.rings() == ["2002", "2001"]
    assert world.store.call(third)["state"] == "waiting"


def test_longest_idle_order_among_qualified_agents(world_factory):
    world = world_factory({"support": skills_queue("longest-idle", requirements={"german": 3},
                                                   tiers=["2001", "2002", "2003"])},
                          {"2001": {"skills": {"german": 2}}, "2002": {"skills": {"german": 4}},
                           "2003": {"skills": {"german": 9}}})
    world.daemon()
    assert world.bridged(world.call("support")) == "2002"
    assert world.bridged(world.call("support")) == "2003"


def test_unmet_requirement_waits_then_relaxes_exactly_on_time(world_factory):
    world = world_factory({"support": skills_queue(
        requirements={"german": 5}, relax=[{"after": 1.5, "requirements": {"german": 1}}],
        tiers=["2001"])}, {"2001": {"skills": {"german": 2}}})
    world.daemon()
    caller = world.call("support")
    enqueued = world.store.call(caller)["enqueued_at"]
    created = world.rang("2001", timeout=5)
    rang_at = float(created["Event-Date-Timestamp"]) / 1e6
    assert 1.5 <= rang_at - enqueued < 1.5 + 0.3   # at the step (timer), not a poll later
    assert world.bridged(caller) == "2001"


def test_call_requirements_from_acd_skills(world_factory):
    world = world_factory({"support": skills_queue(tiers=["2001", "2002"])},
                          {"2001": {"skills": {"german": 9}},
                           "2002": {"skills": {"german": 3, "billing": 5}}})
    world.daemon()
    caller = world.call("support", skills="german:2,billing:3")
    assert world.bridged(caller) == "2002"
    plain = world.call("support")
    assert world.bridged(plain) == "2001"
    picky = world.call("support", skills="french:1")
    world.collect(0.8)
    assert world.store.call(picky)["state"] == "waiting"


def test_a_freed_agent_takes_the_best_call_it_qualifies_for_across_queues(world_factory):
    world = world_factory({
        "billing": skills_queue(requirements={"billing": 5}, tiers=["2001"]),
        "german": skills_queue(requirements={"german": 3}, tiers=["2001"]),
    }, {"2001": {"skills": {"german": 5, "billing": 1}, "status": "on-break"}})
    daemon = world.daemon()
    first = world.call("billing")      # waits longer, but 2001 cannot take it
    second = world.call("german")
    world.collect(0.5)
    assert world.rings() == []
    daemon.service.set_agent_status("2001", "available")
    assert world.bridged(second) == "2001"
    assert world.store.call(first)["state"] == "waiting"


def test_skills_change_at_run_time_and_every_offer_is_explained(world_factory):
    world = world_factory({"support": skills_queue(requirements={"german": 3},
                                                   tiers=["2001", "2002", "2003"])},
                          {"2001": {"skills": {"german": 9}}, "2002": {"skills": {"german": 7}},
                           "2003": {"skills": {"german": 1}}})
    daemon = world.daemon(http=True)
    busy = [world.call("support"), world.call("support")]
    assert [world.bridged(c) for c in busy] == ["2001", "2002"]
    world.wait_agent("2001", state="in-call")
    world.wait_agent("2002", state="in-call")
    caller = world.call("support")
    world.collect(0.5)
    assert world.store.call(caller)["state"] == "waiting"     # 2003 does not qualify yet

    status, view = http(daemon, "PUT", "/api/v1/agents/2003/skills", {"skills": {"german": 4}})
    assert status == 200 and view["skills"] == {"german": 4}
    assert world.bridged(caller) == "2003"

    status, routing = http(daemon, "GET", f"/api/v1/calls/{caller}/routing")
    assert status == 200
    [offer] = routing["offers"]
    assert offer["agent"] == "2003" and offer["step"] == 0
    assert offer["requirements"] == {"german": 3} and offer["score"] == 4
    assert offer["qualified"] == 1 and offer["time"].endswith("Z")
    assert offer["skipped"] == [{"agent": "2001", "reason": "in-call"},
                                {"agent": "2002", "reason": "in-call"}]

    assert http(daemon, "PUT", "/api/v1/agents/2003/skills",
                {"skills": {"german": 11}})[0] == 400
    assert http(daemon, "PUT", "/api/v1/agents/nobody/skills", {"skills": {}})[0] == 404
    assert http(daemon, "GET", "/api/v1/calls/no-such-call/routing")[0] == 404
