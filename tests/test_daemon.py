"""The daemon end to end: the simulator as FreeSWITCH, a private Redis, callers driven with
``originate loopback/...`` and agents' phones configured in the simulator (tests/acd_world.py)."""

import gevent
import pytest

from tests.acd_world import World


@pytest.fixture
def world_factory(tmp_path, redis_url):
    worlds = []

    def make(queues, agents=None, redis_url=redis_url, proxy=False, **defaults):
        world = World(tmp_path / f"w{len(worlds)}", redis_url, queues, agents, proxy, **defaults)
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


T = 1_800_000_000.0


def stagger_idle(world, agents_oldest_first):
    """Give agents distinct idle times before the daemon starts (the daemon keeps them)."""
    from acd.store import TierRef
    store = world.store
    store.tiers_of = lambda agent_id: [TierRef(q.name, q.strategy, t.level, t.position)
                                       for q, t in world.config.queues_of(agent_id)]
    now = __import__("time").time()
    for i, agent_id in enumerate(agents_oldest_first):
        store.sync_agent(agent_id, {}, "available", now - 100 + i)


def test_longest_idle_agent_gets_the_call(world_factory):
    world = world_factory({"support": {"strategy": "longest-idle-agent",
                                       "tiers": ["2001", "2002", "2003"]}})
    stagger_idle(world, ["2002", "2003", "2001"])
    world.daemon()
    first = world.call("support")
    assert world.bridged(first) == "2002"
    second = world.call("support")
    assert world.bridged(second) == "2003"
    world.hangup(first)
    world.wait_agent("2002", state="waiting")
    third = world.call("support")
    assert world.bridged(third) == "2001"   # idle longer than 2002, who just finished a call
    assert world.rings() == ["2002", "2003", "2001"]


def test_top_down_rings_in_tier_order_every_time(world_factory):
    world = world_factory({"support": {"strategy": "top-down", "tiers": [
        {"agent": "2003", "position": 1}, {"agent": "2001", "position": 2},
        {"agent": "2002", "position": 3}]}})
    stagger_idle(world, ["2002", "2001", "2003"])
    world.daemon()
    first = world.call("support")
    assert world.bridged(first) == "2003"
    world.hangup(first)
    world.wait_agent("2003", state="waiting")
    second = world.call("support")
    assert world.bridged(second) == "2003"
    third = world.call("support")
    assert world.bridged(third) == "2001"


def test_ring_all_rings_every_phone_and_the_first_answer_wins(world_factory):
    world = world_factory({"group": {"strategy": "ring-all", "tiers": ["2101", "2001", "2102"]}},
                          {"2001": {}})
    world.daemon()
    caller = world.call("group")
    assert world.bridged(caller) == "2001"
    assert sorted(world.rings()) == ["2001", "2101", "2102"]
    legs = world.legs_by_agent()
    loser = legs["2101"][0][0]
    assert world.hung_up(loser.uuid)["Hangup-Cause"] == "LOSE_RACE"
    world.wait_agent("2101", state="waiting")
    assert world.agent("2101")["no_answer_count"] == 0  # losing a race is not a missed call
    world.wait_agent("2001", state="in-call")  # recorded once uuid_bridge replies


def test_hunt_group_falls_through_on_no_answer_busy_reject(world_factory):
    world = world_factory({"hunt": {"strategy": "sequentially-by-agent-order", "ring-timeout": 1,
                                    "tiers": [{"agent": "2101", "position": 1},
                                              {"agent": "2102", "position": 2},
                                              {"agent": "2103", "position": 3},
                                              {"agent": "2104", "position": 4},
                                              {"agent": "2001", "position": 5}]}},
                          busy_delay_time=60, reject_delay_time=30, no_answer_delay_time=20)
    world.daemon()
    started = gevent.get_hub().loop.now()
    caller = world.call("hunt")
    assert world.bridged(caller, timeout=15) == "2001"
    assert world.rings() == ["2101", "2102", "2103", "2001"]  # 2104 has no registered phone:
    # its originate fails without creating a channel
    assert gevent.get_hub().loop.now() - started < 6
    no_answer = world.agent("2101")
    assert no_answer["no_answer_count"] == 1 and no_answer["ready_at"] > no_answer.get("idle_since", 0)
    busy, rejected, unregistered = world.agent("2102"), world.agent("2103"), world.agent("2104")
    assert busy["ready_at"] - __import__("time").time() > 50            # busy-delay-time 60
    assert 20 < rejected["ready_at"] - __import__("time").time() <= 30  # reject-delay-time 30
    assert unregistered["ready_at"] - __import__("time").time() <= 5    # short delay
    for agent in (no_answer, busy, rejected, unregistered):
        assert agent["state"] == "waiting" and agent["status"] == "available"


