"""Skill-based selection in the Redis store (pick.lua) against a real redis-server, checked
against a brute-force reading of the rules; and the pure requirement rules."""

import itertools
import random

import pytest

from acd.core import skills as sk
from acd.store import Store, TierRef
from tests.redis_where import client_for

T0 = 1_800_000_000.0
AGENT = {"max_no_answer": 0, "wrap_up_time": 0, "reject_delay_time": 0, "busy_delay_time": 0,
         "no_answer_delay_time": 0}


def make_store(redis_url, tiers):
    """``tiers``: {agent: [(queue, strategy, level, position, skill_order)]}"""
    refs = {a: [TierRef(*t) for t in ts] for a, ts in tiers.items()}
    return Store(client_for(redis_url),
                 tiers_of=lambda agent_id: refs.get(agent_id, []))


def add(store, agent_id, skills, idle_since, status="available"):
    store.sync_agent(agent_id, dict(AGENT, name=agent_id, contact=f"user/{agent_id}",
                                    skills=skills), status, idle_since)


def brute_best(agents, requirements, order, levels, max_level=None):
    """The rules as the docs state them, over every offerable agent."""
    qualified = [a for a in agents if a["offerable"] and sk.qualifies(a["skills"], requirements)
                 and (max_level is None or levels[a["id"]] <= max_level)]
    if not qualified:
        return None
    if order == "best-match":
        key = lambda a: (levels[a["id"]], -sk.total(a["skills"], requirements), a["idle"], a["id"])
    else:
        key = lambda a: (levels[a["id"]], a["idle"], a["id"])
    return min(qualified, key=key)["id"]


@pytest.mark.parametrize("order", ["best-match", "longest-idle"])
def test_pick_matches_brute_force_on_random_centers(redis_url, order):
    rnd = random.Random(7 if order == "best-match" else 8)
    names = [f"s{i}" for i in range(8)]
    agents, levels = [], {}
    for i in range(300):
        agent_id = f"a{i:03d}"
        levels[agent_id] = rnd.choice([1, 1, 1, 2, 3])
        skills = {n: rnd.randint(1, 10) for n in rnd.sample(names, rnd.randint(1, 5))}
        agents.append({"id": agent_id, "skills": skills, "idle": T0 + rnd.randint(0, 10_000),
                       "offerable": rnd.random() < 0.7})
    sets = [tuple(sorted(c)) for r in (2, 3) for c in itertools.combinations(names, r)]
    store = make_store(redis_url, {a["id"]: [("q", "skills", levels[a["id"]], 1, order, sets)]
                                   for a in agents})
    for a in agents:
        add(store, a["id"], a["skills"], a["idle"],
            "available" if a["offerable"] else "on-break")
    for trial in range(150):
        requirements = {n: rnd.randint(1, 9) for n in rnd.sample(names, rnd.randint(1, 3))}
        max_level = rnd.choice([None, 1, 2])
        expected = brute_best(agents, requirements, order, levels, max_level)
        pick = store.pick("q", order, requirements, max_level, match_set=trial % 2 == 0)
        assert pick.exact
        assert (pick.agents[0] if pick.agents else None) == expected, (trial, requirements)
        if expected:
            found = next(a for a in agents if a["id"] == expected)
            assert pick.found[0][1] == sk.total(found["skills"], requirements)


def test_pick_skips_busy_agents_and_stale_entries(redis_url):
    tiers = {a: [("q", "skills", 1, 1, "best-match")] for a in ("x", "y", "z")}
    store = make_store(redis_url, tiers)
    add(store, "x", {"german": 9}, T0)
    add(store, "y", {"german": 5}, T0 + 1)
    add(store, "z", {"german": 2}, T0 + 2)
    assert store.pick("q", "best-match", {"german": 3}, limit=3).found == [("x", 9), ("y", 5)]
    assert store.reserve("x", "call-1", "q", "d", T0 + 10, 30)   # x is busy now
    assert store.pick("q", "best-match", {"german": 3}).agents == ["y"]
    store.set_skills("y", {"german": 1, "billing": 4}, T0 + 11)  # y no longer qualifies
    assert store.pick("q", "best-match", {"german": 3}).agents == []
    assert store.pick("q", "best-match", {"billing": 4}).agents == ["y"]
    assert store.pick("q", "best-match", {"german": 1}, limit=3).agents == ["z", "y"]
    assert store.pick("q", "best-match", {"german": 1}, exclude=["z"]).agents == ["y"]


def test_filter_mode_keeps_the_queue_strategy_order(redis_url):
    tiers = {a: [("q", "top-down", 1, pos)] for pos, a in enumerate(("p1", "p2", "p3"), 1)}
    store = make_store(redis_url, tiers)
    add(store, "p1", {"english": 2}, T0)
    add(store, "p2", {"english": 9, "german": 3}, T0)
    add(store, "p3", {"german": 8}, T0)
    assert store.pick("q", "filter", {"german": 3}, limit=3).agents == ["p2", "p3"]
    assert store.pick("q", "filter", {"english": 1}).agents == ["p1"]


def test_runtime_skills_survive_a_resync_until_the_config_changes(redis_url):
    store = make_store(redis_url, {"a": [("q", "skills", 1, 1, "best-match")]})
    add(store, "a", {"german": 3}, T0)
    store.set_skills("a", {"german": 7}, T0 + 1)
    add(store, "a", {"german": 3}, T0 + 2)          # a daemon restart: same config
    assert store.agent_skills("a") == {"german": 7}
    add(store, "a", {"german": 4, "french": 2}, T0 + 3)  # the file was edited
    assert store.agent_skills("a") == {"german": 4, "french": 2}
    assert store.pick("q", "best-match", {"french": 2}).agents == ["a"]


def test_skip_reasons_name_why(redis_url):
    tiers = {a: [("q", "skills", 1, 1, "best-match")] for a in ("b", "w", "o")}
    store = make_store(redis_url, tiers)
    add(store, "b", {"german": 9}, T0)
    add(store, "w", {"german": 8}, T0)
    add(store, "o", {"german": 2}, T0, status="on-break")
    store.reserve("b", "c1", "q", "d", T0 + 1, 30)
    assert store.ranked_before("q", "german", "o") == ["b", "w"]
    assert store.skip_reasons(["b", "w", "o"], T0 + 2, {"german": 3}) == {
        "b": "reserved", "w": "offerable", "o": "skills"}


# -- the pure rules ---------------------------------------------------------------------------

def test_parse_and_merge():
    assert sk.parse_skills("german:4, Billing:2,german:1") == {"german": 4, "billing": 2}
    for bad in ("german", "german:0", "german:11", "ger man:3", "a:3\r\nX-Header: y"):
        with pytest.raises(sk.SkillError):
            sk.parse_skills(bad)
    assert sk.merge({"german": 3}, {"german": 4, "billing": 2}) == {"german": 4, "billing": 2}


def test_relax_steps():
    queue = {"german": 3}
    relax = [(30, {"german": 1}), (90, {})]
    call = {"german": 4, "billing": 2}
    assert sk.step_at(relax, 29.9) == 0 and sk.step_at(relax, 30) == 1
    assert sk.requirements_at(queue, relax, call, 0) == {"german": 4, "billing": 2}
    # a step caps the skills it names; the call's own extra skill stays until {} (anyone)
    assert sk.requirements_at(queue, relax, call, 1) == {"german": 1, "billing": 2}
    assert sk.requirements_at(queue, relax, call, 2) == {}
    assert sk.next_step_in(relax, 10) == 20 and sk.next_step_in(relax, 95) is None
