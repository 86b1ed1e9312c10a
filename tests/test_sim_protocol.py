"""The event-socket protocol of the simulator over real TCP, against the real captures.

Handshake, bad password and command_replies are replayed command by command from the capture's
``.sent`` file and compared byte for byte with its ``.recv`` file; only frames whose content is
necessarily different (uptime, generated uuids, modules the simulator does not have) are compared
by shape instead, and each such frame is listed here.
"""

import json
import pathlib
import re
import socket
import uuid as uuidlib

import pytest
import yaml

from acd.sim.process import SimProcess
from tests.rawesl import RawESL, connect, is_event, read_frames

DATA = pathlib.Path(__file__).parent / "data"
WORLD = {"users": {"1001": {"answer-after": 0.2}, "1002": {"answer-after": "never"},
                   "1003": {"respond": "USER_BUSY"}, "1010": {"registered": False}},
         "dialplan": {"5000": [["set", "acd_queue=support"], ["answer"], ["park"]]},
         "heartbeat": 3600}
UPTIME = re.compile(rb"UP \d+ years?, \d+ days?, \d+ hours?, \d+ minutes?, \d+ seconds?, "
                    rb"\d+ milliseconds?, \d+ microseconds?\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("proto") / "world.yaml"
    path.write_text(yaml.safe_dump(WORLD))
    with SimProcess(path, password="ClueCon") as sim:
        yield sim


@pytest.fixture
def esl(world):
    client = connect(world)
    yield client
    client.close()


def sent_commands(name):
    """The capture's client bytes cut into commands (a Content-Length body stays attached)."""
    data, out = (DATA / (name + ".sent")).read_bytes(), []
    while data.strip():
        head, _, data = data.partition(b"\n\n")
        block = head + b"\n\n"
        for line in head.split(b"\n"):
            if line.lower().startswith(b"content-length:"):
                size = int(line.split(b":")[1])
                block, data = block + data[:size], data[size:]
        out.append(block)
    return out


def replay(sim, name):
    """Send the capture's commands one by one (each after the previous reply)."""
    client = RawESL(sim.host, sim.port)
    client.read_frame()
    for command in sent_commands(name):
        client.send(command)
        try:
            client.read_reply()
        except ConnectionError:
            break
    try:
        while True:
            client.read_frame(timeout=0.3)
    except (TimeoutError, ConnectionError):
        pass
    client.close()
    return client.frames, read_frames((DATA / (name + ".recv")).read_bytes())


def test_handshake_is_byte_exact(world):
    frames, captured = replay(world, "handshake")
    assert len(frames) == len(captured)
    for mine, real in zip(frames, captured):
        if real.body.startswith(b"UP "):  # api status: this switch's own uptime and counters
            assert UPTIME.match(mine.body) and mine.body.count(b"\n") == real.body.count(b"\n")
            assert mine.body.splitlines()[1] == real.body.splitlines()[1]
        else:
            assert mine.raw == real.raw


def test_bad_password_gets_invalid_then_goodbye_and_close(world):
    frames, captured = replay(world, "handshake_bad_auth")
    assert [f.raw for f in frames] == [f.raw for f in captured]
    client = RawESL(world.host, world.port)
    client.read_frame()
    client.send(b"auth wrong\n\n")
    assert client.read_frame().header("Reply-Text") == "-ERR invalid"
    assert client.read_frame().content_type == "text/disconnect-notice"
    client.sock.settimeout(2)
    assert client.sock.recv(10) == b""


def test_command_replies_are_byte_exact(world):
    frames, captured = replay(world, "command_replies")
    assert len(frames) == len(captured)
    for i, (mine, real) in enumerate(zip(frames, captured)):
        if b"reg_user" in real.body:           # show registrations: our phones, our contacts
            assert list(json.loads(mine.body)["rows"][0]) == list(json.loads(real.body)["rows"][0])
        elif real.header("Job-UUID") and not real.header("Job-UUID").startswith(("cd09", "4d3b")):
            assert re.fullmatch(r"[0-9a-f-]{36}", mine.header("Job-UUID"))  # generated
        elif real.is_event:                    # BACKGROUND_JOB: same headers, same result
            ours, theirs = mine.event(), real.event()
            assert ours.names == theirs.names
            assert ours.get("Job-Command") == theirs.get("Job-Command")
            assert (ours.body.split(b"\n")[0] == theirs.body.split(b"\n")[0]
                    or UPTIME.match(ours.body))
        elif real.body in (b"+OK\n",) or real.body.startswith((b"name|strategy", b"=====")):
            # callcenter_config agent/queue list, sofia status: modules not simulated
            assert mine.body.endswith(b" Command not found!\n")
        else:
            assert mine.raw == real.raw, i


def test_commands_before_auth_are_refused_and_cr_is_ignored(world):
    client = RawESL(world.host, world.port)
    client.read_frame()
    client.send(b"api status\r\n\r\n")
    assert client.read_reply().header("Reply-Text") == "-ERR command not found"
    client.send(b"\r\nauth ClueCon\r\n\r\napi uuid_exists nope\r\n\r\n")
    assert client.read_reply().header("Reply-Text") == "+OK accepted"
    assert client.read_reply().body == b"false"
    client.close()


def test_api_reply_comes_before_the_events_it_caused(esl):
    esl.command("event plain ALL")
    esl.send(b"api originate loopback/5000 &park()\n\n")
    first = esl.read_frame()
    assert first.content_type == "api/response" and first.body.startswith(b"+OK ")
    a_leg = first.body.split()[1].decode()
    esl.wait_event(is_event("CHANNEL_CREATE", Unique_ID=a_leg))
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=a_leg))
    esl.send(("api uuid_kill %s\n\n" % a_leg).encode())
    while True:  # events queued before the api finished may come first; its own come after
        frame = esl.read_frame()
        if not frame.is_event:
            break
        assert not (frame.event().name == "CHANNEL_HANGUP"
                    and frame.event().get("Unique-ID") == a_leg)
    assert frame.body == b"+OK\n"
    hangup = esl.wait_event(is_event("CHANNEL_HANGUP", Unique_ID=a_leg))
    api = esl.wait_event(is_event("API", API_Command="uuid_kill"))
    assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING"
    assert api.get("API-Command-Argument") == a_leg


