"""Selection cost as agents grow: store-level decisions against a private redis-server.

Theory of operation
-------------------
For each size N (100, 1,000, 10,000, 100,000) a :class:`Selection` loads N agents into the store
under its own key prefix (all sizes live side by side in one Redis), all in one queue. Then rounds
interleave the sizes (so a noisy neighbour hits every size alike); each round times ``decisions``
decisions per size with ``time.perf_counter``. One plain decision is what the router does for a
caller: ``candidates(queue, None, 1)`` (the best agent), ``reserve`` it, then ``release`` it
(``cancelled``: back where it was, so the set stays the same size and order). The report gives
p50/p99 per size over all rounds and, per round, the ratio of each size's median to N=100's;
the median of those ratios is the figure compared with the target (within 1.2x at 100,000).

``SELECTIONS`` maps a name to a :class:`Selection`: ``load(store, n)`` fills the store,
``decide(store, now)`` makes one decision. A second strategy (skills) plugs in there.
"""

import json
import statistics
import time

from acd.store import Store, TierRef
from acd.store.store import CONFIG_FIELDS

SIZES = (100, 1_000, 10_000, 100_000)
QUEUE = "sel"
LOAD_BATCH = 2000
_AGENT = {"name": "", "contact": "user/x", "max_no_answer": 0, "wrap_up_time": 0,
          "reject_delay_time": 0, "busy_delay_time": 0, "no_answer_delay_time": 0,
          "ring_timeout": ""}


class Selection:
    def __init__(self, load, decide, strategy="longest-idle-agent"):
        self.load, self.decide, self.strategy = load, decide, strategy


def load_agents(store, n, strategy="longest-idle-agent", now=None):
    """``n`` available agents in QUEUE, with distinct idle times, through ``sync_agent.lua``
    called directly in pipelines (``Store.sync_agent`` one by one would take minutes at 100k)."""
    now = time.time() if now is None else now
    keys, script = store.keys, store._scripts["sync_agent"]
    tiers = json.dumps({QUEUE: "1:1"})
    fields = json.dumps({k: _AGENT[k] for k in CONFIG_FIELDS})
    for first in range(0, n, LOAD_BATCH):
        pipe = store.redis.pipeline(transaction=False)
        for i in range(first, min(n, first + LOAD_BATCH)):
            agent_id = f"s{i:06d}"
            script(keys=[keys.agent(agent_id), keys.agent_tiers(agent_id), keys.agents,
                         keys.pending, keys.avail(QUEUE), keys.offers(QUEUE)],
                   args=[agent_id, now - n + i, 1, 0, fields, "available", tiers,
                         strategy, 1, 1], client=pipe)
        pipe.execute()


def decide_plain(store, now):
    """One longest-idle decision: best candidate, reserve, release (cancelled)."""
    found = store.candidates(QUEUE, None, 1)
    if not found or not store.reserve(found[0], "bench-call", QUEUE, "bench", now, 30.0):
        raise RuntimeError(f"selection bench: no agent reserved in {QUEUE} ({found})")
    store.release(found[0], "bench-call", "cancelled", now)


SELECTIONS = {"longest-idle": Selection(load_agents, decide_plain)}


def _store(client, name, n, strategy):
    tiers = [TierRef(QUEUE, strategy, 1, 1)]
    return Store(client, prefix=f"bench-{name}-{n}", tiers_of=lambda agent_id: tiers)


def run(client, sizes=SIZES, decisions=500, rounds=5, selections=None, progress=None):
    """``{name: {"sizes": {n: {...}}, "ratio_to_smallest": {n: median ratio}}}``."""
    out = {}
    for name, selection in (selections or SELECTIONS).items():
        stores = {}
        for n in sizes:
            if progress:
                progress(f"selection {name}: loading {n:,} agents")
            stores[n] = _store(client, name, n, selection.strategy)
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
    times = []
    for _ in range(decisions):
        started = time.perf_counter()
        selection.decide(store, time.time())
        times.append(time.perf_counter() - started)
    return times


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
