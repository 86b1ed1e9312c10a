"""Load for the failover tests (tests/test_redis_sentinel.py, tests/test_redis_cluster.py):
callers arriving steadily on two FreeSWITCH hosts (two simulators, one daemon each, one shared
agent pool), each hanging up a second after its bridge, while the Redis primary is SIGKILLed;
then the checks: no caller lost, no agent left reserved or ringing, no agent with two calls at
once, no caller bridged twice, and how long routing paused."""

import collections
import time

import gevent

from tests.acd_world import World
from tests.redis_where import client_for

AGENTS = ["2001", "2002", "2003", "2004"]
#: the agents answer at once; each caller hangs up after a second of talk
PHONES = {a: {"answer-after": 0.2} for a in AGENTS}
TALK = 1.0
CALLERS, EVERY = 18, 0.4   # 18 callers, one every 0.4 s, on both hosts in turn
KILL_AT = 6                # the primary dies before the 7th
#: generous: failover plus the daemons' reconnect and resync
MAX_PAUSE = 30.0


class Load:
    """Callers on both hosts; each hangs up a second after its bridge."""

    def __init__(self, worlds, kill, primary):
        """``kill()``: SIGKILL the primary, return its port; ``primary()``: the port of the
        primary now (None while there is none)."""
        self.worlds, self.kill, self.primary = worlds, kill, primary
        self.callers = {}          # caller uuid -> its world
        self.bridged_at, self.hung_up, self.killed = {}, set(), {}

    def settle(self):
        now = time.time()
        if self.killed and "promoted" not in self.killed and self.primary() not in (
                None, self.killed["port"]):
            self.killed["promoted"] = now
        for world in self.worlds:
            world.drain()
            for e in world.seen:
                if e.name == "CHANNEL_BRIDGE" and e["Bridge-A-Unique-ID"] in self.callers:
                    self.bridged_at.setdefault(e["Bridge-A-Unique-ID"], now)
        for caller, at in self.bridged_at.items():
            if caller not in self.hung_up and now - at >= TALK:
                self.callers[caller].hangup(caller)
                self.hung_up.add(caller)

    def run(self):
        for n in range(CALLERS):
            if n == KILL_AT:
                self.killed.update(at=time.time(), port=self.kill())
            world = self.worlds[n % 2]
            self.callers[world.call("support", queued=False)] = world
            self.settle()
            gevent.sleep(EVERY)
        with gevent.Timeout(MAX_PAUSE + 30, False):
            while len(self.hung_up) < len(self.callers):
                gevent.sleep(0.1)
                self.settle()

    def agent_legs(self):
        """Agent id -> [(created, hung up or inf)] in seconds, over both hosts."""
        legs = collections.defaultdict(list)
        for world in self.worlds:
            world.collect(0.3)     # the last hangups
            for agent, pairs in world.legs_by_agent().items():
                legs[agent] += [(stamp(c), stamp(h) if h else float("inf")) for c, h in pairs]
        return legs

    def bridges(self):
        """Caller -> the agent legs it was bridged to."""
        found = collections.defaultdict(set)
        for world in self.worlds:
            for e in world.seen:
                if e.name == "CHANNEL_BRIDGE":
                    found[e["Bridge-A-Unique-ID"]].add(e["Bridge-B-Unique-ID"])
        return found


def stamp(event):
    return float(event["Event-Date-Timestamp"]) / 1e6


def stamp(event):
    return float(event["Event-Date-Timestamp"]) / 1e6


def kill_primary_under_load(tmp_path, where, kill, primary, wait_failover, what):
    """The whole scenario; returns (seconds until a new primary, seconds routing paused)."""
    queues = {"support": {"tiers": AGENTS}}
    (tmp_path / "b").mkdir()
    one = World(tmp_path, where, queues, sim={"users": PHONES})
    two = None
    try:
        two = World(tmp_path / "b", where, queues, sim={"users": PHONES})   # another FreeSWITCH
        one.daemon(owner="box-1")
        two.daemon(owner="box-2")
        load = Load([one, two], kill, primary)
        load.run()
        assert [c for c in load.callers if c not in load.hung_up] == [], "callers never answered"
        new_port = wait_failover(load.killed["port"])
        for agent in AGENTS:                        # no agent left reserved, ringing, in a call
            one.wait_agent(agent, timeout=30, state="waiting", status="available")

        legs = load.agent_legs()
        killed_at = load.killed["at"]
        paused = min(start for spans in legs.values() for start, _ in spans
                     if start > killed_at) - killed_at
        failover = load.killed.get("promoted", float("nan")) - killed_at
        print(f"\n{what} failover: primary :{load.killed['port']} SIGKILLed, :{new_port} "
              f"promoted after {failover:.1f} s; routing paused {paused:.1f} s "
              f"({len(load.callers)} callers, {sum(map(len, legs.values()))} agent legs)")
        assert paused < MAX_PAUSE
        for agent, spans in legs.items():           # never two calls at once on one agent
            assert all(end < float("inf") for _, end in spans), f"agent {agent}: a leg lives on"
            spans.sort()
            for (_, end), (start, _) in zip(spans, spans[1:]):
                assert start >= end, f"agent {agent} was offered a call while on another"
        bridges = load.bridges()                    # each caller bridged to one agent leg once
        assert {c: len(bridges[c]) for c in load.callers} == dict.fromkeys(load.callers, 1)
        client = client_for(where)                  # the new primary holds no stale call
        with gevent.Timeout(10, AssertionError("calls left in redis")):
            while client.zcard(one.store.keys.calls):
                gevent.sleep(0.1)
        return failover, paused
    finally:
        one.close()
        if two is not None:
            two.close()
