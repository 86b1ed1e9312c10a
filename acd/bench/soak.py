"""``make soak`` / ``python -m acd.bench.soak``: two hosts' worth of acd under load and faults.

Theory of operation
-------------------
Everything runs as its own process, as in production: Redis (one ``redis-server`` with AOF, or
with ``--sentinel`` a primary, a replica and three sentinels), two simulators (``acd sim``, one
per "host") and two daemons (``acd run``, each with its own simulator, both on the same Redis:
two owners sharing one set of agents). Every agent's phone is registered on both simulators, so
either host can ring any agent. This process is the outside world:

* callers arrive at ``--rate`` per second, alternately on the two simulators, as
  ``originate loopback/7000 &park()`` (the dialplan sets ``acd_queue=soak``); some have a
  patience after which the soak hangs them up (abandon), the rest wait as long as it takes;
* faults on a schedule, every 15 s after a 15 s calm start: every 30 s one daemon (in turn) is
  SIGKILLed and started again, and in between, in turn: one daemon's ESL sockets are dropped
  (``sim_esl drop all`` on its simulator), one simulator is SIGKILLed and restarted (its calls
  are gone: acd must notice and free their agents), Redis fails over (``--sentinel``: the
  primary is SIGKILLed and the sentinels promote the replica; ``--rollback S``: Redis restarts
  from a snapshot S seconds old, losing the writes of those seconds; otherwise Redis is
  SIGKILLed and restarted from its AOF), and one daemon's ESL sockets freeze half-open
  (``sim_esl freeze all``: only acd's heartbeat watchdog can tell; heartbeats every 2 s,
  timeout 5 s here);
* at the end, no new callers: the soak waits for every caller still waiting to be served, for
  every call to end and for every agent to be ``waiting`` again, then reports (soak_ledger.py):
  offered, answered, abandoned, **lost**, agents not ``waiting``, double offers, and the longest
  extra wait each fault added. Text on stdout, JSON with ``--json``.
"""

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from acd.tool import number, start_gevent_tool

EXTENSION = "7000"
CALM = 15.0          # seconds before the first fault
FAULT_EVERY = 15.0   # a fault every ... (daemon kills every second one: every 30 s)
OTHER_FAULTS = ("esl-drop", "sim-restart", "redis-failover", "esl-freeze")
#: The simulators' heartbeat and the daemons' freeswitch.heartbeat-timeout: short, so a frozen
#: connection (esl-freeze) is declared dead within seconds (production: 20 s and 45 s).
HEARTBEAT, HEARTBEAT_TIMEOUT = 2.0, 5.0


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m acd.bench.soak", description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=number(float, 1), default=float(os.environ.get(
        "SOAK_SECONDS", 600)), help="seconds of load (env SOAK_SECONDS, default 600)")
    p.add_argument("--rate", type=number(float, 0, exclusive=True), default=float(os.environ.get(
        "SOAK_RATE", 50)), help="callers per second (env SOAK_RATE, default 50)")
    p.add_argument("--agents", type=number(int, 2), default=int(os.environ.get(
        "SOAK_AGENTS", 500)), help="agents (env SOAK_AGENTS, default 500)")
    p.add_argument("--talk", type=number(float, 0.1), default=3.0,
                   help="seconds an agent talks before hanging up (default 3)")
    p.add_argument("--sentinel", action="store_true",
                   help="Redis primary + replica + 3 sentinels, failover by killing the primary "
                        "(needs acd's redis.sentinels config)")
    p.add_argument("--rollback", type=number(float, 0, exclusive=True), metavar="SECONDS",
                   help="Redis with RDB snapshots only: a failover restarts it from a snapshot "
                        "SECONDS old (the writes of those seconds lost)")
    p.add_argument("--drain", type=number(float, 1), default=120.0,
                   help="seconds to wait at the end for waiting callers and busy agents")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--json", help="write the report here")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = p.parse_args(argv)
    if args.sentinel and args.rollback:
        p.error("--sentinel and --rollback are two different Redis set-ups: choose one")
    return args


