"""Redis that goes back in time: acknowledged writes lost, an agent never in two calls.

Redis acknowledges a write before it is safe. A replica promoted by Sentinel or Cluster lacks what
the old primary had not yet sent it; a Redis restarted with RDB persistence lacks everything after
its last snapshot. Both lose the same thing: the latest reservations. Here a real redis-server
is SIGKILLed and started again from a ``SAVE`` taken before an agent was given its call, so
Redis believes the agent free (its wrap-up long over) while FreeSWITCH has it talking. The
daemons notice the other server (its run_id), resynchronise and hold their agents again; an
agent answering an offer that Redis has meanwhile given to another call is never bridged twice.
"""

import time

import gevent
import pytest

from acd.redis_server import RedisServer
from tests.acd_world import World


@pytest.fixture
def private_redis():
    with RedisServer() as server:
        yield server


@pytest.fixture
def worlds(tmp_path, private_redis):
    built = []

    def make(n=1, agent="2001"):
        for i in range(n):
            path = tmp_path / f"host{i}"
            path.mkdir()
            queue = {"tiers": [agent], "ring-timeout": 6}
            built.append(World(path, private_redis.url, {"support": queue},
                               {agent: {"wrap-up-time": 1}}))
            built[-1].daemon(owner=f"host-{'ab'[i]}")
        return built

    yield make
    for world in built:
        world.close()


def _talking_after_a_snapshot(world, private_redis):
    """2001 talks with a caller who was still waiting when the snapshot was taken (2001 was in
    wrap-up then); Redis is then restarted from that snapshot."""
    first = world.call("support")
    assert world.bridged(first) == "2001"
    world.hangup(first)
    world.wait_agent("2001", state="wrap-up")
    talking = world.call("support")
    world.wait_call(talking, state="waiting")
    assert world.store.redis.save()
    assert world.bridged(talking, timeout=5) == "2001"
    assert world.wait_agent("2001", state="in-call")["call"] == talking
    private_redis.restart(snapshot=True)
    world.store.redis.connection_pool.disconnect()
    stale = world.store.agent("2001")
    assert stale["state"] == "wrap-up" and not stale.get("call"), "the snapshot is not older"
    return talking


def _no_second_bridge(world, seconds):
    """No new CHANNEL_BRIDGE for ``seconds``."""
    world.drain()
    before = len(world.seen)
    bridges = [e for e in world.collect(seconds)[before:] if e.name == "CHANNEL_BRIDGE"]
    assert not bridges, f"agent bridged again: {[e.get('Bridge-A-Unique-ID') for e in bridges]}"


def test_an_agent_talking_when_redis_goes_back_in_time_is_held_again(worlds, private_redis):
    (world,) = worlds(1)
    talking = _talking_after_a_snapshot(world, private_redis)
    waiting = world.call("support")
    _no_second_bridge(world, 2.5)
    agent = world.wait_agent("2001", state="in-call")
    assert agent["call"] == talking
    assert world.store.call(talking)["state"] == "bridged"
    world.hangup(talking)
    assert world.bridged(waiting, timeout=10) == "2001"


def test_another_daemon_never_bridges_the_agent_redis_forgot(worlds, private_redis):
    a, b = worlds(2)
    talking = _talking_after_a_snapshot(a, private_redis)
    waiting = b.call("support")          # on the other host, whose daemon knows nothing of 2001
    _no_second_bridge(b, 2.5)
    _no_second_bridge(a, 0.1)
    assert b.wait_agent("2001", state="in-call")["call"] == talking
    a.hangup(talking)
    assert b.bridged(waiting, timeout=10) == "2001"


def test_an_answer_for_an_agent_redis_gave_to_another_call_is_withdrawn(worlds):
    """The moment of the answer: Redis says the agent is in another call (this daemon's
    reservation was lost and another daemon took the agent, as the test does here while the
    phone rings): the leg is hung up, nothing is bridged, and the caller waits for the next free
    agent."""
    (world,) = worlds(1, agent="2201")      # a phone that rings 3 s before it answers
    caller = world.call("support")
    leg = world.rang("2201")
    world.store.hold("2201", "elsewhere", "leg-elsewhere", "ringing", "host-z", time.time(), 600,
                     take=True)
    assert world.hung_up(leg.uuid, timeout=6)
    _no_second_bridge(world, 0.5)
    assert world.store.agent("2201")["call"] == "elsewhere"
    assert world.store.call(caller)["state"] == "waiting"
    world.daemons[0].store.release("2201", "elsewhere", "cancelled", time.time())  # it ends
    assert world.bridged(caller, timeout=10) == "2201"


def test_an_agent_who_answers_while_redis_is_away_is_bridged_when_it_is_back(worlds,
                                                                            private_redis):
    """The answer is checked with Redis before the bridge; with Redis away that check fails,
    and the resync once Redis is back finds the answered leg and bridges it."""
    (world,) = worlds(1, agent="2201")      # a phone that rings 3 s before it answers
    caller = world.call("support")
    leg = world.rang("2201")
    assert world.store.redis.save()
    private_redis.kill()
    world.wait(lambda e: e.name == "CHANNEL_ANSWER" and e.uuid == leg.uuid, timeout=6)
    gevent.sleep(1.0)                        # the daemon acts on the answer, Redis is away
    private_redis.restart(snapshot=True)
    world.store.redis.connection_pool.disconnect()
    assert world.bridged(caller, timeout=10) == "2201"
    assert world.wait_agent("2201", state="in-call")["call"] == caller
