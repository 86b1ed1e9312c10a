"""Selection cost as agents grow: store-level decisions against a private redis-server.

Theory of operation
-------------------
For each size N (100, 1,000, 10,000, 100,000) a :class:`Selection` loads N agents into the store
under its own key prefix (all sizes live side by side in one Redis), all in one queue, through
``Store.sync_agents`` (pipelined, as the daemon loads its config). Then rounds interleave the
sizes (so a noisy neighbour hits every size alike); each round times ``decisions`` decisions per
size with ``time.perf_counter``. One decision is what the router does for a caller -- search and
reserve (both Redis round trips) -- then an untimed ``release`` (``cancelled``: back where it
was, so the set stays the same size and order). The report gives p50/p99 per size over all
rounds and, per round, the ratio of each size's median to the smallest size's.

Selections (``SELECTIONS``, name -> :class:`Selection`):

* ``longest-idle``: a ``longest-idle-agent`` queue: ``candidates(queue, None, 1)``.
* ``skills``: a ``strategy: skills`` best-match queue; agents have skills from profiles (50
  skills: 8 popular "languages", 42 rarer "products", Zipf-like, proficiency 1-10 peaking
  mid-range); each decision asks for one of 40 requirement sets of 1-3 skills (drawn from agent
  profiles, minimums 1-6) that the queue's config names -- so the queue keeps a ready-ordered
  match set for each (``Store.pick(..., match_set=True)``).
* ``skills-adhoc``: the same agents and requirements searched without match sets (a call's own
  ``acd_skills`` combining skills the config never names): the walk over the rarest skill's set.
"""

import random
import statistics
import time

from acd.store import Store, TierRef

SIZES = (100, 1_000, 10_000, 100_000)
QUEUE = "sel"
LOAD_BATCH = 2000
_AGENT = {"name": "", "contact": "user/x", "max_no_answer": 0, "wrap_up_time": 0,
          "reject_delay_time": 0, "busy_delay_time": 0, "no_answer_delay_time": 0,
          "ring_timeout": ""}
SKILLS = [f"lang{i}" for i in range(8)] + [f"product{i}" for i in range(42)]


class Selection:
    """``load(store, n)`` fills the store, ``decide(store, now)`` makes one decision,
    ``tiers()`` the agents' TierRefs (the queue they serve)."""

    def __init__(self, load, decide, tiers):
        self.load, self.decide, self.tiers = load, decide, tiers


def profile(rnd):
    """One agent's skills: 1-3 popular ones, 1-5 rarer ones (Zipf-like)."""
    skills = {}
    for name in rnd.sample(SKILLS[:8], rnd.choice([1, 1, 2, 2, 3])):
        skills[name] = min(10, max(1, round(rnd.triangular(1, 10, 6))))
    weights = [1.0 / (i + 1) for i in range(42)]
    for name in set(rnd.choices(SKILLS[8:], weights, k=rnd.randint(1, 5))):
        skills[name] = min(10, max(1, round(rnd.triangular(1, 10, 5))))
    return skills


def requirement_sets(seed=7, count=40):
    rnd, sets = random.Random(seed), set()
    while len(sets) < count:
        skills = profile(rnd)
        sets.add(tuple(sorted(rnd.sample(sorted(skills), min(len(skills), rnd.choice([1, 2, 2, 3]))))))
    return sorted(sets)


SETS = requirement_sets()


def load_agents(store, n, skills=False, now=None):
    """``n`` available agents in QUEUE with distinct idle times (and skills from profiles)."""
    now = time.time() if now is None else now
    rnd = random.Random(n)
    for first in range(0, n, LOAD_BATCH):
        store.sync_agents([(f"s{i:06d}", dict(_AGENT, skills=profile(rnd)) if skills else _AGENT,
                            "available") for i in range(first, min(n, first + LOAD_BATCH))],
                          now - n)


def decide_plain(store, now):
    """One longest-idle decision: best candidate, reserve; then release (cancelled), untimed.
    Returns the seconds the decision took."""
    started = time.perf_counter()
    return _reserve_release(store, store.candidates(QUEUE, None, 1), now, started)