def main(argv=None):
    stopped = start_gevent_tool()
    args = parse_args(argv)
    from acd.bench.soak_run import Soak
    soak = Soak(args, stopped)
    try:
        result = soak.run()
    finally:
        soak.stop()
    print(text_report(result))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"report: {args.json}")
    fig = result["figures"]
    bad = fig["lost"] or result["agents_not_waiting"] or fig["double_offers"]
    return 1 if bad else 0


def text_report(result):
    fig = result["figures"]
    opts = result["options"]
    lines = [f"soak: {opts['duration']:g} s at {opts['rate']:g} calls/s, {opts['agents']} agents, "
             f"two simulators and two daemons, redis: {result['redis_mode']}",
             f"  offered {fig['offered']}  answered {fig['answered']}  abandoned "
             f"{fig['abandoned']}  gone with their switch {fig['gone_with_their_switch']}",
             f"  LOST {fig['lost']}  agents not waiting {len(result['agents_not_waiting'])}  "
             f"double offers {fig['double_offers']}  (events reached the soak up to "
             f"{fig.get('event_lag_max_s', 0)} s late)",
             f"  wait to answer: {fig['wait_s']}",
             f"  longest extra wait per fault (baseline longest wait "
             f"{fig['faults']['baseline_longest_wait_s']} s): "
             + ", ".join(f"{k} {v} s" for k, v in fig["faults"]["longest_extra_wait_s"].items())]
    lines.append(f"  ESL reconnects by reason (since each daemon's last start): "
                 f"{result['esl_reconnects_since_last_start']}")
    lines.append(f"  reservations Redis lost, repaired by the daemons: "
                 f"{result.get('redis_repairs', {})}")
    for row in fig["faults"]["each"]:
        lines.append(f"    t={row['at_s']:>6} s  {row['fault']:<15} {row['detail']:<10} "
                     f"callers hit {row['callers_hit']:>4}  longest wait {row['longest_wait_s']} s")
    if fig["lost_examples"]:
        lines.append(f"  lost callers (first 10): {fig['lost_examples']}")
    if result["agents_not_waiting"]:
        lines.append(f"  agents not waiting (first 10): {result['agents_not_waiting'][:10]}")
    return "\n".join(lines)


# -- Redis, killable ----------------------------------------------------------------------------

