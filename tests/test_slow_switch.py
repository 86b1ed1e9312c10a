"""acd against a slow FreeSWITCH (issue 12): the simulator as slow as a loaded real switch.

On a real FreeSWITCH short of CPU an inline ``api`` runs in the thread that also delivers the
connection's events, so one slow command freezes them all (``command-latency`` in the simulator
does exactly that, docs/simulator.md "A slow switch"). The first test shows that the model bites:
a client that sends ``uuid_bridge`` inline on its event connection gets CHANNEL_PARK seconds late.
The others show acd does not: every caller bridged, no agent who answered hung up, events on time.
"""

import collections
import re
import time

import gevent
import gevent.queue
import pytest

from acd.esl import EslClient

from tests.acd_world import World

#: The issue's settings: a bridge takes 2 s, a sendmsg 50 ms.
SLOW = {"command-latency": {"uuid_bridge": 2.0, "sendmsg": 0.05}}
AGENTS = [f"3{n:03d}" for n in range(1, 31)]
#: Phones as in the real test: answer after 1 s, the agent hangs up after 4 s of talk.
PHONES = {agent: {"answer-after": 1.0, "hangup-after": 4} for agent in AGENTS}


@pytest.fixture
def slow_world(tmp_path, redis_url):
    world = World(tmp_path, redis_url, {"support": {"tiers": AGENTS, "ring-timeout": 10}},
                  sim=dict(SLOW, users=PHONES))
    yield world
    world.close()


def originate_callers(world, count, rate):
    """``count`` callers dial the support queue, ``rate`` per second (bgapi, not waiting)."""
    jobs = []
    for n in range(count):
        jobs.append(world.driver.bgapi(
            "originate {origination_caller_id_number=+4930555%04d,ignore_early_media=true}"
            "loopback/5000 &park()" % n))
        gevent.sleep(1.0 / rate)
    return jobs


def test_the_slow_switch_model_bites_an_inline_api_on_the_event_connection(slow_world):
    """What acd did before issue 12: ``api uuid_bridge`` on the connection that also receives
    the events. While the bridge runs (2 s), a caller's CHANNEL_PARK cannot reach that
    connection; the driver's connection, which sent nothing, gets it at once."""
    world = slow_world
    old_style = EslClient("127.0.0.1", world.sim.port, "ClueCon", command_timeout=10)
    old_style.connect()
    parks = gevent.queue.Queue()
    old_style.register_handle("CHANNEL_PARK", lambda e: parks.put((time.time(), e)))
    old_style.subscribe("CHANNEL_PARK")
    try:
        bridging = gevent.spawn(old_style.api, "uuid_bridge no-such-a no-such-b")
        gevent.sleep(0.2)                        # the bridge is running on the switch
        sent = time.time()
        originate_callers(world, 1, 10)
        driver_park = world.wait(lambda e: e.name == "CHANNEL_PARK")
        driver_got = time.time()
        got, park = parks.get(timeout=10)
        assert park.uuid == driver_park.uuid
        assert driver_got - sent < 0.5                 # the switch parked the caller at once
        assert got - driver_got >= 1.2                 # the old-style client saw it ~1.8 s late
        assert bridging.get(timeout=5).startswith("-ERR")
    finally:
        old_style.stop()


def test_a_slow_switch_bridges_every_caller_and_hangs_up_no_answered_agent(slow_world, caplog):
    world = slow_world
    caplog.set_level("INFO", logger="acd.decisions")
    daemon = world.daemon()
    originate_callers(world, 30, rate=10)
    bridged = set()
    with gevent.Timeout(60, AssertionError("not every caller was bridged within 60 s")):
        while len(bridged) < 30:
            bridge = world.wait(lambda e: e.name == "CHANNEL_BRIDGE"
                                and e["Bridge-A-Unique-ID"] not in bridged)
            bridged.add(bridge["Bridge-A-Unique-ID"])
    world.collect(6.0)                           # the agents talk 4 s, then hang up
    legs = collections.defaultdict(set)          # agent leg -> what happened to it
    for event in world.seen:
        if event.name == "CHANNEL_BRIDGE":
            legs[event["Bridge-B-Unique-ID"]].add("bridged")
        elif event.get("variable_acd_agent"):
            legs[event.uuid].add(event.name)
    answered = {leg for leg, seen in legs.items() if "CHANNEL_ANSWER" in seen}
    dropped = [leg for leg in answered if "bridged" not in legs[leg]]
    assert len(answered) >= 30 and not dropped, f"agents answered for nothing: {dropped}"

    # acd's own measurement: every CHANNEL_PARK reached it within 0.5 s. A client that reads
    # events behind its slow commands gets them >= 1.2 s late (the test above); 100 ms, what
    # acd does on an idle machine, missed 2 parks of 90 on a loaded CI machine: a timed bound
    # that tight belongs to a benchmark, not here
    _, text = daemon.metrics.exposition()
    text = text.decode()
    within = _sample(text, 'acd_esl_event_lag_seconds_bucket{event="CHANNEL_PARK",le="0.5"}')
    total = _sample(text, 'acd_esl_event_lag_seconds_count{event="CHANNEL_PARK"}')
    assert total >= 60 and within == total, (within, total)   # callers' and agents' parks
    decided = collections.Counter(r.getMessage().split(" ", 1)[0] for r in caplog.records
                                  if r.name == "acd.decisions")
    assert decided["bridge"] == 30 and decided["done"] == 30, decided
    for never in ("bridge-failed", "answered-too-late", "offer-failed"):
        assert decided[never] == 0, decided


def _sample(text, series):
    match = re.search(re.escape(series) + r" ([0-9.e+]+)", text)
    assert match, f"{series} not exported"
    return float(match.group(1))

