"""The Redis store against a real redis-server: ordering, atomic reservation, outcomes, leases."""

import threading

import pytest

from acd.store import Store, TierRef
from tests.redis_where import client_for

T0 = 1_800_000_000.0
AGENT = {"max_no_answer": 3, "wrap_up_time": 10, "reject_delay_time": 10,
         "busy_delay_time": 60, "no_answer_delay_time": 0}


def make_store(redis_url, tiers):
    """``tiers``: {agent: [(queue, strategy, level, position)]}"""
    refs = {a: [TierRef(*t) for t in ts] for a, ts in tiers.items()}
    return Store(client_for(redis_url),
                 tiers_of=lambda agent_id: refs.get(agent_id, []))


def add_agents(store, ids, now=T0, spacing=1.0, **config):
    for i, agent_id in enumerate(ids):
        store.sync_agent(agent_id, dict(AGENT, name=f"Agent {agent_id}", contact=f"user/{agent_id}",
                                        **config), "available", now + i * spacing)


@pytest.fixture
def store(redis_url):
    agents = ["a", "b", "c"]
    return make_store(redis_url, {a: [("support", "longest-idle-agent", 1, i + 1)]
                                  for i, a in enumerate(agents)})


def test_longest_idle_agent_comes_first(store):
    add_agents(store, ["a", "b", "c"])  # a idle since T0, b since T0+1, c since T0+2
    assert store.candidates("support", limit=3) == ["a", "b", "c"]
    assert store.agent("a")["idle_since"] == T0 and store.agent("a")["state"] == "waiting"


def test_reserve_takes_the_agent_out_and_only_once(store):
    add_agents(store, ["a", "b"])
    assert store.reserve("a", "call-1", "support", "d1", T0 + 5, lease=30)
    assert not store.reserve("a", "call-2", "support", "d2", T0 + 5, lease=30)
    assert store.candidates("support", limit=3) == ["b"]
    agent = store.agent("a")
    assert agent["state"] == "reserved" and agent["call"] == "call-1" and agent["owner"] == "d1"


