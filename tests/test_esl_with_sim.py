"""The ESL client against the simulator over real TCP: calls, jobs, a crash and a restart.

The simulator runs as its own process (``acd sim``), as FreeSWITCH would; the tests drive it with
the commands one would send a real FreeSWITCH.
"""

import re
from urllib.parse import unquote

import gevent
import gevent.event
import gevent.queue
import pytest

from acd.esl import ConnectionLost, EslClient
from acd.esl import commands as c

from tests.test_esl_commands import PAYLOADS
from tests.test_injection import expected


def connect(sim, **kw):
    kw.setdefault("backoff_initial", 0.05)
    kw.setdefault("backoff_max", 0.5)
    client = EslClient(sim.host, sim.port, sim.password, **kw)
    client.connect()
    return client


class Events:
    """Collects events of some names; ``wait(pred)`` blocks until one matches."""

    def __init__(self, client, *names):
        self.queue = gevent.queue.Queue()
        self.seen = []
        for name in names:
            client.register_handle(name, self.queue.put)

    def wait(self, predicate, timeout=10.0):
        for event in self.seen:
            if predicate(event):
                return event
        with gevent.Timeout(timeout, AssertionError("expected event did not arrive")):
            while True:
                event = self.queue.get()
                self.seen.append(event)
                if predicate(event):
                    return event


@pytest.fixture
def client(sim):
    esl = connect(sim)
    yield esl
    esl.stop()


def test_caller_is_parked_with_its_queue_variable(client):
    events = Events(client, "CHANNEL_PARK")
    client.subscribe("CHANNEL_PARK")
    job = client.bgapi("originate {origination_caller_id_number=+4930123456}loopback/5000 &park()")
    result = job.wait_result(10)
    assert result.ok, result
    a_leg = result.value
    park = events.wait(lambda e: e.get("variable_acd_queue") == "support")
    assert park["Channel-Name"] == "loopback/5000-b"
    assert park["variable_other_loopback_leg_uuid"] == a_leg
    assert park["Caller-Caller-ID-Number"] == "+4930123456"
    assert client.api(c.uuid_kill(park.uuid)) == "+OK\n"


def test_agent_originate_failures_come_back_as_causes(client):
    for user, cause in (("1003", "USER_BUSY"), ("1004", "USER_NOT_REGISTERED"),
                        ("9999", "SUBSCRIBER_ABSENT")):
        result = client.bgapi(c.originate(c.dial_string(f"user/{user}"))).wait_result(10)
        assert not result.ok and result.cause == cause
    dial = c.dial_string("user/1002", {"originate_timeout": 1})
    assert client.bgapi(c.originate(dial)).wait_result(10).cause == "NO_ANSWER"


def test_dtmf_injection_and_kill(client):
    events = Events(client, "CHANNEL_PARK", "DTMF", "CHANNEL_HANGUP")
    client.subscribe("CHANNEL_PARK", "DTMF", "CHANNEL_HANGUP")
    client.bgapi("originate loopback/5001 &park()").wait_result(10)
    park = events.wait(lambda e: e.get("variable_acd_ivr") == "main")
    assert client.api(c.uuid_recv_dtmf(park.uuid, "2")).startswith(f"+OK {park.uuid} received DTMF 2")
    dtmf = events.wait(lambda e: e.name == "DTMF")
    assert dtmf["DTMF-Digit"] == "2" and dtmf.uuid == park.uuid
    assert client.api(c.uuid_kill(park.uuid)) == "+OK\n"
    events.wait(lambda e: e.name == "CHANNEL_HANGUP" and e.uuid == park.uuid)
    assert client.api(c.uuid_kill(park.uuid)) == "-ERR No such channel!\n"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_untrusted_caller_name_reaches_the_channel_as_one_variable(client, payload):
    events = Events(client, "CHANNEL_CREATE")
    client.subscribe("CHANNEL_CREATE")
    dial = c.dial_string("loopback/5000", {"origination_caller_id_name": payload,
                                           "acd_role": "caller"})
    result = client.bgapi(c.originate(dial)).wait_result(10)
    assert result.ok, result
    created = events.wait(lambda e: e.uuid == result.value)
    # uuid_getvar gives the raw value; in events FreeSWITCH leaves a valid upper-case %XX
    # unencoded, so a literal "%0A" reads back as a newline there (ESL-FACTS.md)
    raw = client.api(c.uuid_getvar(result.value, "origination_caller_id_name"))
    assert raw == expected(payload)
    in_event = unquote(re.sub(r"%(?![0-9A-F]{2})", "%25", expected(payload)))
    assert created["variable_origination_caller_id_name"] == in_event
    assert created["variable_acd_role"] == "caller"
    assert created["Channel-Name"] == "loopback/5000-a"
    # the same payload as an api argument (uuid_setvar's value is the rest of the line)
    assert client.api(c.uuid_setvar(result.value, "acd_note", payload)) == "+OK\n"
    assert client.api(c.uuid_getvar(result.value, "acd_note")) == expected(payload, braces=False)
    client.api("hupall")


def test_simulator_crash_fails_pending_work_fast_and_subscriptions_come_back(sim):
    reconnected = gevent.event.Event()
    client = connect(sim, on_reconnect=reconnected.set)
    try:
        events = Events(client, "CHANNEL_PARK", "CHANNEL_CREATE")
        client.subscribe("CHANNEL_PARK")
        client.add_filter("variable_acd_queue", "support")
        # pending: a blocking api originate that rings for 20 s, and a background job
        pending_api = gevent.spawn(client.api, "originate {originate_timeout=20}user/1002 &park()", 30)
        pending_job = client.bgapi("originate {originate_timeout=20}user/1002 &park()")
        gevent.sleep(0.3)
        sim.kill()
        with gevent.Timeout(1.0, AssertionError("pending api did not fail within 1 s")):
            pending_api.join()
        assert isinstance(pending_api.exception, ConnectionLost)
        with pytest.raises(ConnectionLost):
            pending_job.get(timeout=1.0)

        sim.start(port=sim.port)  # FreeSWITCH comes back on the same port
        assert reconnected.wait(10), "client did not reconnect"
        assert client.reconnects == 1
        result = client.bgapi("originate loopback/5000 &park()").wait_result(10)
        assert result.ok
        park = events.wait(lambda e: e.name == "CHANNEL_PARK")
        assert park["variable_acd_queue"] == "support"
        # CHANNEL_CREATE was never subscribed: the restored subscription is the same one
        gevent.sleep(0.3)
        assert not [e for e in events.seen if e.name == "CHANNEL_CREATE"]
    finally:
        client.stop()