def test_max_no_answer_puts_the_agent_on_break(world_factory):
    world = world_factory({"support": {"ring-timeout": 1, "tiers": ["2101"]}},
                          {"2101": {"max-no-answer": 2}})
    world.daemon()
    world.call("support")
    world.wait_agent("2101", status="on-break", timeout=10)
    assert world.rings() == ["2101", "2101"]
    assert world.agent("2101")["no_answer_count"] == 2


def test_abandon_while_ringing_cancels_the_agent_leg(world_factory):
    world = world_factory({"support": {"ring-timeout": 20, "tiers": ["2101"]}})
    world.daemon()
    caller = world.call("support")
    leg = world.rang("2101")
    world.hangup(caller)
    killed = gevent.get_hub().loop.now()
    hangup = world.hung_up(leg.uuid, timeout=2)
    assert gevent.get_hub().loop.now() - killed < 1.0
    assert hangup["Hangup-Cause"] == "ORIGINATOR_CANCEL"
    agent = world.wait_agent("2101", state="waiting")
    assert agent["no_answer_count"] == 0 and agent["status"] == "available"
    assert world.store.call(caller) is None


def test_overflow_after_max_wait(world_factory):
    world = world_factory({"support": {"max-wait-time": 1, "overflow": {"queue": "sales"},
                                       "tiers": ["2101"]},
                           "sales": {"tiers": ["2001"]}},
                          {"2101": {"status": "on-break"}})
    world.daemon()
    caller = world.call("support")
    started = gevent.get_hub().loop.now()
    assert world.bridged(caller) == "2001"
    assert 0.9 < gevent.get_hub().loop.now() - started < 3


def test_exit_key_leaves_the_queue(world_factory):
    world = world_factory({"support": {"exit-key": "0", "exit-action": {"transfer": "9000 XML default"},
                                       "tiers": ["2101"]}}, {"2101": {"status": "on-break"}})
    world.daemon()
    caller = world.call("support")
    assert world.driver.api(f"uuid_recv_dtmf {caller} 0").startswith("+OK")
    world.hung_up(caller)  # 9000 plays a message and hangs up
    assert world.store.call(caller) is None
    assert world.store.waiting_count("support") == 0


def test_tier_levels_open_after_the_wait(world_factory):
    world = world_factory({"support": {"tier-rules-apply": True, "tier-rule-wait-second": 2,
                                       "tiers": [{"agent": "2101", "level": 1},
                                                 {"agent": "2001", "level": 2}]}},
                          {"2101": {"status": "on-break"}})
    world.daemon()
    started = gevent.get_hub().loop.now()
    caller = world.call("support")
    assert world.bridged(caller) == "2001"
    assert gevent.get_hub().loop.now() - started >= 1.9


def test_agent_shared_by_two_queues_takes_the_longest_waiting_caller(world_factory):
    world = world_factory({"support": {"tiers": ["2001"]}, "sales": {"tiers": ["2001"]}},
                          {"2001": {"status": "on-break"}})
    daemon = world.daemon()
    first = world.call("sales")
    second = world.call("support")
    world.call("sales")
    daemon.service.set_agent_status("2001", "available")
    assert world.bridged(first) == "2001"
    world.hangup(first)
    assert world.bridged(second) == "2001"


def test_restart_keeps_parked_callers_in_place(world_factory):
    world = world_factory({"support": {"tiers": ["2001"]}}, {"2001": {"status": "on-break"}})
    daemon = world.daemon(owner="box-1")
    first = world.call("support")
    second = world.call("support")
    enqueued = world.store.call(first)["enqueued_at"]
    daemon.stop()                                   # acd goes away; callers stay parked
    world.daemons.remove(daemon)
    third = world.call("support", queued=False)     # arrives while acd is down
    world.daemon(owner="box-1")
    with gevent.Timeout(5, AssertionError("the caller who came while acd was down was not adopted")):
        while world.store.waiting_count("support") < 3:
            gevent.sleep(0.05)
    assert world.store.call(first)["enqueued_at"] == enqueued
    assert [u for u, _ in world.store.waiting("support")] == [first, second, third]
    again = world.daemons[-1]
    again.service.set_agent_status("2001", "available")
    assert world.bridged(first) == "2001"


