"""A slow switch, as mod_event_socket is slow: command latencies and late events, over raw ESL.

An inline ``api`` (and ``sendmsg``) with a latency freezes its own connection -- no event, no
later command -- and no other; a ``bgapi`` leaves its connection live; ``event-delay`` makes
every event arrive late, in order, with its firing time in Event-Date-Timestamp. Timing
assertions are one-sided with wide margins (the machine is shared): "held at least 1.8 s of 2",
"the other connection got it within 0.5 s".
"""

import json
import subprocess
import sys
import time
import uuid as uuidlib

import pytest
import yaml

from acd.sim.config import ConfigError, parse_config
from acd.sim.process import SimProcess
from tests.rawesl import connect, is_event
from tests.sim_fixtures import world_fixture

WORLD = {
    "heartbeat": 3600,
    "users": {"1001": {"answer-after": 0.3}},
    "dialplan": {"5000": [["answer"], ["park"]]},
}
#: Not a sleep to wait for a fact: nothing on the wire says the simulator has *read* a command
#: that is still running, so a test gives it this long before acting on another connection.
READ_GRACE = 0.3

world = world_fixture(WORLD, "latency")


@pytest.fixture
def control(world):
    """A connection without events that sets the switch's latency; cleared after the test."""
    client = connect(world)
    yield client
    assert client.api("sim_latency clear") == b"+OK latency cleared\n"
    client.api("hupall")
    client.close()


@pytest.fixture
def clients(world):
    opened = []

    def open_one():
        opened.append(connect(world, events="ALL"))
        return opened[-1]
    yield open_one
    for client in opened:
        client.close()


def slow(control, **settings):
    reply = control.api("sim_latency set " + json.dumps(settings))
    assert reply == b"+OK latency set\n", reply


def parked(client):
    """A loopback call whose A leg runs park(); its uuid."""
    leg = str(uuidlib.uuid4())
    assert client.api("originate {origination_uuid=%s}loopback/5000/default &park()" % leg) == (
        b"+OK %s\n" % leg.encode())
    client.wait_event(is_event("CHANNEL_PARK", Unique_ID=leg))
    return leg


def start_call(client):
    """Start a call with ``bgapi`` (the reply is at once); its A leg's uuid."""
    leg = str(uuidlib.uuid4())
    client.bgapi("originate {origination_uuid=%s}loopback/5000/default &park()" % leg)
    return leg


def until_reply(client, timeout=10):
    """Frames up to and including the next reply, each with the wall time it arrived."""
    frames = []
    while True:
        frame = client.read_frame(timeout)
        frames.append((time.time(), frame))
        if not frame.is_event:
            return frames


def fired(event):
    return int(event.get("Event-Date-Timestamp")) / 1e6


def arrival(client, match, timeout=10):
    """Wait for a matching event; (the event, the wall time it was read)."""
    event = client.wait_event(match, timeout)
    return event, time.time()


# --- a command that blocks its connection ---------------------------------------------------------

def test_inline_api_freezes_its_connection_only(control, clients):
    slow(control, **{"command-latency": {"uuid_bridge": 2.0}})
    one, two = clients(), clients()
    a, b = parked(one), parked(one)
    sent = time.time()
    one.send("api uuid_bridge %s %s\n\napi uuid_exists %s\n\n" % (a, b, a))
    time.sleep(READ_GRACE)
    started = time.time()
    other = start_call(two)
    create, seen = arrival(two, is_event("CHANNEL_CREATE", Unique_ID=other))
    assert seen - started < 0.5                  # the other connection lives on

    frames = until_reply(one)
    replied, reply = frames[-1]
    assert reply.body == b"+OK %s\n" % b.encode()
    assert replied - sent >= 1.8                 # the command took its 2 s ...
    early = [frame.event() for _, frame in frames[:-1]]    # ... and no event fired while it
    assert all(fired(event) < replied - 1.8 for event in early), early     # ran reached one
    assert other not in [event.get("Unique-ID") for event in early]

    # the events held meanwhile follow the reply, then the next command's reply
    frames = until_reply(one)
    held = [frame.event() for _, frame in frames[:-1]]
    assert frames[-1][1].body == b"true"
    held_create = [e for e in held if e.name == "CHANNEL_CREATE" and e.get("Unique-ID") == other]
    assert held_create and fired(held_create[0]) < replied - 1.0
    bridge = two.wait_event(is_event("CHANNEL_BRIDGE", Unique_ID=a))
    assert fired(bridge) >= sent + 1.8                     # the bridge happened after 2 s

    # the second command was not even read before the first had finished
    exists = two.wait_event(lambda e: e.name == "API" and e.get("API-Command") == "uuid_exists")
    assert fired(exists) >= sent + 1.8


