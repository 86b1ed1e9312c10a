"""The daemon end to end: the simulator as FreeSWITCH, a private Redis, callers driven with
``originate loopback/...`` and agents' phones configured in the simulator (tests/acd_world.py)."""

import gevent
import pytest

from tests.acd_world import World


@pytest.fixture
def world_factory(tmp_path, redis_url):
    worlds = []

    def make(queues, agents=None, **defaults):
        world = World(tmp_path / f"w{len(worlds)}", redis_url, queues, agents, **defaults)
        worlds.append(world)
        return world

    for path in (tmp_path / f"w{i}" for i in range(4)):
        path.mkdir()
    yield make
    for world in worlds:
        world.close()


def test_caller_is_answered_by_an_agent_and_the_agent_wraps_up(world_factory):
    world = world_factory({"support": {"tiers": ["2001"]}}, {"2001": {"wrap-up-time": 1}})
    world.daemon()
    caller = world.call("support")
    assert world.bridged(caller) == "2001"
    agent = world.wait_agent("2001", state="in-call")
    assert agent["calls_answered"] == 1
    world.hangup(caller)
    agent = world.wait_agent("2001", state="wrap-up")
    ended = agent["last_call_end"]
    assert agent["idle_since"] == pytest.approx(ended + 1)
    world.wait_agent("2001", state="waiting", timeout=3)
    assert world.store.call(caller) is None