def test_two_daemons_on_one_redis_never_offer_one_agent_twice(world_factory, tmp_path):
    agents = ["2001", "2002", "2003"]
    one = world_factory({"support": {"tiers": agents}})
    two = World(tmp_path / "w3", one.redis_url, {"support": {"tiers": agents}})  # another FreeSWITCH
    try:
        one.daemon(owner="box-1")
        two.daemon(owner="box-2")
        callers = []
        for n in range(6):
            callers.append((one, one.call("support")))
            callers.append((two, two.call("support")))
        one.collect(2)
        two.collect(0.5)
        active = {}
        for world in (one, two):
            for event in world.seen:
                agent = event.get("variable_acd_agent")
                if agent and event.name in ("CHANNEL_CREATE", "CHANNEL_HANGUP"):
                    active.setdefault(agent, []).append(
                        (event["Event-Date-Timestamp"], 1 if event.name == "CHANNEL_CREATE" else -1))
        for agent, changes in active.items():
            level = 0
            for _, delta in sorted(changes):
                level += delta
                assert level <= 1, f"agent {agent} had two calls at once"
        assert sum(1 for w in (one, two) for e in w.seen if e.name == "CHANNEL_BRIDGE") == 3
    finally:
        two.close()


def answer_and_end(world, queue):
    """One caller, answered; returns the agent who took it, once the call is over."""
    caller = world.call(queue)
    agent = world.bridged(caller)
    world.hangup(caller)
    world.wait_agent(agent, state="waiting")
    return agent


def test_round_robin_takes_turns(world_factory):
    world = world_factory({"rr": {"strategy": "round-robin", "tiers": ["2001", "2002", "2003"]}})
    world.daemon()
    assert [answer_and_end(world, "rr") for _ in range(4)] == ["2001", "2002", "2003", "2001"]


def seed_stats(world, stats):
    stagger_idle(world, list(stats))
    for agent_id, fields in stats.items():
        world.store.redis.hset(world.store.keys.agent(agent_id), mapping=fields)


def test_fewest_calls_and_least_talk_time(world_factory):
    world = world_factory({"few": {"strategy": "agent-with-fewest-calls", "tiers": ["2001", "2002", "2003"]},
                           "talk": {"strategy": "agent-with-least-talk-time",
                                    "tiers": ["2004", "2005", "2006"]}})
    seed_stats(world, {"2001": {"calls_answered": 5}, "2002": {"calls_answered": 1},
                       "2003": {"calls_answered": 3}, "2004": {"talk_time": 900},
                       "2005": {"talk_time": 1200}, "2006": {"talk_time": 60}})
    world.daemon()
    # 2002 has 1 call, 2003 has 3, 2001 has 5; ties go to the tier position
    taken = [answer_and_end(world, "few") for _ in range(4)]
    assert taken == ["2002", "2002", "2002", "2003"]  # 2002 at 3 ties 2003 and wins by position
    assert world.agent("2002")["calls_answered"] == 4 and world.agent("2003")["calls_answered"] == 4
    assert answer_and_end(world, "talk") == "2006"


def test_random_spreads_the_calls(world_factory):
    world = world_factory({"rnd": {"strategy": "random", "tiers": ["2001", "2002", "2003"]}})
    world.daemon()
    assert len({answer_and_end(world, "rnd") for _ in range(8)}) > 1


def test_ring_progressively_adds_a_phone_every_ring_timeout(world_factory):
    world = world_factory({"prog": {"strategy": "ring-progressively", "ring-timeout": 1,
                                    "tiers": [{"agent": "2101", "position": 1},
                                              {"agent": "2001", "position": 2}]}})
    world.daemon()
    caller = world.call("prog")
    first = world.rang("2101")
    second = world.rang("2001", timeout=5)
    gap = (int(second["Event-Date-Timestamp"]) - int(first["Event-Date-Timestamp"])) / 1e6
    assert 0.8 < gap < 2.0
    assert world.bridged(caller) == "2001"
    hangup = world.hung_up(first.uuid, timeout=3)  # 2101 was still ringing when 2001 was added
    assert int(hangup["Event-Date-Timestamp"]) > int(second["Event-Date-Timestamp"])
    assert hangup["Hangup-Cause"] == "ORIGINATOR_CANCEL"


