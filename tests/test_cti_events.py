"""The live event stream end to end: the simulator as FreeSWITCH, a private Redis, daemons in this
process serving the API, clients reading GET /api/v1/events over real HTTP. Every event a test
receives is checked against its schema in the OpenAPI document (tests/cti_client.py)."""

import time

import gevent

from tests import cti_world
from tests.cti_world import ADMIN, PASSWORD

cti_factory = cti_world.cti_factory   # the fixture


def kinds(stream, *names):
    return [e for e in stream.seen if e["event"] in names]


def key(event_id):
    ms, seq = event_id.split("-")
    return int(ms), int(seq)


# -- the screen pop ------------------------------------------------------------------------------

MENU = {"name": "main", "greeting": "ivr/welcome.wav", "timeout": 2, "digit-timeout": 0.5,
        "options": {"4": {"collect": {"var": "customer_number", "min": 4, "max": 6,
                                      "prompt": "ivr/enter-number.wav"},
                          "then": {"queue": "support", "skills": "german:2"}}}}


def test_call_offered_reaches_the_agent_before_its_phone_answers(cti_factory):
    world = cti_factory({"support": {"ring-timeout": 10, "tiers": ["2201"]}},
                        {"2201": {"skills": {"german": 3}}},
                        ivr=[MENU], sounds={"ivr/*": 0.3})
    _, admin = world.daemon()
    agent = admin.as_(admin.login("2201", PASSWORD))
    stream = agent.stream()
    assert stream.status == 200 and stream.headers["content-type"].startswith("text/event-stream")
    caller = world.call_ivr("main", number="+4930555123", name="Muster")
    gevent.sleep(0.5)           # the greeting plays (0.3 s); keys pressed later cut nothing
    world.dtmf(caller, "4")
    gevent.sleep(0.5)           # the collect prompt
    world.dtmf(caller, "12345")
    offered = stream.next(lambda e: e["event"] == "call.offered", timeout=15)
    leg = offered["data"]["leg"]
    created = world.wait(lambda e: e.name == "CHANNEL_CREATE" and e.uuid == leg)
    answered = world.wait(lambda e: e.name == "CHANNEL_ANSWER" and e.uuid == leg, timeout=10)
    answered_at = time.monotonic()
    data = offered["data"]
    assert (data["call"], data["queue"], data["agent"]) == (caller, "support", "2201")
    assert (data["caller_number"], data["caller_name"]) == ("+4930555123", "Muster")
    assert data["ivr_path"] == "main>4" and data["digits"] == {"customer_number": "12345"}
    assert data["data"] == {"ivr_path": "main>4", "customer_number": "12345"}
    assert data["skills"] == {"german": 2} and data["ring_timeout"] == 10
    assert 0 <= data["wait"] < 2
    # written to the stream before FreeSWITCH created the agent's leg (the originate)
    created_ms = int(created["Event-Date-Timestamp"]) / 1000
    assert key(offered["id"])[0] <= created_ms, (offered["id"], created_ms)
    margin = answered_at - offered["at"]
    print(f"\nscreen pop: call.offered reached the desktop {margin:.3f} s before the agent's "
          f"phone answered (the simulated phone answers after 3 s)")
    assert margin > 2.5
    ringing = stream.next(lambda e: e["event"] == "agent.status")
    assert ringing["data"]["state"] == "ringing" and ringing["data"]["call"] == caller
    assert stream.next(lambda e: e["event"] == "call.answered")["data"]["leg"] == leg
    assert answered.uuid == leg
    stream.check()
    stream.close()


# -- order, across daemons -----------------------------------------------------------------------

def test_events_of_two_daemons_share_one_order(cti_factory, redis_url):
    queues = {"support": {"tiers": ["2001", "2002"]}}
    east, west = cti_factory(queues), cti_factory(queues)   # two FreeSWITCHes, one Redis
    _, admin_east = east.daemon(owner="east")
    _, admin_west = west.daemon(owner="west")
    on_east, on_west = admin_east.stream(), admin_west.stream()
    callers = []
    for world in (east, west, east, west):
        callers.append(world.call("support"))
        assert world.bridged(callers[-1]) in ("2001", "2002")
        world.hangup(callers[-1])
        world.hung_up(callers[-1])
    for stream in (on_east, on_west):
        for caller in callers:
            stream.next(lambda e, c=caller: e["event"] == "call.ended"
                        and e["data"]["call"] == c)
    gevent.sleep(0.3)           # the last agent.status events of both daemons
    ids_east = [e["id"] for e in on_east.seen]
    ids_west = [e["id"] for e in on_west.seen]
    shared = min(len(ids_east), len(ids_west))
    assert ids_east[:shared] == ids_west[:shared]
    assert [key(i) for i in ids_east] == sorted({key(i) for i in ids_east})   # increasing
    calls = [e["data"]["call"] for e in on_east.seen if e["event"] == "call.queued"]
    assert calls == callers     # each daemon's calls, in the order they happened
    for caller in callers:
        sequence = [e["event"] for e in on_east.seen
                    if e["event"].startswith("call.") and e["data"]["call"] == caller]
        assert sequence == ["call.queued", "call.offered", "call.answered", "call.ended"]
    on_east.check(), on_west.check()
    on_east.close(), on_west.close()


