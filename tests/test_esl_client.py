"""EslClient against a scripted server: the greenswitch 0.0.19 defects (ESL-FACTS.md) and the
client's own guarantees (timeouts, bgapi futures, reconnect, handler isolation).

Each defect test takes a client factory and runs twice: with our EslClient (must pass) and with
plain greenswitch, where it is expected to fail (``xfail(strict=True)``: should greenswitch ever
fix the defect, the test reports it).
"""

import logging
import os
import subprocess
import sys
import textwrap

import gevent
import gevent.event
import gevent.pool
import greenswitch
import pytest
from greenswitch.esl import NotConnectedError

from acd.esl import (AuthError, CommandError, CommandTimeout, ConnectionLost, EslClient, JobResult,
                     UnsafeValue)
from tests.scripted_esl import (DISCONNECT_NOTICE, ScriptedServer, api_response, background_job,
                                event_frame, plain_event, reply)


def ours(port, **kw):
    kw.setdefault("command_timeout", 2.0)
    kw.setdefault("backoff_initial", 0.05)
    return EslClient("127.0.0.1", port, "ClueCon", **kw)


def plain_greenswitch(port, **kw):
    return greenswitch.InboundESL("127.0.0.1", port, "ClueCon")


CLIENTS = [
    pytest.param(ours, id="acd"),
    pytest.param(plain_greenswitch, id="greenswitch",
                 marks=pytest.mark.xfail(strict=True, reason="greenswitch 0.0.19 defect")),
]


@pytest.fixture
def server():
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def make(server):
    made = []

    def make_client(factory, **kw):
        client = factory(server.port, **kw)
        with gevent.Timeout(5):
            client.connect()
        made.append(client)
        return client

    yield make_client
    for client in made:
        if isinstance(client, EslClient):
            client.stop()
        else:
            client._run = False
            for sock in (getattr(client, "sock", None),):
                if sock is not None:
                    sock.close()


def collect(client, name):
    """Register a handler that appends events to a list; returns (list, Event set on each)."""
    got, arrived = [], gevent.event.Event()

    def handler(event):
        got.append(event)
        arrived.set()

    client.register_handle(name, handler)
    return got, arrived


def wait_for(predicate, timeout=3.0):
    with gevent.Timeout(timeout, False):
        while not predicate():
            gevent.sleep(0.01)
    return predicate()


# -- defect 1: %0A inside a value must not forge a header ----------------------------------------

@pytest.mark.parametrize("factory", CLIENTS)
def test_defect1_percent_0a_does_not_forge_headers(server, make, factory):
    client = make(factory)
    got, arrived = collect(client, "CHANNEL_PARK")
    server.push(event_frame(plain_event(
        "CHANNEL_PARK", "Unique-ID: real-uuid\n"
        "Caller-Caller-ID-Name: Eve%0AUnique-ID%3A%20forged%0Avariable_acd_queue%3A%20vip\n")))
    assert arrived.wait(3)
    headers = got[0].headers
    assert headers["Unique-ID"] == "real-uuid"
    assert headers["Caller-Caller-ID-Name"] == "Eve\nUnique-ID: forged\nvariable_acd_queue: vip"
    assert "variable_acd_queue" not in headers


# -- defect 2: an event's own body (BACKGROUND_JOB result) --------------------------------------

@pytest.mark.parametrize("factory", CLIENTS)
def test_defect2_background_job_body_is_kept(server, make, factory):
    client = make(factory)
    got, arrived = collect(client, "BACKGROUND_JOB")
    server.push(background_job("9b1e6f3e-0000-4000-8000-000000000001", "-ERR NO_ANSWER\n"))
    assert arrived.wait(3)
    event = got[0]
    assert getattr(event, "body", None) == "-ERR NO_ANSWER\n"
    assert event.headers["Content-Length"] == "15"


# -- defect 3: text/event-json must not kill the reader --------------------------------------------