def test_bgapi_with_latency_leaves_its_connection_live(control, clients):
    slow(control, **{"command-latency": {"uuid_bridge": 2.0}})
    one = clients()
    a, b = parked(one), parked(one)
    sent = time.time()
    job = one.bgapi("uuid_bridge %s %s" % (a, b))
    assert job and time.time() - sent < 0.5
    started = time.time()
    other = start_call(one)
    _, seen = arrival(one, is_event("CHANNEL_CREATE", Unique_ID=other))
    assert seen - started < 0.5                  # events flow ...
    asked = time.time()
    assert one.api("uuid_exists %s" % a) == b"true"
    assert time.time() - asked < 0.5             # ... and later commands run
    result, done = arrival(one, is_event("BACKGROUND_JOB", Job_UUID=job))
    assert result.body == b"+OK %s\n" % b.encode()
    assert done - sent >= 1.8
    bridge = one.wait_event(is_event("CHANNEL_BRIDGE", Unique_ID=a))
    assert fired(bridge) >= sent + 1.8


def test_sendmsg_with_latency_freezes_its_connection(control, clients):
    slow(control, **{"command-latency": {"sendmsg": 1.0}})
    one, two = clients(), clients()
    a = parked(one)
    sent = time.time()
    one.send("sendmsg %s\ncall-command: execute\nexecute-app-name: set\nexecute-app-arg: "
             "slow=yes\nEvent-UUID: mark-1\n\n" % a)
    time.sleep(READ_GRACE)
    started = time.time()
    other = start_call(two)
    _, seen = arrival(two, is_event("CHANNEL_CREATE", Unique_ID=other))
    assert seen - started < 0.5
    frames = until_reply(one)
    replied, reply = frames[-1]
    assert reply.header("Reply-Text") == "+OK"
    assert replied - sent >= 0.9
    assert other not in [frame.event().get("Unique-ID") for _, frame in frames[:-1]]
    execute, _ = arrival(one, is_event("CHANNEL_EXECUTE", Application_UUID="mark-1"))
    assert fired(execute) >= sent + 0.9          # the message reached the session after 1 s
    create = one.wait_event(is_event("CHANNEL_CREATE", Unique_ID=other))
    assert fired(create) < replied - 0.3         # fired during the hold, delivered after it


def test_originate_latency_comes_before_the_ringing(control, clients):
    slow(control, **{"command-latency": {"originate": 1.0}})
    one, two = clients(), clients()
    leg = str(uuidlib.uuid4())
    sent = time.time()
    reply = one.api("originate {origination_uuid=%s}user/1001 &park()" % leg)
    assert reply == b"+OK %s\n" % leg.encode()
    assert time.time() - sent >= 1.2             # 1 s latency + 0.3 s of ringing
    create = two.wait_event(is_event("CHANNEL_CREATE", Unique_ID=leg))
    assert fired(create) >= sent + 0.9
    leg = str(uuidlib.uuid4())
    sent = time.time()
    job = one.bgapi("originate {origination_uuid=%s}user/1001 &park()" % leg)
    assert time.time() - sent < 0.5
    create = two.wait_event(is_event("CHANNEL_CREATE", Unique_ID=leg))
    assert fired(create) >= sent + 0.9
    result = one.wait_event(is_event("BACKGROUND_JOB", Job_UUID=job))
    assert result.body == b"+OK %s\n" % leg.encode()


def test_no_latency_for_commands_not_named(control, clients):
    slow(control, **{"command-latency": {"uuid_bridge": 2.0}})
    one = clients()
    sent = time.time()
    assert one.api("uuid_exists %s" % uuidlib.uuid4()) == b"false"
    assert time.time() - sent < 0.5