def test_concurrent_reservations_never_share_an_agent(redis_url):
    ids = [f"x{i}" for i in range(20)]
    tiers = {a: [("q", "longest-idle-agent", 1, 1)] for a in ids}
    add_agents(make_store(redis_url, tiers), ids)
    won = []

    def daemon(name):
        store = make_store(redis_url, tiers)  # own connection, as another daemon
        for call in range(15):
            for agent_id in store.candidates("q", limit=5):
                if store.reserve(agent_id, f"{name}-{call}", "q", name, T0 + 100, 30):
                    won.append((agent_id, f"{name}-{call}"))
                    break

    threads = [threading.Thread(target=daemon, args=(f"d{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    agents = [a for a, _ in won]
    assert len(agents) == len(set(agents)) == 20


def test_call_answered_then_ended_goes_through_wrap_up(store):
    add_agents(store, ["a", "b"])
    store.reserve("a", "c1", "support", "d", T0 + 10, 30)
    assert store.ringing("a", "c1", "leg-1", T0 + 10, 30)
    assert store.answered("a", "c1", T0 + 12, 30)
    assert not store.answered("a", "c1", T0 + 12, 30)  # idempotent
    assert store.agent("a")["state"] == "in-call" and store.agent("a")["calls_answered"] == 1
    changed, state, status = store.release("a", "c1", "ended", T0 + 72)
    assert changed and state == "wrap-up" and status == "available"
    agent = store.agent("a")
    assert agent["talk_time"] == 60 and agent["idle_since"] == T0 + 82 and "call" not in agent
    assert store.release("a", "c1", "ended", T0 + 73)[0] is False  # a repeated release
    assert store.candidates("support", limit=3) == ["b"]
    assert store.promote(T0 + 81) == []
    assert store.promote(T0 + 82) == ["a"]
    assert store.agent("a")["state"] == "waiting"
    assert store.candidates("support", limit=3) == ["b", "a"]  # b idle since T0+1


def test_no_answers_put_the_agent_on_break(store):
    add_agents(store, ["a"])
    for n in range(3):
        assert store.reserve("a", f"c{n}", "support", "d", T0 + n, 30)
        store.release("a", f"c{n}", "no_answer", T0 + n)
    agent = store.agent("a")
    assert agent["status"] == "on-break" and agent["no_answer_count"] == 3
    assert store.candidates("support") == []
    store.set_status("a", "available", T0 + 10)
    assert store.agent("a")["no_answer_count"] == 0 and store.candidates("support") == ["a"]


@pytest.mark.parametrize("outcome, delay", [("busy", 60), ("rejected", 10), ("unregistered", 5),
                                            ("cancelled", 0), ("no_answer", 0)])
def test_failure_delays(store, outcome, delay):
    add_agents(store, ["a"])
    store.reserve("a", "c", "support", "d", T0, 30)
    store.release("a", "c", outcome, T0)
    assert store.agent("a")["ready_at"] == T0 + delay
    if delay:
        assert store.candidates("support") == [] and store.next_ready_at() == T0 + delay
        assert store.promote(T0 + delay) == ["a"]
    assert store.candidates("support") == ["a"]
    assert store.agent("a")["idle_since"] == T0  # a failed offer is not a call


def test_status_changes(store):
    add_agents(store, ["a"])
    assert store.set_status("a", "on-break", T0)["status"] == "on-break"
    assert store.candidates("support") == []
    store.set_status("a", "available", T0)
    assert store.candidates("support") == ["a"]
    with pytest.raises(KeyError):
        store.set_status("nobody", "available", T0)
    with pytest.raises(ValueError):
        store.set_status("a", "dancing", T0)


def test_restart_keeps_runtime_state(redis_url, store):
    add_agents(store, ["a"])
    store.set_status("a", "on-break", T0)
    again = make_store(redis_url, {"a": [("support", "longest-idle-agent", 1, 1)]})
    again.sync_agent("a", dict(AGENT, name="Anna", contact="user/1001"), "available", T0 + 50)
    agent = again.agent("a")
    assert agent["status"] == "on-break" and agent["name"] == "Anna" and agent["idle_since"] == T0


def test_strategies_order(redis_url):
    tiers = {
        "a": [("td", "top-down", 1, 3), ("few", "agent-with-fewest-calls", 1, 1),
              ("talk", "agent-with-least-talk-time", 1, 1), ("lvl", "longest-idle-agent", 2, 1)],
        "b": [("td", "top-down", 1, 1), ("few", "agent-with-fewest-calls", 1, 2),
              ("talk", "agent-with-least-talk-time", 1, 2), ("lvl", "longest-idle-agent", 1, 1)],
        "c": [("td", "top-down", 1, 2), ("few", "agent-with-fewest-calls", 1, 3),
              ("talk", "agent-with-least-talk-time", 1, 3), ("lvl", "longest-idle-agent", 1, 1)],
    }
    store = make_store(redis_url, tiers)
    add_agents(store, ["a", "b", "c"], wrap_up_time=0)
    assert store.candidates("td", limit=3) == ["b", "c", "a"]
    assert store.candidates("lvl", limit=3) == ["b", "c", "a"]       # a is level 2
    assert store.candidates("lvl", max_level=1, limit=3) == ["b", "c"]
    # b takes two short calls, c one long one
    for call, (agent, talk) in enumerate([("b", 5), ("b", 5), ("c", 300)]):
        start = T0 + 10 + 1000 * call
        assert store.reserve(agent, f"c{call}", "few", "d", start, 30)
        store.ringing(agent, f"c{call}", f"l{call}", start, 30)
        store.answered(agent, f"c{call}", start, 30)
        store.release(agent, f"c{call}", "ended", start + talk)
    assert store.candidates("few", limit=3) == ["a", "c", "b"]
    assert store.candidates("talk", limit=3) == ["a", "b", "c"]


def test_round_robin_and_random(redis_url):
    tiers = {a: [("rr", "round-robin", 1, 1), ("rnd", "random", 1, 1)] for a in "abc"}
    store = make_store(redis_url, tiers)
    add_agents(store, list("abc"))
    order = []
    for n in range(6):
        agent = store.candidates("rr")[0]
        order.append(agent)
        store.reserve(agent, f"c{n}", "rr", "d", T0 + 10 + n, 30)
        store.release(agent, f"c{n}", "cancelled", T0 + 10 + n)
    assert order[3:] == order[:3] and sorted(order[:3]) == ["a", "b", "c"]
    picks = [store.candidates("rnd", shuffle=True)[0] for _ in range(300)]
    assert {agent: picks.count(agent) for agent in "abc"} == pytest.approx(
        {"a": 100, "b": 100, "c": 100}, abs=45)  # uniform (p of failing ~ 1e-6)
    assert sorted(store.candidates("rnd", limit=5, shuffle=True)) == ["a", "b", "c"]


def test_leases_expire(store):
    add_agents(store, ["a"])
    store.reserve("a", "c1", "support", "d", T0, lease=30)
    assert store.expired_leases(T0 + 29) == []
    store.renew(["a"], T0 + 20, 30)
    assert store.expired_leases(T0 + 31) == []
    assert store.expired_leases(T0 + 50) == [("a", "c1")]
    store.release("a", "c1", "lease_expired", T0 + 50)
    assert store.candidates("support") == ["a"]


def test_callers_keep_their_place_and_priority_counts(redis_url):
    store = make_store(redis_url, {})
    assert store.enqueue("u1", "support", 0, T0, caller_number="+49301", owner="d") == 1
    assert store.enqueue("u2", "support", 0, T0 + 10, owner="d") == 2
    assert store.enqueue("u3", "support", 15, T0 + 20, owner="d") == 2  # 15 s of priority
    assert store.enqueue("u1", "support", 0, T0 + 99, owner="d") == 1   # already there
    assert [u for u, _ in store.waiting("support")] == ["u1", "u3", "u2"]
    call = store.call("u1")
    assert call["enqueued_at"] == T0 and call["caller_number"] == "+49301" and call["state"] == "waiting"
    store.move_call("u2", "support", "sales", T0 + 60)
    assert store.call("u2")["queue"] == "sales" and store.waiting_count("support") == 2
    assert store.call("u2")["queue_since"] == T0 + 60  # a number, as enqueued_at
    store.end_call("u1", "support")
    assert store.call("u1") is None and store.live_calls() == ["u2", "u3"]