@pytest.mark.parametrize("factory", CLIENTS)
def test_defect3_json_event_does_not_kill_the_reader(server, make, factory):
    client = make(factory)
    got, arrived = collect(client, "HEARTBEAT")
    server.push(event_frame(b'{"Event-Name":"HEARTBEAT","Event-Info":"System Ready"}',
                            "text/event-json"))
    server.push(event_frame(plain_event("HEARTBEAT", "Event-Info: System%20Ready\n")))
    assert wait_for(lambda: len(got) == 2, timeout=2)
    with gevent.Timeout(2):
        reply_ = client.send("api status")
    assert reply_.data == "+OK\n"


# -- defect 4: send() must time out, and fail at once when the socket closes -------------------------

@pytest.mark.parametrize("factory", CLIENTS)
def test_defect4_command_times_out(server, make, factory):
    client = make(factory)
    server.responder = lambda cmd: b""  # never answer
    with gevent.Timeout(2, AssertionError("send() hung")):
        with pytest.raises(CommandTimeout):
            client.send("api status", timeout=0.3) if factory is ours else client.send("api status")


@pytest.mark.parametrize("factory", CLIENTS)
def test_defect4_pending_command_fails_when_socket_closes(server, make, factory):
    client = make(factory)
    server.responder = lambda cmd: b""
    result = gevent.event.AsyncResult()
    gevent.spawn(lambda: result.set(_outcome(client.send, "api originate user/1002 &park()")))
    server.wait_command("api originate")
    started = gevent.get_hub().loop.now()
    server.drop()
    outcome = result.get(timeout=2)
    assert isinstance(outcome, NotConnectedError), outcome
    assert gevent.get_hub().loop.now() - started < 1.0


