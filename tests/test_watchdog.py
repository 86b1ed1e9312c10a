"""The half-open ESL connection: acd's watchdog (acd/esl/watchdog.py) against a simulator whose
sockets freeze without closing (``sim_esl freeze``, acd/sim/links.py).

The simulator sends HEARTBEAT every 0.5 s here; a connection silent for 1.5 s (three heartbeats)
is declared dead, reconnected and -- for the daemon -- resynced.
"""

import time

import gevent
import pytest

from acd.config import parse_config
from acd.esl import CommandTimeout, EslClient
from acd.esl import watchdog
from tests.acd_world import World
from tests.conftest import SIM_CONFIG
from tests.test_metrics import scrape

HEARTBEAT = 0.5
TIMEOUT = 1.5


def connect(sim, **kw):
    client = EslClient(sim.host, sim.port, sim.password, backoff_initial=0.05, backoff_max=0.2,
                       **kw)
    client.connect()
    return client


def wait_for(predicate, timeout, what):
    with gevent.Timeout(timeout, AssertionError(f"{what} not within {timeout} s")):
        while not predicate():
            gevent.sleep(0.02)


@pytest.fixture
def quick_sim(sim_factory):
    return sim_factory(dict(SIM_CONFIG, heartbeat=HEARTBEAT))


@pytest.fixture
def driver(quick_sim):
    """The test's own connection: it sends the faults and is never frozen itself."""
    client = connect(quick_sim)
    yield client
    client.stop()


# -- the verdict, from times alone ----------------------------------------------------------

def test_an_event_connection_silent_longer_than_the_timeout_is_dead():
    assert watchdog.verdict(10.0, 1.5, events=True, received_at=9.0, oldest_pending=None) is None
    reason, why = watchdog.verdict(10.0, 1.5, events=True, received_at=8.0, oldest_pending=None)
    assert reason == "heartbeat-timeout" and "2.0 s" in why


def test_a_quiet_command_connection_is_alive_until_a_command_goes_unanswered():
    assert watchdog.verdict(100.0, 1.5, events=False, received_at=0.0, oldest_pending=None) is None
    assert watchdog.verdict(100.0, 1.5, events=False, received_at=0.0,
                            oldest_pending=99.0) is None
    reason, _ = watchdog.verdict(100.0, 1.5, events=False, received_at=0.0, oldest_pending=98.0)
    assert reason == "command-timeout"


# -- the client against a frozen simulator --------------------------------------------------

def test_frozen_event_connection_is_declared_dead_and_reconnected(quick_sim, driver):
    client = connect(quick_sim, heartbeat_timeout=TIMEOUT)
    try:
        client.subscribe("HEARTBEAT")
        gevent.sleep(TIMEOUT + HEARTBEAT)           # heartbeats keep a live connection alive
        assert client.reconnects == 0
        assert driver.api("sim_esl freeze events") == "+OK 1 frozen\n"
        frozen_at = time.monotonic()
        wait_for(lambda: client.reconnects == 1, 3 * TIMEOUT, "reconnect")
        assert time.monotonic() - frozen_at < TIMEOUT + 1.0
        assert client.reconnect_reasons == {"heartbeat-timeout": 1}
        assert client.api("status").startswith("UP ")  # the new connection works
        # the frozen one is gone (acd closed it); the show spares the driver, which asks
        wait_for(lambda: driver.api("sim_esl show") == "events live\n", 2, "frozen one closed")
    finally:
        client.stop()


def test_frozen_command_connection_is_declared_dead_by_its_unanswered_command(quick_sim, driver):
    client = connect(quick_sim, heartbeat_timeout=TIMEOUT, events=False)
    try:
        gevent.sleep(TIMEOUT + HEARTBEAT)           # quiet is normal without commands
        assert client.reconnects == 0
        assert driver.api("sim_esl freeze commands") == "+OK 1 frozen\n"
        with pytest.raises(CommandTimeout):
            client.api("status", timeout=0.3)
        wait_for(lambda: client.reconnects == 1, 3 * TIMEOUT, "reconnect")
        assert client.reconnect_reasons == {"command-timeout": 1}
        assert client.api("status").startswith("UP ")
    finally:
        client.stop()


def test_sim_esl_drop_closes_and_usage_is_explained(quick_sim, driver):
    client = connect(quick_sim)
    try:
        assert driver.api("sim_esl drop all") == "+OK 1 dropped\n"
        wait_for(lambda: client.reconnects == 1, 5, "reconnect")
        assert client.reconnect_reasons == {"connection-lost": 1}
        assert driver.api("sim_esl melt all").startswith("-USAGE:")
        assert driver.api("sim_esl thaw") == "+OK 0 thawed\n"
    finally:
        client.stop()


# -- the daemon: callers keep their place --------------------------------------------------

def test_daemon_reconnects_a_frozen_switch_resyncs_and_serves_callers_in_order(tmp_path,
                                                                                redis_url):
    world = World(tmp_path, redis_url, {"support": {"strategy": "top-down", "tiers": ["2001"]}},
                  {"2001": {"status": "on-break"}}, sim={"heartbeat": HEARTBEAT})
    try:
        world.data["freeswitch"].update({"heartbeat-timeout": TIMEOUT, "command-timeout": 1})
        world.config = parse_config(world.data, source="test.yaml")
        daemon = world.daemon(http=True)
        first = world.call("support")
        second = world.call("support")
        assert world.driver.api("sim_esl freeze all") == "+OK 5 frozen\n"  # 1 event + 4 command
        frozen_at = time.monotonic()
        daemon.service.set_agent_status("2001", "available")  # its offer goes into the void
        wait_for(lambda: daemon.esl.reconnect_reasons["heartbeat-timeout"] == 1, 3 * TIMEOUT,
                 "the event connection's reconnect")
        assert world.bridged(first, timeout=10) == "2001"   # first in line is served first
        # the command connections were recycled with the event connection, not found out one
        # by one by a command each that waited the whole timeout (found by make soak: 30 s)
        assert time.monotonic() - frozen_at < 2 * TIMEOUT + 1.5
        world.hangup(first)
        assert world.bridged(second, timeout=10) == "2001"
        world.hangup(second)
        world.wait_agent("2001", state="waiting", status="available")
        scraped = scrape(daemon.http.server_port)
        assert scraped.value("acd_esl_reconnects_total", reason="heartbeat-timeout") == 1
    finally:
        world.close()



def test_a_restarted_switch_whose_calls_are_gone_frees_their_agents(tmp_path, redis_url):
    """FreeSWITCH restarts (SIGKILL, back on the same port): its calls are gone without a
    hangup. acd notices at the reconnect's resync: the talking agent waits again, the calls
    (talking and waiting) leave Redis, and the next caller is served."""
    world = World(tmp_path, redis_url, {"support": {"tiers": ["2001"]}}, {},
                  sim={"users": {"2001": {"answer-after": 0.3}}})
    try:
        daemon = world.daemon()
        talking = world.call("support")
        assert world.bridged(talking) == "2001"
        waiting = world.call("support")
        world.wait_call(waiting)
        port = world.sim.port
        world.sim.kill()
        world.sim.start(port=port)
        world.wait_agent("2001", timeout=15, state="waiting", status="available")
        wait_for(lambda: world.store.call(talking) is None and world.store.call(waiting) is None,
                 10, "the vanished calls leaving Redis")
        assert daemon.esl.reconnects >= 1
        world.driver.wait_connected(10)
        world.seen.clear()
        fresh = world.call("support")
        assert world.bridged(fresh) == "2001"
    finally:
        world.close()