def test_a_reconnect_with_last_event_id_loses_nothing(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}})
    _, admin = world.daemon()
    reference = admin.stream()          # stays connected throughout
    first = admin.stream()
    caller = world.call("support")
    world.bridged(caller)
    answered = first.next(lambda e: e["event"] == "call.answered")
    first.close()                       # the network blips
    world.hangup(caller)
    missed = [world.call("support") for _ in range(2)]
    for caller in missed:
        world.bridged(caller)
        world.hangup(caller)
        world.hung_up(caller)
    reference.next(lambda e: e["event"] == "call.ended" and e["data"]["call"] == missed[-1])
    gevent.sleep(0.3)
    again = admin.stream(last_event_id=answered["id"])
    expected = [e["id"] for e in reference.seen if key(e["id"]) > key(answered["id"])]
    assert len(expected) > 8
    again.next(lambda e: e["id"] == expected[-1])
    assert [e["id"] for e in again.seen][:len(expected)] == expected
    # the same through a ticket (EventSource) and ?last_event_id=
    ticket = admin.post("/api/v1/events/ticket").json["ticket"]
    third = admin.stream(token=None, query=f"?ticket={ticket}&last_event_id={answered['id']}")
    third.next(lambda e: e["id"] == expected[-1])
    assert [e["id"] for e in third.seen][:len(expected)] == expected
    for stream in (reference, again, third):
        stream.check()
        stream.close()


def test_a_last_event_id_older_than_the_stream_says_so_first(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}})
    _, admin = world.daemon()
    admin.put("/api/v1/agents/2001/status", {"status": "on-break", "reason": "lunch"})
    stream = admin.stream(last_event_id="1-0")
    reset = stream.next()
    assert reset["event"] == "stream.reset" and reset["data"]["last_event_id"] == "1-0"
    assert stream.next()["event"] == "agent.status"      # then everything still kept
    stream.close()
    bad = admin.stream(last_event_id="yesterday")
    assert bad.status == 400 and "Last-Event-ID" in bad.error["error"]


# -- what each event says ------------------------------------------------------------------------

def test_events_survive_a_redis_that_forgot_the_scripts(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}})
    _, admin = world.daemon()
    stream = admin.stream()
    world.store.redis.script_flush()       # as after a restart of Redis
    admin.put("/api/v1/agents/2001/status", {"status": "on-break", "reason": "lunch"})
    event = stream.next(lambda e: e["event"] == "agent.status")["data"]
    assert (event["status"], event["reason"]) == ("on-break", "lunch")
    stream.close()


def test_status_changes_carry_reason_and_author(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}}, {"2001": {"wrap-up-time": 0.5}})
    _, admin = world.daemon()
    agent = admin.as_(admin.login("2001", PASSWORD))
    stream = agent.stream()
    resp = agent.put("/api/v1/agents/2001/status", {"status": "on-break", "reason": "lunch"})
    assert resp.status == 200 and resp.json["status"] == "on-break"
    event = stream.next(lambda e: e["event"] == "agent.status")["data"]
    assert (event["status"], event["reason"], event["change"], event["by"]) == (
        "on-break", "lunch", "agent-status", "2001")
    assert agent.get("/api/v1/me").json["status_reason"] == "lunch"
    for body, message in [({"status": "on-break", "reason": "nap"}, "invalid reason"),
                          ({"status": "available", "reason": "lunch"}, "on-break only"),
                          ({"status": "on-break", "reason": 5}, "invalid reason")]:
        resp = agent.put("/api/v1/agents/2001/status", body)
        assert resp.status == 400 and message in resp.json["error"], resp
    agent.put("/api/v1/agents/2001/status", {"status": "available"})
    back = stream.next(lambda e: e["event"] == "agent.status")["data"]
    assert (back["status"], back["reason"]) == ("available", "")
    caller = world.call("support")
    world.bridged(caller)
    world.hangup(caller)
    ready = stream.next(lambda e: e["event"] == "agent.status"
                        and e["data"]["change"] == "agent-ready")["data"]
    assert (ready["state"], ready["status"], ready["call"]) == ("waiting", "available", None)
    changes = [(e["data"]["change"], e["data"]["state"]) for e in kinds(stream, "agent.status")]
    assert changes[2:] == [("offer", "ringing"), ("bridge", "in-call"),
                           ("call-ended", "wrap-up"), ("agent-ready", "waiting")]
    wrap = kinds(stream, "agent.status")[4]["data"]
    assert wrap["ready_at"] is not None and wrap["call"] is None
    stream.check()
    stream.close()


