"""``acd run`` under systemd's ``Type=notify`` and ``WatchdogSec=``, for real: the test is
systemd's side of the protocol -- a unix datagram socket named by ``$NOTIFY_SOCKET`` (abstract,
``@...``) and ``$WATCHDOG_USEC`` -- and ``acd run`` is a real process against the simulator and
the test session's redis-server.

What is promised (acd/systemd_notify.py): READY=1 only once FreeSWITCH and Redis answered and
the agents are synced; WATCHDOG=1 every WATCHDOG_USEC/2 from the daemon's loop, so the pings stop
while the loop is stuck; STOPPING=1 on SIGTERM.
"""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest
import redis
import yaml

from acd.esl import EslClient
from acd.redis_server import free_port
from acd.sim.process import SimProcess
from acd.systemd_notify import Systemd
from tests.acd_world import sim_config

WATCHDOG_USEC = 1_000_000          # pings every 0.5 s


class NotifySocket:
    """systemd's end: receives the datagrams, keeps each with its arrival time."""

    def __init__(self):
        self.name = f"acd-test-{uuid.uuid4().hex[:12]}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.received = []                 # (monotonic time, {key: value})

    @property
    def env(self):
        return {"NOTIFY_SOCKET": "@" + self.name, "WATCHDOG_USEC": str(WATCHDOG_USEC)}

    def wait_for(self, predicate, timeout, what):
        """The first message (from now on) for which ``predicate(fields)`` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                break
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
            self.received.append((time.monotonic(), fields))
            if predicate(fields):
                return fields
        raise AssertionError(f"no {what} within {timeout} s; got {self.messages()}")

    def messages(self):
        return [fields for _, fields in self.received]

    def pings(self, since=0.0):
        return [t for t, fields in self.received if "WATCHDOG" in fields and t >= since]

    def close(self):
        self.sock.close()


@pytest.fixture
def notify():
    sock = NotifySocket()
    yield sock
    sock.close()


def test_ready_after_esl_redis_and_agents_then_watchdog_from_the_loop(tmp_path, redis_url,
                                                                     notify):
    esl_port = free_port()                       # nothing listens there yet
    config = tmp_path / "acd.yaml"
    config.write_text(yaml.safe_dump({
        "freeswitch": {"host": "127.0.0.1", "port": esl_port, "password": "ClueCon"},
        "redis": {"url": redis_url, "prefix": "sd"},
        "http": {"listen": "127.0.0.1:0", "admin-token": "t"},
        "agents": [{"id": "2001", "contact": "user/2001"}, {"id": "2002", "contact": "user/2002"}],
        "queues": [{"name": "support", "tiers": [{"agent": "2001"}, {"agent": "2002"}]}]}))
    sim_file = tmp_path / "sim.yaml"
    sim_file.write_text(yaml.safe_dump(sim_config(["support"])))
    sim = SimProcess(sim_file, password="ClueCon")
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    daemon = subprocess.Popen([sys.executable, "-m", "acd", "run", "--config", str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=dict(os.environ, PYTHONUNBUFFERED="1", **notify.env))
    try:
        # FreeSWITCH unreachable: the loop runs (pings, a status saying so), but not READY
        notify.wait_for(lambda f: "connecting to FreeSWITCH" in f.get("STATUS", ""), 20,
                        "a STATUS while FreeSWITCH is down")
        notify.wait_for(lambda f: "WATCHDOG" in f, 5, "a watchdog ping")
        notify.wait_for(lambda f: "WATCHDOG" in f, 5, "a second watchdog ping")
        assert not any("READY" in m for m in notify.messages())

        sim.start(port=esl_port)
        ready = notify.wait_for(lambda f: "READY" in f, 30, "READY=1")
        assert ready["READY"] == "1" and ready["STATUS"].startswith("ready: FreeSWITCH")
        # at READY the agents are in Redis and the daemon's sync mark is set
        assert client.smembers("sd:agents") == {"2001", "2002"}
        assert list(client.scan_iter("sd:daemon:*"))

        # the pings keep coming, every WATCHDOG_USEC/2
        started = time.monotonic()
        while len(notify.pings(started)) < 5:
            notify.wait_for(lambda f: "WATCHDOG" in f, 5, "watchdog pings")
        gaps = _gaps(notify.pings(started))
        assert max(gaps) < 0.9 and min(gaps) > 0.3, gaps

        # the loop is stuck: Redis lost acd's state, so the loop resyncs, and FreeSWITCH takes
        # 3 s to answer its 'show channels' -- no ping while the loop waits
        stuck_at = notify.pings()[-1]          # from the last ping of the healthy loop on
        _slow_show_channels(sim.port, 3.0)
        [mark] = client.scan_iter("sd:daemon:*")
        client.delete(mark)
        while True:
            notify.wait_for(lambda f: "WATCHDOG" in f, 10, "a ping after the stuck loop")
            pings = notify.pings(stuck_at)
            if len(pings) >= 2 and max(_gaps(pings)) > 2.0:
                break
            assert time.monotonic() - stuck_at < 15, f"the pings never stopped: {_gaps(pings)}"
        assert client.exists(mark)              # the resync finished and the loop goes on
        notify.wait_for(lambda f: "WATCHDOG" in f, 5, "pings after the resync")

        # acd.service sets MemoryDenyWriteExecute=yes: a running daemon has no memory that is
        # writable and executable (what that setting would refuse to map)
        maps = pathlib.Path(f"/proc/{daemon.pid}/maps").read_text().splitlines()
        assert not [m for m in maps if m.split()[1].startswith("rwx")], maps

        daemon.send_signal(signal.SIGTERM)
        notify.wait_for(lambda f: "STOPPING" in f, 10, "STOPPING=1")
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        sim.stop()
        client.close()
        output = daemon.stdout.read()
        print(output)                              # shown when the test fails
    assert "Traceback" not in output, output


def _gaps(times):
    return [b - a for a, b in zip(times, times[1:])]


def _slow_show_channels(port, seconds):
    esl = EslClient("127.0.0.1", port, "ClueCon")
    esl.connect()
    try:
        reply = esl.api(f'sim_latency set {{"command-latency": {{"show": {seconds}}}}}')
        assert reply.startswith("+OK"), reply
    finally:
        esl.stop()


# -- the sender on its own -----------------------------------------------------------------------

def test_without_notify_socket_nothing_is_sent():
    systemd = Systemd(env={})
    assert not systemd.enabled and not systemd.notify("READY=1")
    assert systemd.watchdog_interval is None


def test_watchdog_interval_and_pid():
    assert Systemd(env={"WATCHDOG_USEC": "30000000"}).watchdog_interval == 15.0
    other = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Systemd(env=other).watchdog_interval is None     # the watchdog is someone else's
    assert Systemd(env={"WATCHDOG_USEC": "x"}).watchdog_interval is None


def test_a_path_socket_and_a_vanished_one(tmp_path):
    path = str(tmp_path / "notify")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    systemd = Systemd(env={"NOTIFY_SOCKET": path})
    try:
        assert systemd.notify("STATUS=hello", "READY=1")
        assert receiver.recv(100) == b"STATUS=hello\nREADY=1"
        receiver.close()
        os.unlink(path)
        assert not systemd.notify("WATCHDOG=1")             # logged, never raised
    finally:
        systemd.close()
