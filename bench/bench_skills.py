"""Benchmark: the cost of one routing decision as the center grows, skills vs plain longest-idle.

Against a private redis-server (its own process, as in production), for N agents (1,000, 10,000,
100,000 by default), 50 skills and requirements of 1-3 skills, on the SAME agents:

* ``plain``: a ``longest-idle-agent`` queue: ``Store.candidates`` + ``Store.reserve``;
* ``skills``: a ``strategy: skills`` queue (best-match): ``Store.pick`` + ``Store.reserve``, for
  requirement sets the queue's config names (its requirements and relax steps, or IVR options):
  the queue keeps a ready-ordered *match set* for each;
* ``adhoc``: the same queue and requirements, searched as if no match set were kept (a call's own
  ``acd_skills`` combining skills the config never names): a walk over the rarest skill's set.

A decision is timed from the search to the reservation (both Redis round trips included); the
agent is then released (untimed) so the pool stays steady. 30 % of the agents are busy (reserved
for other calls) so the skill sets hold stale entries as in a live center. Agents' skills follow
profiles: a few popular skills (languages), many rarer ones (products), proficiency 1-10 peaking
mid-range. A pool of 40 requirement sets is drawn from agents' own skills (1-3 of them, as a
real queue's requirements are written for its staff); each decision takes one at random with
random minimums of 1-6.

Reports per N: p50/p99 (microseconds, wall clock; interleaved plain/skills so noise hits both),
the p99 ratio skills/plain, growth of p99 from the smallest N, how often the search was exact
and how many zset entries it examined. Run: ``python bench/bench_skills.py [--agents 1000,10000]
[--decisions N] [--json FILE]``.
"""

import argparse
import json
import os
import pathlib
import platform
import random
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from acd.redis_server import RedisServer  # noqa: E402
from acd.store import Store, TierRef  # noqa: E402

SKILLS = [f"lang{i}" for i in range(8)] + [f"product{i}" for i in range(42)]
T0 = 1_800_000_000.0


def profile(rnd):
    skills = {}
    for name in rnd.sample(SKILLS[:8], rnd.choice([1, 1, 2, 2, 3])):  # languages: popular
        skills[name] = min(10, max(1, round(rnd.triangular(1, 10, 6))))
    weights = [1.0 / (i + 1) for i in range(42)]                       # products: Zipf-like
    for name in set(rnd.choices(SKILLS[8:], weights, k=rnd.randint(1, 5))):
        skills[name] = min(10, max(1, round(rnd.triangular(1, 10, 5))))
    return skills


def requirement_sets(rnd, count=40):
    sets = set()
    while len(sets) < count:
        skills = profile(rnd)
        sets.add(tuple(sorted(rnd.sample(sorted(skills), min(len(skills), rnd.choice([1, 2, 2, 3]))))))
    return sorted(sets)


def requirement(rnd, sets):
    return {name: rnd.randint(1, 6) for name in rnd.choice(sets)}


def build(client, n, rnd, sets):
    client.flushdb()
    tiers = [TierRef("plain", "longest-idle-agent", 1, 1),
             TierRef("skills", "skills", 1, 1, "best-match", [s for s in sets if len(s) > 1])]
    store = Store(client, "bench", tiers_of=lambda agent_id: tiers)
    agents = [(f"a{i}", profile(rnd)) for i in range(n)]
    base = {"max_no_answer": 0, "wrap_up_time": 0, "reject_delay_time": 0,
            "busy_delay_time": 0, "no_answer_delay_time": 0}
    store.sync_agents([(a, dict(base, name=a, contact=f"user/{a}", skills=s), "available")
                       for a, s in agents], T0 - rnd.random() * 3600)
    for i, (agent, _) in enumerate(rnd.sample(agents, int(n * 0.3))):
        store.reserve(agent, f"busy-{i}", "plain", "bench", T0, 3600)
    return store, agents


def decide(store, kind, requirements, now, call):
    started = time.perf_counter()
    if kind == "plain":
        found, pick = store.candidates("plain", None, 1), None
    else:
        pick = store.pick("skills", "best-match", requirements, None, 1,
                          match_set=kind == "skills")
        found = pick.agents
    if found:
        store.reserve(found[0], call, "plain" if kind == "plain" else "skills", "bench", now, 30)
    elapsed = time.perf_counter() - started
    if found:
        store.release(found[0], call, "cancelled", now)
    return elapsed, pick


def measure(client, n, decisions, rnd):
    sets = requirement_sets(rnd)
    built = time.perf_counter()
    store, _ = build(client, n, rnd, sets)
    built = time.perf_counter() - built
    kinds = ("plain", "skills", "adhoc")
    times = {kind: [] for kind in kinds}
    exact = {"skills": 0, "adhoc": 0}
    scanned = {"skills": [], "adhoc": []}
    for i in range(decisions):
        requirements = requirement(rnd, sets)
        for kind in kinds[i % 3:] + kinds[:i % 3]:  # rotate: noise hits every kind alike
            elapsed, pick = decide(store, kind, requirements, T0 + i, f"c{i}-{kind}")
            times[kind].append(elapsed * 1e6)
            if pick is not None:
                exact[kind] += pick.exact
                scanned[kind].append(pick.scanned)
    row = {"agents": n, "load_seconds": round(built, 2)}
    for kind, values in times.items():
        values.sort()
        row[kind] = {"p50_us": round(statistics.median(values), 1),
                     "p99_us": round(values[int(len(values) * 0.99) - 1], 1),
                     "max_us": round(values[-1], 1)}
        if kind != "plain":
            row[kind]["p99_ratio_to_plain"] = round(row[kind]["p99_us"] / row["plain"]["p99_us"], 2)
            row[kind]["exact_share"] = round(exact[kind] / decisions, 4)
            row[kind]["scanned_median"] = statistics.median(scanned[kind])
            row[kind]["scanned_p99"] = sorted(scanned[kind])[int(decisions * 0.99) - 1]
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", default="1000,10000,100000")
    parser.add_argument("--decisions", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args(argv)
    rnd = random.Random(args.seed)
    server = RedisServer().start()
    rows = []
    try:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        for n in (int(x) for x in args.agents.split(",")):
            row = measure(client, n, args.decisions, rnd)
            rows.append(row)
            print(f"{n:>7} agents (loaded in {row['load_seconds']} s): plain p50 "
                  f"{row['plain']['p50_us']:.0f} us p99 {row['plain']['p99_us']:.0f} us", flush=True)
            for kind in ("skills", "adhoc"):
                r = row[kind]
                print(f"        {kind:>6}: p50 {r['p50_us']:.0f} us p99 {r['p99_us']:.0f} us "
                      f"(p99 {r['p99_ratio_to_plain']:.2f}x plain) exact {r['exact_share']:.1%} "
                      f"scanned median {r['scanned_median']} p99 {r['scanned_p99']}", flush=True)
    finally:
        server.stop()
    first = rows[0]
    for row in rows:
        for kind in ("plain", "skills", "adhoc"):
            row[kind]["p99_growth"] = round(row[kind]["p99_us"] / first[kind]["p99_us"], 2)
    print(f"p99 growth from {first['agents']} agents:", "; ".join(
        f"{r['agents']}: " + ", ".join(f"{k} {r[k]['p99_growth']}x" for k in ("plain", "skills", "adhoc"))
        for r in rows))
    result = {"benchmark": "skills-selection", "date": time.strftime("%Y-%m-%d"),
              "machine": f"{platform.machine()} {os.cpu_count()} cpu, {platform.processor() or ''}",
              "python": platform.python_version(), "decisions": args.decisions, "rows": rows}
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