class AofRedis:
    """One redis-server with an append-only file: SIGKILL and restart keep the data."""

    def __init__(self, workdir):
        from acd.redis_server import free_port
        self.dir = os.path.join(workdir, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.proc = None
        self.mode = "single redis-server, SIGKILL + restart from its AOF (appendfsync always)"

    @property
    def config(self):
        return {"url": f"redis://127.0.0.1:{self.port}/0", "prefix": "acd"}

    def start(self):
        self.proc = _redis(["--port", str(self.port), "--dir", self.dir, "--appendonly", "yes",
                            "--appendfsync", "always", "--save", ""], self.dir, "redis.log")
        _wait_port(self.port)
        return self

    def fail_over(self):
        self.proc.kill()
        self.proc.wait()
        self.start()
        return f"redis :{self.port} killed and restarted"

    def stop(self):
        _end(self.proc)


class RollbackRedis(AofRedis):
    """One redis-server with RDB snapshots only. Its "failover" takes a snapshot (``SAVE``), lets
    the load run ``seconds`` more, then SIGKILLs the server and starts it again from the
    snapshot: Redis goes back ``seconds`` in time, as after a failover to a replica that lagged
    that much or a crash with RDB persistence. The reservations, releases and callers of those
    seconds are gone, and acd must repair them from what FreeSWITCH shows (docs/redis.md, "When
    Redis goes back in time")."""

    def __init__(self, workdir, seconds):
        super().__init__(workdir)
        self.seconds = seconds
        self.mode = (f"single redis-server, RDB only; a failover is SAVE, {seconds:g} s more "
                     f"load, SIGKILL and a restart from that snapshot ({seconds:g} s of writes "
                     f"lost)")

    def start(self):
        self.proc = _redis(["--port", str(self.port), "--dir", self.dir, "--appendonly", "no",
                            "--save", ""], self.dir, "redis.log")
        _wait_port(self.port)
        return self

    def fail_over(self):
        import gevent
        import redis
        with contextlib.closing(redis.Redis(port=self.port)) as client:
            client.save()
        gevent.sleep(self.seconds)
        super().fail_over()
        return f"redis :{self.port} restarted from a snapshot {self.seconds:g} s old"


class SentinelRedis:
    """acd.redis_ha.SentinelGroup (a primary, a replica and three sentinels watching service
    ``acd``, as the failover tests use); a failover is the primary's SIGKILL: the sentinels
    promote the replica, and the old primary comes back empty, which the sentinels make a
    replica of the new one (so the next failover has a replica again)."""

    def __init__(self, workdir):
        from acd.redis_ha import SentinelGroup
        self.group = SentinelGroup("acd", down_after_ms=1000, failover_timeout_ms=5000)
        self.mode = "Sentinel: primary + replica + 3 sentinels, failover by SIGKILL of the primary"

    @property
    def config(self):
        return dict(self.group.redis_section, prefix="acd")

    def start(self):
        self.group.start()
        return self

    def fail_over(self):
        group = self.group
        old = group.kill_primary()
        new = group.wait_failover(old)
        killed = group.primary if group.primary.port == old else group.replica
        killed.restart()
        return f"primary :{old} killed, :{new} promoted"

    def primary(self):
        """The port of the primary now."""
        return self.group.primary_port()

    def stop(self):
        self.group.stop()


def _redis(args, folder, logname, config=False):
    binary = os.environ.get("ACD_REDIS_SERVER") or shutil.which("redis-server")
    head = [binary] + (args[:1] if config else [])
    rest = args[1:] if config else args
    return subprocess.Popen(head + rest + ["--logfile", os.path.join(folder, logname)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _wait_port(port, timeout=15.0):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on :{port} after {timeout} s")


def _end(proc):
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def sim_config(password, agent_ids, talk):
    phone = {"answer-after": 0.5, "hangup-after": talk}
    return {"password": password, "heartbeat": HEARTBEAT, "users": {a: phone for a in agent_ids},
            "dialplan": {EXTENSION: [["set", "acd_queue=soak"], ["answer"], ["park"]]},
            "sounds": {"default": 1.0}}


def acd_config(agent_ids, sim_port, password, redis_config, http_port, token):
    return {"freeswitch": {"host": "127.0.0.1", "port": sim_port, "password": password,
                           "command-timeout": 10, "heartbeat-timeout": HEARTBEAT_TIMEOUT},
            "redis": redis_config,
            "http": {"listen": f"127.0.0.1:{http_port}", "admin-token": token},
            "agents": [{"id": a, "contact": f"user/{a}", "wrap-up-time": 0} for a in agent_ids],
            "queues": [{"name": "soak", "strategy": "longest-idle-agent", "ring-timeout": 10,
                        "tiers": [{"agent": a} for a in agent_ids]}]}


def schedule(duration):
    """[(seconds from the start, fault, which)]: daemon kills every 30 s, the other faults in
    turn in between."""
    faults, t, k = [], CALM, 0
    while t < duration:
        if k % 2:
            faults.append((t, "daemon-kill", (k // 2) % 2))
        else:
            faults.append((t, OTHER_FAULTS[(k // 2) % len(OTHER_FAULTS)], (k // 2) % 2))
        t += FAULT_EVERY
        k += 1
    return faults


def patience(rng):
    """Seconds a caller waits before hanging up (None: as long as it takes)."""
    roll = rng.random()
    if roll < 0.2:
        return rng.uniform(0.3, 3.0)
    if roll < 0.3:
        return rng.uniform(3.0, 30.0)
    return None


def new_workdir(keep):
    workdir = tempfile.mkdtemp(prefix="acd-soak-")
    return workdir, (None if keep else (lambda: shutil.rmtree(workdir, ignore_errors=True)))


def token():
    return secrets.token_urlsafe(16)


if __name__ == "__main__":
    sys.exit(main())