# --- late events ------------------------------------------------------------------------------------

def test_event_delay_delivers_every_event_late_and_in_order(control, clients):
    slow(control, **{"event-delay": 1.0})
    one = clients()
    sent = time.time()
    leg = start_call(one)                        # the bgapi reply is not an event: not delayed
    assert time.time() - sent < 0.5
    asked = time.time()
    assert one.api("uuid_exists %s" % leg) == b"true"
    assert time.time() - asked < 0.5
    arrived = []
    while True:
        frame = one.read_frame()
        if frame.is_event:
            event = frame.event()
            arrived.append((time.time(), event))
            if event.name == "CHANNEL_PARK" and event.get("Unique-ID") == leg:
                break
    assert len(arrived) > 5
    late = [t - fired(event) for t, event in arrived]
    assert min(late) >= 0.95, late
    sequence = [int(event.get("Event-Sequence")) for _, event in arrived]
    assert sequence == sorted(sequence)


def test_event_delay_changed_while_events_wait_keeps_their_order(control, clients):
    slow(control, **{"event-delay": 0.8})
    one = clients()
    first = start_call(control)
    slow(control, **{"event-delay": 0.0})
    second = start_call(control)
    created, seen = arrival(one, is_event("CHANNEL_CREATE", Unique_ID=first))
    assert seen - fired(created) >= 0.7          # it was put in the line at 0.8 s
    one.wait_event(is_event("CHANNEL_PARK", Unique_ID=second))
    sequence = [int(event.get("Event-Sequence")) for event in one.history()]
    assert sequence == sorted(sequence)          # the undelayed events waited behind it
    # once the waiting events are out, events are no longer late
    leg = start_call(control)
    create = one.wait_event(is_event("CHANNEL_CREATE", Unique_ID=leg))
    assert time.time() - fired(create) < 0.5


# --- the run-time command ---------------------------------------------------------------------

def test_sim_latency_set_show_clear_and_errors(control):
    assert json.loads(control.api("sim_latency show")) == {
        "command-latency": {}, "event-delay": 0.0}
    slow(control, **{"command-latency": {"uuid_bridge": 2, "sendmsg": 0.05}})
    slow(control, **{"event-delay": 0.25})               # a key not given is left as it was
    assert json.loads(control.api("sim_latency show")) == {
        "command-latency": {"uuid_bridge": 2.0, "sendmsg": 0.05}, "event-delay": 0.25}
    errors = {
        '{"command-latency": {"uuid_bridge": -1}}':
            b"-ERR command-latency.uuid_bridge: expected a number >= 0, got -1\n",
        '{"event-delay": "soon"}': b"-ERR event-delay: expected a number >= 0, got 'soon'\n",
        '{"event-delay": NaN}': b"-ERR event-delay: expected a number >= 0, got nan\n",
        '{"command-latency": [1]}':
            b"-ERR command-latency: expected a mapping of command name -> seconds\n",
        '{"command-latency": {"uuid bridge": 1}}':
            b"-ERR command-latency.uuid bridge: expected an api command name (one word, e.g. "
            b"uuid_bridge) or sendmsg\n",
        '{"bogus": 1}': b"-ERR bogus: unknown key (allowed: command-latency, event-delay)\n",
        '[1]': b"-ERR expected a JSON object\n",
    }
    for payload, reply in errors.items():
        assert control.api("sim_latency set " + payload) == reply
    assert control.api("sim_latency set {").startswith(b"-ERR invalid JSON: ")
    # a command with an error changed nothing
    assert json.loads(control.api("sim_latency show"))["event-delay"] == 0.25
    assert control.api("sim_latency bogus") == b"-USAGE: sim_latency set <json-object> | show " \
        b"| clear\n"
    assert control.api("sim_latency clear") == b"+OK latency cleared\n"
    assert json.loads(control.api("sim_latency show")) == {
        "command-latency": {}, "event-delay": 0.0}


# --- the config file --------------------------------------------------------------------------------

