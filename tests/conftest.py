"""Shared fixtures: a private redis-server per test session, and the simulator as a process.

Nothing here mocks anything: Redis is a real redis-server on a free port in a temp dir, the
simulator is ``acd sim`` listening on port 0 and spoken to over TCP.
"""

import os
import pathlib

import pytest
import redis
import yaml

from acd.redis_server import RedisServer
from acd.sim.process import SimProcess

DATA = pathlib.Path(__file__).parent / "data"

#: The simulator world most tests use: the agents' phones of the real captures
#: (tests/data/README.md) and the captures' dialplan.
SIM_CONFIG = {
    "password": "ClueCon",
    "heartbeat": 20,
    "users": {
        "1001": {"answer-after": 1.0},
        "1002": {"answer-after": "never"},
        "1003": {"respond": "USER_BUSY"},
        "1004": {"registered": False},
        "1005": {"respond": "CALL_REJECTED", "after": 0.5},
        "1006": {"answer-after": 0.5, "hangup-after": 30},
    },
    "dialplan": {
        "5000": [["set", "acd_queue=support"], ["answer"], ["park"]],
        "5001": [["set", "acd_ivr=main"], ["answer"], ["park"]],
    },
    "sounds": {"ivr/*": 2.0, "default": 1.0},
}


@pytest.fixture(scope="session")
def redis_server():
    """A redis-server of our own. If it cannot start, every test using it errors (never skips)."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster():
    """A Redis Cluster of three primaries of our own (acd/redis_ha.py), started once."""
    from acd.redis_ha import ClusterGroup
    group = ClusterGroup().start()
    yield group
    group.stop()


@pytest.fixture
def redis_url(redis_server):
    """A clean database on the private server (flushing is safe: the server is ours)."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    client.close()
    return redis_server.url


@pytest.fixture
def sim_factory(tmp_path):
    """Start simulators: ``sim_factory(config=None, **overrides)`` -> running SimProcess."""
    started = []

    def start(config=None, **overrides):
        cfg = dict(SIM_CONFIG if config is None else config)
        cfg.update(overrides)
        path = tmp_path / f"sim{len(started)}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        proc = SimProcess(path, password=cfg.get("password", "ClueCon"))
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def sim(sim_factory):
    """A simulator with the default world (SIM_CONFIG)."""
    return sim_factory()


def pytest_report_header(config):
    mode = "gevent monkey-patched" if os.environ.get("ACD_TEST_GEVENT") else "unpatched"
    return f"acd tests: {mode}"


@pytest.fixture(autouse=True)
def openapi_checked(monkeypatch):
    """Every HTTP API a test starts answers through tests/openapi_check.CheckingApp: each
    response must be documented in acd/http/openapi.yaml; a mismatch fails the test."""
    import acd.http.server
    from tests.openapi_check import CheckingApp

    failures = []
    make_app = acd.http.server.make_app
    monkeypatch.setattr(acd.http.server, "make_app",
                        lambda *args, **kw: CheckingApp(make_app(*args, **kw), failures))
    yield failures
    if failures:
        pytest.fail("responses that do not match the OpenAPI document:\n" +
                    "\n".join(dict.fromkeys(failures)))


# -- under monkey-patching: no gevent hub in a native thread --------------------------------
#
# A hub made in a native thread means a patched socket lives in that thread, and whatever closes
# it from another thread edits that thread's libev loop from the wrong one (acd/offload.py says
# why that is unsafe). Blocking calls go through acd.offload (acd) and tests.blocking (tests).

_hubs_in_threads = []


def _watch_hubs():
    import threading
    import traceback

    import gevent.hub

    made = gevent.hub.Hub.__init__

    def init(self, *args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            _hubs_in_threads.append((threading.current_thread().name,
                                     "".join(traceback.format_stack(limit=14)[:-1])))
        return made(self, *args, **kwargs)

    gevent.hub.Hub.__init__ = init


if os.environ.get("ACD_TEST_GEVENT"):
    _watch_hubs()


@pytest.fixture(autouse=True)
def no_hub_in_a_native_thread():
    yield
    if _hubs_in_threads:
        name, stack = _hubs_in_threads[0]
        _hubs_in_threads.clear()
        pytest.fail(f"a gevent hub was made in the native thread {name} (a patched socket "
                    f"there; use acd.offload or tests.blocking):\n{stack}", pytrace=False)


@pytest.fixture(autouse=True, scope="module")
def epoll_set_rebuilt_after_each_file():
    """Gevent half: after each test file, libev rebuilds its epoll set, as it does after an
    epoll event for an fd closed here but still open in a forked child (gevent.subprocess).
    An I/O watcher some test left running on a closed fd then aborts the process here, right
    after the file that left it ("libev: I/O watcher with invalid fd found in epoll_ctl"),
    instead of one run in three in some later file. ``make check-watchers`` names the watcher.
    (It aborts only when the fd's number is still free; a reused one goes unnoticed here.)"""
    yield
    if os.environ.get("ACD_TEST_GEVENT"):
        import gevent
        gevent.get_hub().loop.reinit()
        gevent.sleep(0.01)