def test_bgapi_job_uuid_generated_or_kept_and_body_nested(esl):
    esl.command("event plain BACKGROUND_JOB")
    generated = esl.bgapi("uuid_exists x")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", generated)
    job = esl.wait_event(is_event("BACKGROUND_JOB", Job_UUID=generated))
    assert job.names[-4:] == ["Job-UUID", "Job-Command", "Job-Command-Arg", "Content-Length"]
    assert job.get("Job-Command-Arg") == "x" and job.body == b"false"
    chosen = str(uuidlib.uuid4())
    assert esl.bgapi("version", job_uuid=chosen) == chosen
    job = esl.wait_event(is_event("BACKGROUND_JOB", Job_UUID=chosen))
    assert "Job-Command-Arg" not in job.names and job.body.startswith(b"FreeSWITCH Version")


def test_events_in_json_and_xml(esl):
    assert esl.command("event json BACKGROUND_JOB").header("Reply-Text") == (
        "+OK event listener enabled json")
    job = esl.bgapi("uuid_exists x")
    frame = esl.read_frame()
    assert frame.raw.startswith(b"Content-Length: ") and frame.content_type == "text/event-json"
    data = json.loads(frame.body)
    assert data["Job-UUID"] == job and data["_body"] == "false" and data["Content-Length"] == "5"
    assert esl.command("event xml BACKGROUND_JOB").header("Reply-Text") == (
        "+OK event listener enabled xml")
    esl.bgapi("uuid_exists x")
    frame = esl.read_frame()
    assert frame.content_type == "text/event-xml" and frame.body.startswith(b"<event>")
    assert b"<Event-Name>BACKGROUND_JOB</Event-Name>" in frame.body


def drain(client, quiet=0.3):
    """Read until the server has been quiet for ``quiet`` seconds."""
    try:
        while True:
            client.read_frame(timeout=quiet)
    except TimeoutError:
        pass


def test_filters_subscriptions_and_clients_are_independent(world, esl):
    other = connect(world, events="BACKGROUND_JOB")
    esl.command("event plain CHANNEL_PARK CHANNEL_CREATE CHANNEL_HANGUP")
    assert esl.command("nixevent CHANNEL_CREATE").header("Reply-Text") == "+OK events nixed"
    first = esl.api("originate loopback/5000 &park()").split()[1].decode()
    park = esl.wait_event(lambda e: e.name == "CHANNEL_PARK" and e.get("Unique-ID") != first)
    b_leg = park.get("Unique-ID")
    assert esl.command("filter Unique-ID " + b_leg).header("Reply-Text") == (
        "+OK filter added. [Unique-ID]=[%s]" % b_leg)
    second = esl.api("originate loopback/5000 &park()").split()[1].decode()
    other_job = other.bgapi("uuid_exists " + second)
    assert other.wait_event(is_event("BACKGROUND_JOB", Job_UUID=other_job)).body == b"true"
    esl.api("uuid_kill " + b_leg)
    assert esl.wait_event(is_event("CHANNEL_HANGUP")).get("Unique-ID") == b_leg
    esl.api("hupall")
    drain(esl)
    assert {e.get("Unique-ID") for e in esl.history()} <= {b_leg, first}
    assert not [e for e in esl.history() if e.name == "CHANNEL_CREATE"]
    assert esl.command("filter delete all").header("Reply-Text") == "+OK filter deleted. [all][]"
    third = esl.api("originate loopback/5000 &park()").split()[1].decode()
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=third))
    esl.api("hupall")
    drain(other)
    assert {e.name for e in other.history()} == {"BACKGROUND_JOB"}
    other.close()


