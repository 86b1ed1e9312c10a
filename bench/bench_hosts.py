"""Benchmark: one queue order across FreeSWITCH hosts (issue 17; docs/redis.md).

Two simulators (two FreeSWITCH hosts) and two daemons (``acd run``, one per host) share one
Redis and one queue of N agents whose phones answer on either host (talk times spread from 0.5
to 1.5 × ``--talk``, so agents are freed at irregular times on both hosts). Callers arrive alternately on
host A and host B, a little faster than the agents can take them, so a queue builds up and every
freed agent is a decision: which caller gets it. The same load then runs on ONE host (one
simulator, one daemon) for the reference.

Measured, from the simulators' own traces (``sim_trace``: when the switch saw the caller park
and when the originate for it arrived; both simulators run on this machine, so their monotonic
clocks are one clock):

* inversions: a caller offered an agent while a caller who parked more than ``--tolerance``
  seconds before it (on either host) still waited for its first offer, and got it more than
  ``--tolerance`` seconds later (two agents freed at once are two concurrent decisions). Counted per caller
  (a caller who jumps ahead of several counts once), per 1,000 offered callers; also with no
  tolerance at all.
* decision latency (``acd.bench.latency.pair``): ``agent_freed`` (an agent's leg hangs up while
  callers wait -> the next originate, on either host) and ``call_arrived``; p50/p95, and the
  ratio two hosts / one host of the p50s (goal: at most 1.5).

Run: ``make bench`` (it runs this too) or ``python bench/bench_hosts.py [--calls 1000] [--json F]``.
"""

import argparse
import json
import os
import pathlib
import platform
import secrets
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gevent import monkey  # noqa: E402

monkey.patch_all()

import gevent  # noqa: E402
import redis as redislib  # noqa: E402
import yaml  # noqa: E402

from acd.bench import latency, load  # noqa: E402
from acd.bench.processes import DaemonProcess  # noqa: E402
from acd.esl import EslClient, EslError, NotConnectedError  # noqa: E402
from acd.esl import commands as cmd  # noqa: E402
from acd.redis_server import RedisServer, free_port  # noqa: E402
from acd.sim.process import SimProcess  # noqa: E402

PASSWORD = "ClueCon"


def start_host(tmp, name, agents, redis_url, answer_after, talk):
    sim_path = tmp / f"sim-{name}.yaml"
    sim_path.write_text(yaml.safe_dump(load.sim_config(PASSWORD)))
    sim = SimProcess(sim_path, password=PASSWORD, log=str(tmp / f"sim-{name}.log")).start()
    driver = EslClient("127.0.0.1", sim.port, PASSWORD, command_timeout=60)
    driver.connect()
    # talk times spread around --talk (agents free at irregular times, on both hosts)
    phones = {a: {"answer-after": answer_after, "hangup-after": round(talk * (0.5 + i % 5 / 4), 2)}
              for i, a in enumerate(load.agent_ids(agents))}
    reply = driver.api(f"sim_users {json.dumps(phones, separators=(',', ':'))}", timeout=60)
    if not reply.startswith("+OK"):
        raise RuntimeError(f"sim_users: {reply.strip()}")
    http_port = free_port()
    config = load.acd_config(agents, sim.port, PASSWORD, redis_url, http_port,
                             secrets.token_hex(8))
    config_path = tmp / f"acd-{name}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    daemon = DaemonProcess(str(config_path), str(tmp / f"acd-{name}.log"), http_port).start()
    return sim, driver, daemon


def send(driver, seq):
    dial = cmd.dial_string(f"loopback/{load.EXTENSION}/default", {
        "origination_caller_id_number": f"+4930{seq:09d}",
        "origination_caller_id_name": f"Caller {seq}"})
    try:
        driver.bgapi(cmd.originate(dial)).wait_result(30)
    except (EslError, NotConnectedError, gevent.Timeout):
        pass


def run(n_hosts, args, redis):
    redislib.Redis.from_url(redis.url).flushall()
    with tempfile.TemporaryDirectory(prefix="acd-hosts-") as tmp:
        tmp = pathlib.Path(tmp)
        hosts = []
        try:
            for n in range(n_hosts):
                hosts.append(start_host(tmp, "ab"[n], args.agents, redis.url, args.answer_after,
                                        args.talk))
            drivers = [h[1] for h in hosts]
            for d in drivers:
                d.api("sim_trace on")
            due = start = time.monotonic()
            group = []
            for seq in range(args.calls):
                group.append(gevent.spawn(send, drivers[seq % n_hosts], seq))
                due += 1.0 / args.rate
                gevent.sleep(max(0, due - time.monotonic()))
            gevent.joinall(group, timeout=120)
            # wait until every caller was offered (the queue drains)
            deadline = time.monotonic() + 120
            records = []
            while time.monotonic() < deadline:
                gevent.sleep(2)
                if not redislib.Redis.from_url(redis.url).zcard(f"acd:queue:{load.QUEUE}:callers"):
                    break
            for d in drivers:
                records += json.loads(d.api("sim_trace dump", timeout=60))
            elapsed = time.monotonic() - start
        finally:
            for sim, driver, daemon in hosts:
                daemon.stop()
                driver.stop()
                sim.stop()
    records.sort(key=lambda r: r[1])
    return dict(order(records, args.tolerance), elapsed=round(elapsed, 1),
                latency={k: summary(v) for k, v in latency.pair(records, args.agents).items()})


def order(records, tolerance):
    """Inversions: callers offered while one who parked > tolerance s earlier still waited (and
    was offered > tolerance s later); strict: any earlier caller still waiting."""
    parked, offered = {}, []
    for kind, t, _uuid, caller, _queue in records:
        if kind == "park" and caller not in parked:
            parked[caller] = t
        elif kind == "originate" and caller in parked and caller not in dict(offered):
            offered.append((caller, t))
    first = dict(offered)
    strict = loose = 0
    for caller, t in offered:
        waiting = [c for c, p in parked.items() if p < parked[caller] and first.get(c, 1e18) > t]
        if waiting:
            strict += 1
            if any(parked[c] < parked[caller] - tolerance and first.get(c, 1e18) > t + tolerance
                   for c in waiting):
                loose += 1
    n = len(offered)
    return {"callers": len(parked), "offered": n,
            "inversions": loose, "inversions_per_1000": round(1000 * loose / n, 2) if n else None,
            "inversions_strict": strict,
            "inversions_strict_per_1000": round(1000 * strict / n, 2) if n else None}


def summary(values):
    s = latency.percentiles([v * 1000 for v in values])
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in s.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--rate", type=float, default=6.0, help="callers per second in all")
    parser.add_argument("--answer-after", type=float, default=0.2)
    parser.add_argument("--talk", type=float, default=2.0)
    parser.add_argument("--tolerance", type=float, default=0.05,
                        help="arrivals closer than this (s) are not an inversion")
    parser.add_argument("--json", help="write the report here")
    args = parser.parse_args()
    with RedisServer() as redis:
        result = {"date": time.strftime("%Y-%m-%d"), "machine": {
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "system": platform.platform()}, "options": vars(args)}
        for n in (1, 2):
            result[f"{n}-host" if n == 1 else f"{n}-hosts"] = run(n, args, redis)
            print(json.dumps(result[f"{n}-host" if n == 1 else f"{n}-hosts"]), file=sys.stderr)
    one, two = result["1-host"]["latency"], result["2-hosts"]["latency"]
    result["ratio_p50"] = {k: round(two[k]["p50"] / one[k]["p50"], 2)
                           for k in one if one[k]["p50"] and two[k]["p50"]}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        pathlib.Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
