"""How much Redis memory acd needs: ``python -m acd.bench.redis_memory`` (docs/redis.md).

Theory of operation: a fresh private redis-server (acd.redis_server); the store writes what a
running center writes -- N agents each in two queues (as ``acd run`` syncs them), M waiting
callers (as a caller parked in a queue is enqueued), K call records (the stream ``acd report``
reads, with each agent's recent-calls list) and K CTI events (the live event stream) -- and
``INFO memory``'s ``used_memory`` is read before and after each step. Printed per item, in
bytes; ``--json`` also writes them.
"""

import argparse
import json
import platform
import time
import uuid

import redis

from acd.redis_server import RedisServer
from acd.store import Store, TierRef
from acd.store.cti import CtiStore

QUEUES = ("support", "sales", "billing", "tech")
AGENT = {"max_no_answer": 3, "wrap_up_time": 10, "reject_delay_time": 10, "busy_delay_time": 60,
         "no_answer_delay_time": 0, "ring_timeout": ""}


def _used(client):
    return int(client.info("memory")["used_memory"])


def _tiers(agent_id):
    n = int(agent_id)
    return [TierRef(QUEUES[n % 4], "longest-idle-agent", 1, n),
            TierRef(QUEUES[(n + 1) % 4], "longest-idle-agent", 2, n)]


def _record(n, now):
    return {"uuid": str(uuid.uuid4()), "queue": QUEUES[n % 4], "caller_number": f"+4930{n:08d}",
            "caller_name": "Erika Mustermann", "ivr_path": "main>2", "enqueued_at": f"{now:.3f}",
            "answered_at": f"{now + 12:.3f}", "ended_at": f"{now + 190:.3f}",
            "agent": str(1000 + n % 500), "wait": "12.0", "talk": "178.0", "wrap_up": "10.0",
            "result": "answered", "offers": "1", "offered_to": str(1000 + n % 500),
            "from_queue": "", "daemon": "acd-1/10.0.0.5:8021", "direction": "inbound",
            "other_leg": "", "crm": ""}


def measure(agents=10000, calls=5000, records=20000):
    """{"agent": bytes, "waiting_call": ..., "call_record": ..., "cti_event": ...}"""
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        store = Store(client, tiers_of=_tiers)
        cti = CtiStore.of(store)
        now = time.time()
        result = {}
        before = _used(client)
        store.sync_agents([(str(1000 + i), dict(AGENT, name=f"Agent {1000 + i}",
                                                contact=f"user/{1000 + i}"), "available")
                           for i in range(agents)], now)
        result["agent"] = (_used(client) - before) / agents
        before = _used(client)
        for n in range(calls):
            store.enqueue(str(uuid.uuid4()), QUEUES[n % 4], 0, now + n * 0.01,
                          owner="acd-1/10.0.0.5:8021", caller_number=f"+4930{n:08d}",
                          caller_name="Erika Mustermann", skills="", only_agent="",
                          data=json.dumps({"ivr_path": "main>2"}))
        result["waiting_call"] = (_used(client) - before) / calls
        before = _used(client)
        for n in range(records):
            cti.append_record(_record(n, now), [str(1000 + n % 500)], 10 ** 9, 0)
        result["call_record"] = (_used(client) - before) / records
        cti.load_scripts()
        before = _used(client)
        pipe = client.pipeline(transaction=False)
        for n in range(records):
            cti.publish(pipe, "agent.state", json.dumps({"agent": str(1000 + n % 500),
                                                         "state": "ringing", "call": str(uuid.uuid4()),
                                                         "queue": QUEUES[n % 4]}),
                        [str(1000 + n % 500)], QUEUES[n % 4], 10 ** 9, 0)
            if n % 1000 == 999:
                pipe.execute()
        pipe.execute()
        result["cti_event"] = (_used(client) - before) / records
        result["redis_version"] = client.info("server")["redis_version"]
        client.close()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=10000)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    result = measure(args.agents, args.calls, args.records)
    result.update(agents=args.agents, calls=args.calls, records=args.records,
                  machine=f"{platform.machine()} {platform.python_implementation()} "
                          f"{platform.python_version()}",
                  date=time.strftime("%Y-%m-%d"))
    for name in ("agent", "waiting_call", "call_record", "cti_event"):
        print(f"{name:>13}: {result[name]:8.0f} bytes")
    print(f"(redis {result['redis_version']}, {args.agents} agents in 2 queues each, "
          f"{args.calls} waiting calls, {args.records} records and events)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