def _reserve_release(store, found, now, started):
    if not found or not store.reserve(found[0], "bench-call", QUEUE, "bench", now, 30.0):
        raise RuntimeError(f"selection bench: no agent reserved in {QUEUE} ({found})")
    elapsed = time.perf_counter() - started
    store.release(found[0], "bench-call", "cancelled", now)
    return elapsed


def _decide_skills(match_set):
    rnd = random.Random(11)

    def decide(store, now):
        requirements = {name: rnd.randint(1, 6) for name in rnd.choice(SETS)}
        started = time.perf_counter()
        found = store.pick(QUEUE, "best-match", requirements, None, 1, match_set=match_set).agents
        if not found:  # nobody meets it: that is a decision too (the caller waits)
            return time.perf_counter() - started
        return _reserve_release(store, found, now, started)
    return decide


def _skills_tiers():
    return [TierRef(QUEUE, "skills", 1, 1, "best-match", [s for s in SETS if len(s) > 1])]


SELECTIONS = {
    "longest-idle": Selection(load_agents, decide_plain,
                              lambda: [TierRef(QUEUE, "longest-idle-agent", 1, 1)]),
    "skills": Selection(lambda store, n: load_agents(store, n, skills=True),
                        _decide_skills(True), _skills_tiers),
    "skills-adhoc": Selection(lambda store, n: load_agents(store, n, skills=True),
                              _decide_skills(False), _skills_tiers),
}


def _store(client, name, n, tiers):
    return Store(client, prefix=f"bench-{name}-{n}", tiers_of=lambda agent_id: tiers)


def run(client, sizes=SIZES, decisions=500, rounds=5, selections=None, progress=None):
    """``{name: {"sizes": {n: {...}}, "ratio_to_smallest": {n: median ratio}, "p99_vs_longest_idle":
    {n: ratio}}}``."""
    out = _run(client, sizes, decisions, rounds, selections, progress)
    plain = out.get("longest-idle")
    for name, result in out.items():
        if plain is not None and name != "longest-idle":
            result["p99_vs_longest_idle"] = {
                n: round(v["p99_ms"] / plain["sizes"][n]["p99_ms"], 2)
                for n, v in result["sizes"].items()}
    return out


def _run(client, sizes, decisions, rounds, selections, progress):
    """``{name: {"sizes": {n: {...}}, "ratio_to_smallest": {n: median ratio}}}``."""
    out = {}
    for name, selection in (selections or SELECTIONS).items():
        stores = {}
        for n in sizes:
            if progress:
                progress(f"selection {name}: loading {n:,} agents")
            stores[n] = _store(client, name, n, selection.tiers())
            selection.load(stores[n], n)
        out[name] = _measure(name, selection, stores, decisions, rounds, progress)
        for store in stores.values():
            _drop(store)
    return out


def _measure(name, selection, stores, decisions, rounds, progress):
    samples = {n: [] for n in stores}
    ratios = {n: [] for n in stores}
    smallest = min(stores)
    for r in range(rounds):
        medians = {}
        for n, store in stores.items():
            if progress:
                progress(f"selection {name}: round {r + 1}/{rounds}, {n:,} agents")
            times = _time(selection, store, decisions)
            samples[n] += times
            medians[n] = statistics.median(times)
        for n in stores:
            ratios[n].append(medians[n] / medians[smallest])
    return {"decisions_per_size": decisions * rounds, "rounds": rounds,
            "sizes": {str(n): _summary(samples[n]) for n in stores},
            "ratio_to_smallest": {str(n): round(statistics.median(ratios[n]), 3) for n in stores}}


def _time(selection, store, decisions):
    return [selection.decide(store, time.time()) for _ in range(decisions)]


def _summary(times):
    ordered = sorted(times)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": round(at(0.50) * 1000, 4), "p99_ms": round(at(0.99) * 1000, 4),
            "max_ms": round(ordered[-1] * 1000, 4)}


def _drop(store):
    """Delete a size's keys (SCAN + UNLINK in batches)."""
    batch = []
    for key in store.redis.scan_iter(match=f"{store.keys.prefix}:*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            store.redis.unlink(*batch)
            batch = []
    if batch:
        store.redis.unlink(*batch)