def test_abandoned_caller_who_calls_back_resumes_the_old_place(world_factory):
    world = world_factory({"support": {"abandoned-resume-allowed": True, "discard-abandoned-after": 60,
                                       "tiers": ["2001"]}}, {"2001": {"status": "on-break"}})
    world.daemon()
    first = world.call("support", number="+4930111")
    before = world.store.call(first)["enqueued_at"]
    second = world.call("support", number="+4930222")
    world.hangup(first)
    world.hung_up(first)
    with gevent.Timeout(5, AssertionError("abandoned call still queued")):
        while world.store.call(first) is not None:
            gevent.sleep(0.05)
    back = world.call("support", number="+4930111")          # the same caller calls back
    assert world.store.call(back)["enqueued_at"] == before
    assert [u for u, _ in world.store.waiting("support")] == [back, second]
    third = world.call("support", number="+4930111")         # the place is given back once
    assert world.store.call(third)["enqueued_at"] > before


def test_no_agent_logged_in_sends_callers_away_sooner_once_reached(world_factory):
    world = world_factory({"support": {"max-wait-time-with-no-agent": 2,
                                       "max-wait-time-with-no-agent-time-reached": 1,
                                       "overflow": {"hangup": "NORMAL_CLEARING"},
                                       "tiers": ["2001"]}}, {"2001": {"status": "logged-out"}})
    world.daemon()
    first = world.call("support")
    started = gevent.get_hub().loop.now()
    world.hung_up(first, timeout=5)
    assert 1.9 < gevent.get_hub().loop.now() - started < 3
    second = world.call("support")
    started = gevent.get_hub().loop.now()
    world.hung_up(second, timeout=5)
    assert 0.9 < gevent.get_hub().loop.now() - started < 1.8


def test_announcements_interrupt_the_music_and_it_resumes(world_factory):
    world = world_factory({"support": {"announce-sound": "queue/still-waiting.wav",
                                       "announce-frequency": 1, "tiers": ["2001"]}},
                          {"2001": {"status": "on-break"}})
    world.driver.register_handle("CHANNEL_EXECUTE", world.events.put)
    world.driver.subscribe("CHANNEL_EXECUTE")
    world.daemon()
    caller = world.call("support")
    plays = []
    for _ in range(2):
        event = world.wait(lambda e: e.name == "CHANNEL_EXECUTE" and e.uuid == caller
                           and e.get("Application-Data") == "queue/still-waiting.wav"
                           and e not in plays, timeout=4, what="announcement")
        plays.append(event)
    music = world.wait(lambda e: e.name == "CHANNEL_EXECUTE" and e.uuid == caller
                       and e.get("Application-Data") == "local_stream://moh"
                       and int(e["Event-Date-Timestamp"]) > int(plays[0]["Event-Date-Timestamp"]))
    assert music["Application"] == "playback"


def test_redis_restart_loses_no_caller_and_keeps_the_agent_in_its_call(world_factory, tmp_path):
    from acd.redis_server import RedisServer
    with RedisServer() as private:
        world = world_factory({"support": {"tiers": ["2001", "2002"]}},
                              {"2002": {"status": "on-break"}}, redis_url=private.url)
        daemon = world.daemon()
        talking = world.call("support")
        assert world.bridged(talking) == "2001"
        waiting = world.call("support")
        enqueued = world.store.call(waiting)["enqueued_at"]
        private.restart()                      # Redis comes back empty
        world.store.redis.connection_pool.disconnect()
        with gevent.Timeout(10, AssertionError("the waiting caller was not restored")):
            while (world.store.call(waiting) or {}).get("enqueued_at") != enqueued:
                gevent.sleep(0.1)
        assert world.wait_agent("2001", state="in-call")["call"] == talking
        daemon.service.set_agent_status("2002", "available")
        assert world.bridged(waiting) == "2002"
        world.hangup(talking)
        world.wait_agent("2001", state="waiting")


def test_esl_drop_while_an_agent_rings_loses_nothing(world_factory):
    world = world_factory({"support": {"strategy": "top-down", "ring-timeout": 2, "tiers": [
        {"agent": "2101", "position": 1}, {"agent": "2001", "position": 2}]}},
        {"2001": {"status": "on-break"}}, proxy=True)
    daemon = world.daemon()
    caller = world.call("support")
    ringing = world.rang("2101")
    world.proxy.cut()                       # the network drops; FreeSWITCH and the calls live on
    daemon.service.set_agent_status("2001", "available")
    assert world.bridged(caller, timeout=15) == "2001"
    assert world.hung_up(ringing.uuid)["Hangup-Cause"] in ("ORIGINATOR_CANCEL", "NO_ANSWER")
    world.wait_agent("2101", state="waiting", status="available")
    assert daemon.esl.reconnects >= 1