def test_config_latency_is_in_force_from_the_start(tmp_path):
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(dict(WORLD, **{
        "command-latency": {"uuid_exists": 0.5, "sendmsg": 0.05}, "event-delay": 0.2})))
    with SimProcess(path, password="ClueCon") as sim:
        client = connect(sim)
        assert json.loads(client.api("sim_latency show")) == {
            "command-latency": {"uuid_exists": 0.5, "sendmsg": 0.05}, "event-delay": 0.2}
        sent = time.time()
        assert client.api("uuid_exists x") == b"false"
        assert time.time() - sent >= 0.45
        client.close()


@pytest.mark.parametrize("settings, problem", [
    ({"command-latency": {"uuid_bridge": -0.5}},
     "command-latency.uuid_bridge: expected a number >= 0, got -0.5"),
    ({"command-latency": {"uuid_bridge": "2s"}},
     "command-latency.uuid_bridge: expected a number >= 0, got '2s'"),
    ({"command-latency": {"uuid_bridge": True}},
     "command-latency.uuid_bridge: expected a number >= 0, got True"),
    ({"command-latency": {"a b": 1}},
     "command-latency.a b: expected an api command name (one word, e.g. uuid_bridge) or sendmsg"),
    ({"command-latency": 2.0}, "command-latency: expected a mapping of command name -> seconds"),
    ({"event-delay": -1}, "event-delay: expected a number >= 0, got -1"),
    ({"event-delay": float("inf")}, "event-delay: expected a number >= 0, got inf"),
    ({"event_delay": 1}, "event_delay: unknown key (allowed: "),
])
def test_config_errors_name_file_key_and_problem(settings, problem):
    with pytest.raises(ConfigError) as error:
        parse_config(settings, "sim.yaml")
    assert str(error.value).startswith("sim.yaml: " + problem)


def test_config_latency_values():
    config = parse_config({"command-latency": {"uuid_bridge": 2, "sendmsg": 0.05,
                                               "originate": 0}, "event-delay": 0.1})
    assert config.command_latency == {"uuid_bridge": 2.0, "sendmsg": 0.05}   # 0 = none
    assert config.event_delay == 0.1
    assert parse_config({}).command_latency == {} and parse_config({}).event_delay == 0.0


def test_acd_sim_rejects_a_bad_latency_config(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("command-latency:\n  uuid_bridge: -2\n")
    proc = subprocess.run([sys.executable, "-m", "acd", "sim", "--listen", "127.0.0.1:0",
                           "--config", str(path)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"acd sim: {path}: command-latency.uuid_bridge: expected a number >= 0, got -2")


# --- what the bench reads: agent legs bridged or dropped ------------------------------------------

def test_trace_tells_bridged_agent_legs_from_dropped_ones(control, clients):
    one = clients()
    caller = parked(one)
    assert control.api("sim_trace on") == b"+OK tracing\n"
    try:
        legs = []
        for _ in range(2):
            leg = str(uuidlib.uuid4())
            assert one.api("originate {origination_uuid=%s,acd_role=agent,acd_call=%s}"
                           "user/1001 &park()" % (leg, caller)) == b"+OK %s\n" % leg.encode()
            legs.append(leg)
        assert one.api("uuid_bridge %s %s" % (caller, legs[0])).startswith(b"+OK")
        one.wait_event(is_event("CHANNEL_BRIDGE", Unique_ID=caller))
        for leg in legs:
            assert one.api("uuid_kill %s" % leg) == b"+OK\n"
            one.wait_event(is_event("CHANNEL_HANGUP", Unique_ID=leg))
        unanswered = str(uuidlib.uuid4())
        one.bgapi("originate {origination_uuid=%s,acd_role=agent,acd_call=%s}user/1001 &park()"
                  % (unanswered, caller))
        one.wait_event(is_event("CHANNEL_CREATE", Unique_ID=unanswered))
        assert one.api("uuid_kill %s" % unanswered) == b"+OK\n"
        one.wait_event(is_event("CHANNEL_HANGUP", Unique_ID=unanswered))
        records = json.loads(control.api("sim_trace dump"))
    finally:
        control.api("sim_trace off")
    ends = [(kind, uuid) for kind, _, uuid, who, _ in records
            if kind.startswith("agent-") and who == caller]
    assert ends == [("agent-hangup", legs[0]), ("agent-bridged", legs[0]),
                    ("agent-hangup", legs[1]), ("agent-dropped", legs[1]),
                    ("agent-hangup", unanswered)]