def _outcome(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # the test inspects what came out
        return exc


# -- defect 5: DISCONNECT handlers run on a plain TCP close ------------------------------------------

@pytest.mark.parametrize("factory", CLIENTS)
def test_defect5_disconnect_handler_runs_on_plain_close(server, make, factory):
    client = make(factory, **({"reconnect": False} if factory is ours else {}))
    got, arrived = collect(client, "DISCONNECT")
    server.drop()
    assert arrived.wait(2), "no DISCONNECT after the TCP connection closed"


# -- defect 6: EOF inside a body; partial writes -----------------------------------------------------

EOF_IN_BODY_SCRIPT = textwrap.dedent("""
    import sys, gevent
    sys.path.insert(0, {root!r})
    from tests.scripted_esl import ScriptedServer
    import greenswitch
    from acd.esl import EslClient
    server = ScriptedServer().start()
    kind = sys.argv[1]
    if kind == "acd":
        client = EslClient("127.0.0.1", server.port, "ClueCon", reconnect=False)
    else:
        client = greenswitch.InboundESL("127.0.0.1", server.port, "ClueCon")
    client.connect()
    lost = gevent.event.Event()
    client.register_handle("DISCONNECT", lambda e: lost.set())
    server.push(b"Content-Length: 500\\nContent-Type: text/event-plain\\n\\nEvent-Name: CHANNEL_PARK\\n")
    gevent.sleep(0.2)
    server.drop()
    ok = lost.wait(3) and not client.connected
    print("noticed" if ok else "not noticed")
    sys.exit(0 if ok else 1)
""")


@pytest.mark.parametrize("kind", ["acd", pytest.param(
    "greenswitch", marks=pytest.mark.xfail(strict=True, reason="greenswitch spins forever"))])
def test_defect6_eof_in_the_middle_of_a_body(kind, tmp_path):
    """Run in a child process: greenswitch busy-loops without yielding, which would hang us."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = tmp_path / "eof.py"
    script.write_text(EOF_IN_BODY_SCRIPT.format(root=root))
    try:
        proc = subprocess.run([sys.executable, str(script), kind], capture_output=True, timeout=8)
    except subprocess.TimeoutExpired:
        pytest.fail("client hung on EOF inside a frame body")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("factory", CLIENTS)
def test_defect6_large_command_is_written_completely(server, make, factory):
    client = make(factory)
    big = "x" * (24 * 1024 * 1024)  # far more than the socket buffers: a single send() is partial
    with gevent.Timeout(8, AssertionError("large command was not delivered")):
        answer = client.send(f"api echo {big}")
    assert answer.data == "+OK\n"
    assert len(server.wait_command("api echo")) == len(f"api echo {big}\n\n")


# -- defect 7: a slow handler must not stall other handlers ------------------------------------------

@pytest.mark.parametrize("factory", CLIENTS)
def test_defect7_slow_handler_does_not_block_others(server, make, factory):
    client = make(factory)
    client.register_handle("CHANNEL_PARK", lambda event: gevent.sleep(3))
    got, arrived = collect(client, "HEARTBEAT")
    server.push(event_frame(plain_event("CHANNEL_PARK", "Unique-ID: a\n")))
    server.push(event_frame(plain_event("HEARTBEAT", "Event-Info: System%20Ready\n")))
    assert arrived.wait(1.0), "HEARTBEAT handler waited for the slow CHANNEL_PARK handler"


# -- defect 8: logging through our own logger --------------------------------------------------------

@pytest.mark.parametrize("factory", CLIENTS)
def test_defect8_logs_through_a_named_logger(server, make, factory, caplog):
    client = make(factory)
    done = gevent.event.Event()

    def broken(event):
        done.set()
        raise RuntimeError("handler bug")

    client.register_handle("CHANNEL_PARK", broken)
    with caplog.at_level(logging.DEBUG):
        server.push(event_frame(plain_event("CHANNEL_PARK", "Unique-ID: a\n")))
        assert done.wait(3)
        gevent.sleep(0.1)
    failures = [r for r in caplog.records if "handler bug" in (r.exc_text or "") or
                (r.exc_info and "handler bug" in str(r.exc_info[1]))]
    assert failures, "the handler failure was not logged"
    assert all(r.name.startswith("acd.esl") for r in failures)


# -- the client's own guarantees -------------------------------------------------------------------

def test_bgapi_future_resolves_from_background_job(server, make):
    client = make(ours)
    job = client.bgapi("originate user/1001 &park()", job_uuid="11111111-2222-4333-8444-555555555555")
    cmd = server.wait_command("bgapi originate")
    assert cmd == ("bgapi originate user/1001 &park()\n"
                   "Job-UUID: 11111111-2222-4333-8444-555555555555\n\n")
    assert not job.ready()
    server.push(background_job(job.job_uuid, "+OK 0d0e9e4c-aaaa-4bbb-8ccc-dddddddddddd\n"))
    result = job.wait_result(3)
    assert isinstance(result, JobResult)
    assert result.ok and result.value == "0d0e9e4c-aaaa-4bbb-8ccc-dddddddddddd"


def test_bgapi_failure_cause(server, make):
    client = make(ours)
    job = client.bgapi("originate user/1003 &park()")
    server.push(background_job(job.job_uuid, "-ERR USER_BUSY\n"))
    result = job.wait_result(3)
    assert not result.ok and result.cause == "USER_BUSY"


def test_bgapi_jobs_fail_when_the_connection_drops(server, make):
    client = make(ours, reconnect=False)
    job = client.bgapi("originate user/1002 &park()")
    server.drop()
    with pytest.raises(ConnectionLost):
        job.get(timeout=3)


def test_bgapi_refused(server, make):
    client = make(ours)
    server.responder = lambda cmd: reply("-ERR permission denied") if cmd.startswith("bgapi") else None
    with pytest.raises(CommandError):
        client.bgapi("status")
    assert client._jobs == {}


def test_bgapi_without_waiting_gets_a_refusal_as_the_jobs_error(server, make):
    client = make(ours)
    server.responder = lambda cmd: reply("-ERR permission denied") if cmd.startswith("bgapi") else None
    job = client.bgapi("status", wait=False)      # returns before any reply
    with pytest.raises(CommandError, match="permission denied"):
        job.get(timeout=3)
    assert client._jobs == {}


def test_commands_sent_without_waiting_get_their_own_replies_in_order(server, make):
    client = make(ours)
    server.responder = lambda cmd: reply("+OK " + cmd.split("\n")[0].split(" ")[-1])
    slots = [client.api_nowait(f"uuid_break {n}") for n in ("a", "b", "c")]
    assert client.api("status").startswith("+OK")   # a waited command still gets its own reply
    assert [slot.get(timeout=3).data for slot in slots] == ["+OK a", "+OK b", "+OK c"]
    assert server.wait_command("api uuid_break a") == "api uuid_break a\n\n"


def test_late_reply_after_timeout_does_not_shift_later_replies(server, make):
    client = make(ours)
    slow = gevent.event.Event()

    def responder(cmd):
        if cmd.startswith("api slow"):
            slow.wait()
            return api_response("slow result\n")
        if cmd.startswith("api fast"):
            return api_response("fast result\n")
        return None

    server.responder = responder
    with pytest.raises(CommandTimeout):
        client.api("slow", timeout=0.2)
    slow.set()
    assert client.api("fast") == "fast result\n"


def test_commands_from_many_greenlets_get_their_own_replies(server, make):
    client = make(ours)
    server.responder = lambda cmd: api_response(cmd.split("\n")[0][4:] + "\n") if cmd.startswith("api") else None
    results = gevent.pool.Pool(50).map(lambda i: client.api(f"echo {i}"), range(200))
    assert results == [f"echo {i}\n" for i in range(200)]


def test_not_connected_fails_fast(server):
    client = ours(server.port)
    with pytest.raises(NotConnectedError):
        client.send("api status")


def test_wrong_password(server):
    server.password = "secret"
    with pytest.raises(AuthError):
        ours(server.port).connect()


def test_disconnect_notice_then_close_fails_pending_and_reconnects(server, make):
    reconnected = gevent.event.Event()
    client = make(ours, on_reconnect=reconnected.set)
    client.subscribe("CHANNEL_PARK", "CHANNEL_HANGUP", custom=["sofia::register"])
    client.add_filter("Unique-ID", "abc")
    server.responder = lambda cmd: b"" if cmd.startswith("api hang") else None
    result = gevent.event.AsyncResult()
    gevent.spawn(lambda: result.set(_outcome(client.api, "hang")))
    server.wait_command("api hang")
    before = len(server.commands)
    server.push(DISCONNECT_NOTICE)
    server.drop()
    assert isinstance(result.get(timeout=3), ConnectionLost)
    server.responder = None
    assert reconnected.wait(5), "no reconnect"
    again = server.commands[before:]
    assert again[0] == ("event plain BACKGROUND_JOB CHANNEL_HANGUP CHANNEL_PARK "
                        "CUSTOM sofia::register\n\n")
    assert again[1:3] == ["filter Event-Name BACKGROUND_JOB\n\n", "filter Unique-ID abc\n\n"]
    assert client.api("status") == "+OK\n"
    assert client.reconnects == 1


def test_raw_greenswitch_style_subscriptions_are_remembered(server, make):
    reconnected = gevent.event.Event()
    client = make(ours, on_reconnect=reconnected.set)
    client.send("event plain CHANNEL_CREATE CUSTOM callcenter::info")
    client.send("filter Event-Name CHANNEL_CREATE")
    before = len(server.commands)
    server.drop()
    assert reconnected.wait(5)
    assert server.commands[before:before + 3] == [
        "event plain BACKGROUND_JOB CHANNEL_CREATE CUSTOM callcenter::info\n\n",
        "filter Event-Name BACKGROUND_JOB\n\n",
        "filter Event-Name CHANNEL_CREATE\n\n"]


def test_backoff_grows_and_is_capped():
    """Nothing listens: attempts are spaced by a growing delay that stops at the cap."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = EslClient("127.0.0.1", port, "ClueCon", backoff_initial=0.05, backoff_factor=2,
                       backoff_max=0.2)
    times = []
    original = client._open

    def counting_open():
        times.append(gevent.get_hub().loop.now())
        return original()

    client._open = counting_open
    client.start()
    assert wait_for(lambda: len(times) >= 6, timeout=5)
    client.stop()
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps[0] < 0.15
    assert all(g < 0.2 * 1.2 + 0.1 for g in gaps)
    assert max(gaps[3:]) > 0.15


def test_unsafe_commands_are_refused_before_sending(server, make):
    client = make(ours)
    for bad in ["api status\n\napi hupall", "api status\r", "api x\n"]:
        with pytest.raises(UnsafeValue):
            client.send(bad)
    with pytest.raises(UnsafeValue):
        client.api("status\nJob-UUID: x")
    with pytest.raises(UnsafeValue):
        client.api("originate {x=unload}user/mod_event_socket &park()")
    assert not [c for c in server.commands if "hupall" in c or "mod_event_socket" in c]