def test_an_agent_sees_its_own_calls_only_and_an_abandoned_offer(cti_factory):
    world = cti_factory({"support": {"ring-timeout": 10, "tiers": ["2101"]},
                         "sales": {"tiers": ["2002"]}})
    _, admin = world.daemon()
    ringing_agent = admin.as_(admin.login("2101", PASSWORD))
    other = admin.as_(admin.login("2002", PASSWORD))
    mine, theirs, everything = ringing_agent.stream(), other.stream(), admin.stream()
    caller = world.call("support")                      # 2101's phone never answers
    world.rang("2101")
    world.hangup(caller)
    abandoned = mine.next(lambda e: e["event"] == "call.abandoned")["data"]
    assert abandoned["call"] == caller and abandoned["queue"] == "support"
    freed = mine.next(lambda e: e["event"] == "agent.status" and e["data"]["state"] == "waiting")
    assert freed["data"]["outcome"] == "cancelled"
    sale = world.call("sales")
    world.bridged(sale)
    everything.next(lambda e: e["event"] == "call.answered" and e["data"]["call"] == sale)
    theirs.next(lambda e: e["event"] == "call.answered")
    gevent.sleep(0.3)
    seen_by_mine = {e["data"].get("call") for e in mine.seen if e["event"].startswith("call.")}
    assert seen_by_mine == {caller}
    assert not kinds(mine, "call.queued")                # queued calls are no agent's yet
    assert all(e["data"]["agent"] == "2101" for e in kinds(mine, "agent.status"))
    assert {e["data"]["queue"] for e in kinds(mine, "queue.stats")} <= {"support"}
    assert {e["data"]["call"] for e in kinds(theirs, "call.answered")} == {sale}
    assert kinds(everything, "call.queued") and kinds(everything, "agent.status")
    for stream in (mine, theirs, everything):
        stream.check()
        stream.close()


def test_queue_stats_come_at_most_once_a_second_and_only_on_change(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}, "sales": {"tiers": ["2002"]}})
    _, admin = world.daemon()
    admin.put("/api/v1/agents/2001/status", {"status": "on-break", "reason": "training"})
    stream = admin.stream()
    callers = [world.call("support") for _ in range(3)]
    stats = stream.next(lambda e: e["event"] == "queue.stats" and e["data"]["queue"] == "support"
                        and e["data"]["waiting"] == 3, timeout=5)["data"]
    assert stats["agents"]["by_status"]["on-break"] == 1 and stats["longest_wait"] > 0
    assert stats["oldest_enqueued_at"] is not None
    admin.put("/api/v1/agents/2001/status", {"status": "available"})
    for caller in callers:
        world.bridged(caller)
        world.hangup(caller)
    settled = stream.next(lambda e: e["event"] == "queue.stats"
                          and e["data"]["queue"] == "support"
                          and e["data"]["today"]["answered"] == 3
                          and e["data"]["agents"]["by_state"]["waiting"] == 1, timeout=10)
    gevent.sleep(2.5)            # nothing changes: no more queue.stats
    support = [e for e in kinds(stream, "queue.stats") if e["data"]["queue"] == "support"]
    assert support[-1] is settled
    times = [e["at"] for e in support]
    assert all(b - a > 0.8 for a, b in zip(times, times[1:])), times
    shown = [{k: v for k, v in e["data"].items() if k not in ("longest_wait", "time")}
             for e in support]
    assert all(a != b for a, b in zip(shown, shown[1:]))
    assert time.monotonic() - support[-1]["at"] > 2
    assert support[-1]["data"]["today"] == {
        "offered": 3, "answered": 3, "abandoned": 0, "timed_out": 0, "exited": 0,
        "overflowed": 0, "service_level": 1.0, "service_level_threshold": 20.0}
    stream.check()
    stream.close()


def test_heartbeats_and_a_stream_that_ends_with_its_session(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}}, cti={"heartbeat": 0.3})
    _, admin = world.daemon()
    agent = admin.as_(admin.login("2001", PASSWORD))
    stream = agent.stream()
    with gevent.Timeout(3):
        while stream.comments.count("heartbeat") < 2:
            gevent.sleep(0.05)
    assert agent.post("/api/v1/logout").status == 200
    assert stream.ended.wait(3), "the stream outlived its session"
    assert stream.comments[-1] == "credential ended"
    stream.close()


def test_hundreds_of_clients_share_one_redis_reader(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}})
    _, admin = world.daemon()
    token = admin.login("2001", PASSWORD)
    first = admin.stream(token=token)      # the hub's reader starts with the first client
    clients_before = len(world.store.redis.client_list())
    streams = [admin.stream(token=token if i % 2 else ADMIN) for i in range(200)]
    assert all(s.status == 200 for s in streams)
    clients_after = len(world.store.redis.client_list())
    assert clients_after - clients_before <= 2, (clients_before, clients_after)
    sent = time.monotonic()
    admin.put("/api/v1/agents/2001/status", {"status": "on-break", "reason": "lunch"})
    arrivals = [s.next(lambda e: e["event"] == "agent.status"
                       and e["data"]["reason"] == "lunch")["at"] for s in streams]
    print(f"\nfan-out: one agent.status reached 200 clients within {max(arrivals) - sent:.3f} s "
          f"of the request; redis clients {clients_before} -> {clients_after}")
    for stream in streams + [first]:
        stream.check()
        stream.close()