def test_myevents_follows_one_channel(world, esl):
    a_leg = esl.api("originate loopback/5000 &park()").split()[1].decode()
    assert esl.command("myevents " + a_leg).header("Reply-Text") == "+OK Events Enabled"
    assert esl.command("myevents " + a_leg).header("Reply-Text") == "-ERR aready enabled."
    assert esl.command("linger").header("Reply-Text") == "+OK will linger"
    assert esl.command("nolinger").header("Reply-Text") == "+OK will not linger"
    assert esl.command("divert_events on").header("Reply-Text") == "+OK events diverted"
    esl.api("originate loopback/5000 &park()")
    esl.api("hupall")
    esl.wait_event(is_event("CHANNEL_DESTROY", Unique_ID=a_leg))
    assert {e.get("Unique-ID") for e in esl.history()} == {a_leg}


def test_sendmsg_errors_and_exit(world):
    client = connect(world)
    missing = str(uuidlib.uuid4())
    reply = client.command("sendmsg " + missing, [("call-command", "execute"),
                                                  ("execute-app-name", "park")])
    assert reply.header("Reply-Text") == "-ERR invalid session id [%s]" % missing
    reply = client.command("sendmsg", [("call-command", "execute")])
    assert reply.header("Reply-Text") == "-ERR invalid session id []"
    assert client.command("exit").header("Reply-Text") == "+OK bye"
    assert client.read_frame().raw.endswith(b"See you at ClueCon! http://www.cluecon.com/\n")
    client.sock.settimeout(2)
    assert client.sock.recv(10) == b""


def test_registration_events_through_custom_subscription(esl):
    esl.command("event plain CUSTOM sofia::register sofia::unregister")
    assert esl.api('sim_user set 2001 {"answer-after": 0.1}') == b"+OK set 2001\n"
    register = esl.wait_event(is_event("CUSTOM"))
    assert register.get("Event-Subclass") == "sofia::register"
    real = [f.event() for f in read_frames((DATA / "agent_registration.recv").read_bytes())
            if f.is_event]
    captured = {e.get("Event-Subclass"): e for e in real if e.name == "CUSTOM"}
    mine_names = register.names
    real_names = captured["sofia::register"].names
    assert mine_names[:2] == ["Event-Subclass", "Event-Name"]
    assert [n for n in mine_names if n in real_names] == [
        n for n in real_names if n in mine_names]
    assert set(real_names) - set(mine_names) <= {
        "record_stereo", "default_gateway", "default_areacode", "transfer_fallback_extension",
        "toll_allow", "callgroup"}
    assert register.get("from-user") == "2001" and register.get("status") == "Registered(UDP)"
    assert esl.api("sim_user del 2001") == b"+OK deleted 2001\n"
    unregister = esl.wait_event(is_event("CUSTOM"))
    assert unregister.get("Event-Subclass") == "sofia::unregister"
    assert unregister.get("expires") == "0"
    assert not [e for e in esl.history() if "pre_register" in (e.get("Event-Subclass") or "")]


def test_log_and_connection_replies(esl):
    assert esl.command("log 7").header("Reply-Text") == "+OK log level 7 [7]"
    assert esl.command("log debug").header("Reply-Text") == "+OK log level debug [7]"
    assert esl.command("nolog").header("Reply-Text") == "+OK no longer logging"
    assert esl.command("nolog").header("Reply-Text") == "-ERR not loging"
    assert esl.command("event plain NOSUCHEVENT").header("Reply-Text") == (
        "-ERR no keywords supplied")
    assert esl.command("bogus").header("Reply-Text") == "-ERR command not found"
    with socket.create_connection((esl.sock.getpeername()[0], esl.sock.getpeername()[1])) as raw:
        assert raw.recv(100) == b"Content-Type: auth/request\n\n"
