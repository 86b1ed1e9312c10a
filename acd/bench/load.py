"""The bench's call center and its outside world: agents' phones, callers, the simulator's ceiling.

Theory of operation
-------------------
:func:`acd_config` and :func:`sim_config` describe one world: N agents (``a000001`` ...) with
phones ``user/<id>`` and no wrap-up, all in the queue ``bench`` (longest idle agent), reached by
the simulator's dialplan number ``7000`` (set ``acd_queue``, answer, park); with a backlog, a queue
``backlog`` that no agent serves (number ``7001``), where callers wait for the whole run. The
phones are created at run time with the simulator-only ``sim_users`` API (answer after
``answer_after`` seconds, hang up after ``talk`` seconds), in batches.

:class:`Callers` is the load tool: from a *driver* ESL connection it sends
``originate {caller id}loopback/7000/default &park()`` with ``bgapi`` at a steady rate, as an
outside load generator would, and counts what came back. When the agent hangs up, the bridge
ends, the caller's leg has nothing left to run and hangs up: calls end by themselves.

:class:`SimCeiling` measures the simulator alone (no daemon): loopback calls that answer, park
and hang up after a second, as fast as the simulator completes them, while a listener subscribes
to the daemon's event set (so the simulator builds and sends what it does under the real load).
"""

import json

import gevent
import gevent.pool

from acd import clock

QUEUE, EXTENSION = "bench", "7000"
BACKLOG, BACKLOG_EXTENSION = "backlog", "7001"
CEILING_EXTENSION = "7099"
#: Users per ``sim_users`` command.
PHONE_BATCH = 1000


def agent_ids(n):
    return [f"a{i:06d}" for i in range(1, n + 1)]


def acd_config(n_agents, esl_port, esl_password, redis_url, http_port, token, backlog=False):
    """The daemon's acd.yaml, as a mapping."""
    ids = agent_ids(n_agents)
    queues = [{"name": QUEUE, "strategy": "longest-idle-agent", "ring-timeout": 10,
               "tiers": [{"agent": a} for a in ids]}]
    if backlog:
        queues.append({"name": BACKLOG, "strategy": "longest-idle-agent"})
    return {"freeswitch": {"host": "127.0.0.1", "port": esl_port, "password": esl_password,
                           "command-timeout": 10},
            "redis": {"url": redis_url, "prefix": "acd"},
            "http": {"listen": f"127.0.0.1:{http_port}", "admin-token": token},
            "agents": [{"id": a, "contact": f"user/{a}", "wrap-up-time": 0} for a in ids],
            "queues": queues}


def sim_config(password):
    """The simulator's world without users (the phones come through ``sim_users``)."""
    park = lambda queue: [["set", f"acd_queue={queue}"], ["answer"], ["park"]]  # noqa: E731
    return {"password": password, "heartbeat": 20, "users": {},
            "dialplan": {EXTENSION: park(QUEUE), BACKLOG_EXTENSION: park(BACKLOG),
                         CEILING_EXTENSION: [["answer"], ["sleep", "1000"], ["hangup"]]},
            "sounds": {"default": 1.0}}


def register_phones(driver, n_agents, answer_after, talk):
    """Create the agents' phones in the simulator (``sim_users``), PHONE_BATCH at a time."""
    ids = agent_ids(n_agents)
    phone = {"answer-after": answer_after, "hangup-after": talk}
    for i in range(0, len(ids), PHONE_BATCH):
        users = json.dumps({a: phone for a in ids[i:i + PHONE_BATCH]}, separators=(",", ":"))
        reply = driver.api(f"sim_users {users}", timeout=60)
        if not reply.startswith("+OK"):
            raise RuntimeError(f"sim_users: {reply.strip()}")


class Callers:
    """Callers at a steady rate from the driver connection; counts per step."""

    def __init__(self, driver, errors):
        from acd.esl import commands  # after monkey-patching (see run.py)
        self.cmd, self.driver, self.errors = commands, driver, errors
        self.group = gevent.pool.Group()
        self.seq = 0
        self.sent = self.failed = self.late = 0
        self.failures = {}

    def run(self, rate, duration, extension=EXTENSION, stopped=None):
        """Send ``rate`` callers/s for ``duration`` seconds (returns when all are sent)."""
        due = start = clock.monotonic()
        while due - start < duration and not (stopped is not None and stopped.is_set()):
            self.group.spawn(self._caller, extension)
            due += 1.0 / rate
            pause = due - clock.monotonic()
            if pause > 0:
                gevent.sleep(pause)
            elif pause < -0.1:
                self.late += 1        # the driver fell behind: it is the limit, not acd
                gevent.sleep(0)

    def _caller(self, extension):
        self.seq += 1
        self.sent += 1
        dial = self.cmd.dial_string(f"loopback/{extension}/default", {
            "origination_caller_id_number": f"+4930{self.seq:09d}",
            "origination_caller_id_name": f"Caller {self.seq}"})
        try:
            result = self.driver.bgapi(self.cmd.originate(dial)).wait_result(30)
        except self.errors as exc:
            self._failed(type(exc).__name__)
            return
        if not result.ok:
            self._failed(result.cause or "failed")

    def _failed(self, why):
        self.failed += 1
        self.failures[why] = self.failures.get(why, 0) + 1

    def counts(self):
        return {"sent": self.sent, "failed": self.failed, "late": self.late}


class SimCeiling:
    """Loopback calls completed per second by the simulator alone, ``concurrency`` at a time."""

    def __init__(self, driver, errors, concurrency=64):
        from acd.esl import commands
        self.cmd, self.driver, self.errors = commands, driver, errors
        self.concurrency = concurrency
        self.done = self.failed = 0

    def run(self, duration):
        end = clock.monotonic() + duration
        workers = [gevent.spawn(self._worker, end) for _ in range(self.concurrency)]
        gevent.joinall(workers)
        return {"completed": self.done, "failed": self.failed}

    def _worker(self, end):
        dial = self.cmd.dial_string(f"loopback/{CEILING_EXTENSION}/default", {})
        while clock.monotonic() < end:
            try:
                ok = self.driver.bgapi(self.cmd.originate(dial)).wait_result(30).ok
            except self.errors:
                ok = False
            self.done += ok
            self.failed += not ok