def test_hostile_caller_name_reaches_the_agent_phone_as_a_safe_display_name(world_factory):
    """The display name of the sip_caller_hostile capture: FreeSWITCH would write it unescaped
    into the agent phone's ``From: "..."`` (a real phone showed ' % ^ Boss'), and ``}`` cannot be
    escaped inside {...}. The agent's leg gets a name without quotes, backslashes, brackets or
    braces, and a number that is a phone number."""
    world = world_factory({"support": {"tiers": ["2001"]}})
    world.daemon()
    hostile = "Eve, } ] ' \\\" % ^ Boss"
    caller = world.call("support", number="sip:1000@127.0.0.1", name=hostile)
    assert world.wait(lambda e: e.name == "CHANNEL_PARK" and e.uuid == caller
                      )["Caller-Caller-ID-Name"] == hostile
    created = world.rang("2001")
    assert created["Caller-Caller-ID-Name"] == "Eve, ' % ^ Boss"
    assert created["Caller-Caller-ID-Number"] == "anonymous"
    assert created["variable_acd_call"] == caller   # no variable was cut off or added
    assert "variable_evil" not in created.headers
    assert world.bridged(caller) == "2001"
    assert world.store.call(caller)["caller_name"] == hostile  # the original is kept for the CTI


def test_two_deployments_share_one_freeswitch_and_touch_only_their_own_calls(world_factory):
    """``instance`` in acd.yaml and ``acd_instance`` on the call: each daemon takes only the
    calls meant for it (a daemon without an instance only calls without one), leaves the others
    alone -- counted and logged once -- and applies ``unknown-queue`` to its own calls only."""
    import dataclasses
    from acd.config import Action, RedisConfig

    world = world_factory({"support": {"tiers": ["2001"]}, "sales": {"tiers": ["2002"]}})
    base = world.config
    tenant_a = dataclasses.replace(base, instance="tenant-a")
    tenant_b = dataclasses.replace(base, instance="tenant-b",
                                   redis=RedisConfig(url=base.redis.url, prefix="acd-b"),
                                   unknown_queue=Action("transfer", "9000 XML default"))
    world.config = tenant_a
    a = world.daemon("tenant-a")
    world.config = tenant_b
    b = world.daemon("tenant-b")

    for_a = world.call("support", instance="tenant-a", queued=False)
    for_b = world.call("support", instance="tenant-b", queued=False)
    assert world.bridged(for_a) == "2001"
    assert world.bridged(for_b) == "2001"   # tenant-b's own agent pool (its own Redis prefix)
    nobody = world.call("sales", queued=False)          # no acd_instance: neither daemon's
    stranger = world.call("sales", instance="tenant-c", queued=False)
    lost_a = world.call(None, instance="tenant-a", queued=False)   # tenant-a's, unknown queue
    lost_b = world.call(None, instance="tenant-b", queued=False)   # tenant-b's, unknown queue
    assert world.hung_up(lost_a)["Hangup-Cause"] == "NO_ROUTE_DESTINATION"
    # tenant-b sends its lost callers to 9000 (voicemail) instead
    world.wait(lambda e: e.name == "CHANNEL_HANGUP" and e.uuid == lost_b, timeout=10)
    world.collect(1.0)
    for uuid in (nobody, stranger):
        assert world.driver.api(f"uuid_exists {uuid}") == "true"   # not answered away, not killed
    assert "2002" not in world.rings()                             # nobody rang for them
    for daemon in (a, b):
        _, text = daemon.metrics.exposition()
        ignored = [line for line in text.decode().splitlines()
                   if line.startswith('acd_calls_ignored_total{reason="other-instance"}')]
        # each daemon saw the two callers without its instance plus the other tenant's two
        assert ignored == ['acd_calls_ignored_total{reason="other-instance"} 4.0'], ignored
    _, text = b.metrics.exposition()
    assert 'acd_calls_unknown_queue_total{action="transfer"} 1.0' in text.decode()
    # a restarted daemon adopts parked callers it never saw -- but only its own deployment's
    a.stop()
    world.config = tenant_a
    world.daemon("tenant-a-restarted")
    late = world.call("sales", instance="tenant-a", queued=False)
    assert world.bridged(late) == "2002"
    for uuid in (nobody, stranger):
        assert world.driver.api(f"uuid_exists {uuid}") == "true"
    assert world.rings().count("2002") == 1
