"""The simulator's protocol pieces, without a process: encoding, framing, parsing, config.

Expected values come from the real captures in tests/data where they exist.
"""

import json
import pathlib

import pytest

from acd.sim import wire
from acd.sim.config import ConfigError, load_config, parse_config, validate_user
from acd.sim.dialstring import USAGE, UsageError, parse_dialstring, parse_originate
from acd.sim.event import Event, Identity
from tests.rawesl import read_frames

DATA = pathlib.Path(__file__).parent / "data"


# --- URL encoding (captures special_values*) ---------------------------------------------

@pytest.mark.parametrize("raw, encoded", [
    (" ", "%20"), (":", "%3A"), ("@", "%40"), ("#", "%23"), (";", "%3B"), ("=", "%3D"),
    ("&", "%26"), ("+", "%2B"), ("?", "%3F"), ('"', "%22"), ("<", "%3C"), (">", "%3E"),
    ("[", "%5B"), ("]", "%5D"), ("{", "%7B"), ("}", "%7D"), ("|", "%7C"), ("\\", "%5C"),
    ("^", "%5E"), ("`", "%60"), ("ü", "%C3%BC"), ("\n", "%0A"), ("\r", "%0D"),
    (",'~/()*!-._", ",'~/()*!-._"), ("k%l", "k%25l"), ("100%", "100%25"),
    ("line1%0Aline2", "line1%0Aline2"), ("%0a", "%250a"), ("", "_undef_"),
])
def test_url_encoding(raw, encoded):
    assert wire.url_encode(raw) == encoded


def _captured_raw_values(name):
    for frame in read_frames((DATA / (name + ".recv")).read_bytes()):
        if frame.is_event:
            event = frame.event()
            if event.name == "CHANNEL_HANGUP" and event.get("Channel-Name") == "loopback/5000-b":
                return dict(event.raw_headers), dict(event.headers)


def test_url_encoding_matches_captured_bytes():
    raw, decoded = _captured_raw_values("special_values")
    for header in ("Caller-Caller-ID-Name", "variable_acd_chars", "variable_acd_name",
                   "variable_acd_test", "variable_current_application_data"):
        assert wire.url_encode(decoded[header]) == raw[header], header
    # the literal text %0A and a real newline look the same on the wire
    assert raw["variable_acd_test"] == wire.url_encode("line1\nline2") == "line1%0Aline2"


# --- frames ------------------------------------------------------------------------------

def test_frames_put_content_length_where_freeswitch_does():
    assert wire.api_response("+OK\n") == b"Content-Type: api/response\nContent-Length: 4\n\n+OK\n"
    assert wire.api_response("") == b"Content-Type: api/response\nContent-Length: 14\n\n-ERR no reply\n"
    assert wire.event_frame("plain", b"x") == (
        b"Content-Length: 1\nContent-Type: text/event-plain\n\nx")
    assert wire.command_reply("+OK") == b"Content-Type: command/reply\nReply-Text: +OK\n\n"
    assert wire.job_reply("u") == (
        b"Content-Type: command/reply\nReply-Text: +OK Job-UUID: u\nJob-UUID: u\n\n")
    captured = (DATA / "handshake.recv").read_bytes()
    assert captured.endswith(wire.command_reply("+OK bye") + wire.DISCONNECT_NOTICE)
    assert captured.startswith(wire.AUTH_REQUEST)


def test_event_body_is_nested_after_a_final_content_length():
    body = wire.serialize_plain([("Event-Name", "BACKGROUND_JOB"), ("Job-Command", "status")],
                                "+OK é\n")
    assert body == ("Event-Name: BACKGROUND_JOB\nJob-Command: status\nContent-Length: 7\n\n"
                    "+OK é\n").encode()
    assert wire.serialize_plain([("A", "b c")]) == b"A: b%20c\n\n"


def test_json_and_xml_serialisation():
    headers = [("Event-Name", "X"), ("Hangup-Cause", "A"), ("Hangup-Cause", "B"),
               ("v", "line1\nline2 ü")]
    text = wire.serialize_json(headers, "body").decode()
    assert text.startswith('{"Event-Name":"X","Hangup-Cause":"A","Hangup-Cause":"B"')
    assert json.loads(text) == {"Event-Name": "X", "Hangup-Cause": "B",
                                "v": "line1\nline2 ü", "Content-Length": "4", "_body": "body"}
    xml = wire.serialize_xml([("Event-Name", "X"), ("v", "a<b")]).decode()
    assert "<Event-Name>X</Event-Name>" in xml and "<v>a%3Cb</v>" in xml


def test_an_event_is_rendered_once_per_format():
    event = Event("HEARTBEAT", [("Event-Name", "HEARTBEAT")])
    assert event.frame("plain") is event.frame("plain")
    assert event.frame("json").startswith(b"Content-Length: ")
    assert b"text/event-json" in event.frame("json")


def test_standard_headers_lead_every_event():
    ident = Identity(hostname="fs1", clock=lambda: 1795763644.399354)
    names = [name for name, _ in ident.standard_headers("HEARTBEAT")]
    captured = [f.event() for f in read_frames((DATA / "heartbeat.recv").read_bytes())
                if f.is_event][0]
    assert names == captured.names[:13]
    values = dict(ident.standard_headers("HEARTBEAT"))
    assert values["Event-Date-Timestamp"] == "1795763644399354"
    assert values["Event-Date-GMT"] == "Fri, 27 Nov 2026 07:14:04 GMT"
    assert values["Event-Calling-Function"] == "send_heartbeat"
    assert int(values["Event-Sequence"]) == 2


# --- reading commands --------------------------------------------------------------------

def test_command_reader_ignores_cr_and_blank_lines():
    reader = wire.CommandReader()
    reader.feed(b"\r\n\nauth ClueCon\r\n\r\napi status\n\nbgapi originate x\nJob-UUID: j\n")
    commands = list(reader.commands())
    assert [c.line for c in commands] == ["auth ClueCon", "api status"]
    reader.feed(b"\n")
    job = list(reader.commands())[0]
    assert job.line == "bgapi originate x" and job.header("job-uuid") == "j"


def test_command_reader_takes_a_body_by_content_length():
    """special_values.sent: the 18-byte body has no newline; the next command follows it."""
    reader = wire.CommandReader()
    sent = (DATA / "special_values.sent").read_bytes()
    reader.feed(sent[:sent.index(b"acd_nl=") + 5])
    lines = [c.line for c in reader.commands()]
    assert lines[-1].startswith("api uuid_setvar")
    reader.feed(sent[sent.index(b"acd_nl=") + 5:])
    commands = list(reader.commands())
    sendmsg = commands[0]
    assert sendmsg.line.startswith("sendmsg ") and sendmsg.body == b"acd_nl=line1\nline2"
    assert sendmsg.headers[-2:] == [("content-type", "text/plain"), ("Content-Length", "18")]
    assert commands[1].line.startswith("api uuid_getvar")


def test_command_reader_waits_for_a_whole_block():
    reader = wire.CommandReader()
    for byte in b"api status\n":
        reader.feed(bytes([byte]))
        assert list(reader.commands()) == []
    reader.feed(b"\n")
    assert [c.line for c in reader.commands()] == ["api status"]


# --- dial strings --------------------------------------------------------------------------

def test_caller_names_are_cut_as_in_the_captures():
    comma = parse_originate("{origination_caller_id_number=+4930123456,origination_caller_id_name="
                            "'Anna Müller\\, 100% #1: vip@home'}loopback/5000 &park()")
    leg = comma.attempts[0][0]
    assert leg.endpoint == "loopback/5000" and comma.app == "park" and comma.app_arg == ""
    assert leg.variables["origination_caller_id_name"] == "Anna Müller, 100% #1: vip@home"
    quoted = parse_originate("{origination_caller_id_name='Anna Müller, 100% #1: vip@home'}"
                             "loopback/5000 &park()")
    assert quoted.attempts[0][0].variables["origination_caller_id_name"] == "Anna Müller"


def test_legs_attempts_and_variables():
    attempts = parse_dialstring("{ignore_early_media=true,originate_timeout=10}"
                                "[origination_uuid=A]user/1001,[origination_uuid=B]user/1002"
                                "|sofia/gateway/gw/123")
    assert [[leg.endpoint for leg in attempt] for attempt in attempts] == [
        ["user/1001", "user/1002"], ["sofia/gateway/gw/123"]]
    first = attempts[0][0].variables
    assert list(first) == ["origination_uuid", "ignore_early_media", "originate_timeout"]
    assert attempts[1][0].variables == {"ignore_early_media": "true", "originate_timeout": "10"}
    enterprise = parse_dialstring("<a=1>user/1001:_:{b=2}user/1002")
    assert [leg.endpoint for leg in enterprise[0]] == ["user/1001", "user/1002"]
    assert enterprise[0][1].variables == {"b": "2", "a": "1"}


def test_originate_targets_and_usage():
    request = parse_originate("user/1001 5000 XML default Alice 1234 7")
    assert (request.exten, request.dialplan, request.context, request.cid_name,
            request.cid_number, request.timeout) == ("5000", "XML", "default", "Alice", "1234", 7)
    assert parse_originate("user/1001 &playback(ivr/hello.wav)").app_arg == "ivr/hello.wav"
    for bad in ("", "user/1001", "a b c d e f g h"):
        with pytest.raises(UsageError) as usage:
            parse_originate(bad)
        assert str(usage.value) == USAGE


# --- config ------------------------------------------------------------------------------

def test_default_config_is_the_documented_world():
    config = load_config(None)
    assert config.password == "ClueCon" and config.heartbeat == 20
    assert config.users["1002"].answer_after is None
    assert config.users["1004"].registered is False
    assert config.users["1005"].respond == "CALL_REJECTED" and config.users["1005"].after == 0.5
    assert config.dialplan["5000"] == [("set", "acd_queue=support"), ("answer", ""), ("park", "")]
    assert config.sound_seconds("ivr/welcome.wav") == 2.0
    assert config.sound_seconds("moh.wav") == 1.0


@pytest.mark.parametrize("data, message", [
    ({"pasword": "x"}, "sim.yaml: pasword: unknown key"),
    ({"heartbeat": 0}, "sim.yaml: heartbeat: expected a number > 0"),
    ({"users": {"1001": {"answer-after": "soon"}}}, "sim.yaml: users.1001.answer-after: expected"),
    ({"users": {"1001": {"respond": "BUSY"}}}, "sim.yaml: users.1001.respond: expected a hangup"),
    ({"users": {"1001": {"colour": "red"}}}, "sim.yaml: users.1001.colour: unknown key"),
    ({"users": {"1001": {"after": 1}}}, "sim.yaml: users.1001.after: only meaningful"),
    ({"users": {"1001": {"registered": "no"}}}, "sim.yaml: users.1001.registered: expected"),
    ({"dialplan": {"5000": "park"}}, "sim.yaml: dialplan.5000: expected a non-empty list"),
    ({"dialplan": {"5000": [[1, 2, 3]]}}, "sim.yaml: dialplan.5000[0]: expected"),
    ({"dialplan": {"^(5": [["park"]]}}, "sim.yaml: dialplan.^(5: invalid regular expression"),
    ({"sounds": {"default": "long"}}, "sim.yaml: sounds.default: expected a number"),
])
def test_config_errors_name_file_key_and_problem(data, message):
    with pytest.raises(ConfigError) as error:
        parse_config(data, "sim.yaml")
    assert str(error.value).startswith(message)


def test_config_file_errors(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml: cannot read"):
        load_config(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("users: [")
    with pytest.raises(ConfigError, match="broken.yaml: invalid YAML"):
        load_config(broken)


def test_run_time_user_validation():
    assert validate_user({"answer-after": "never"}).answer_after is None
    assert validate_user({}).registered is True
    with pytest.raises(ConfigError, match="^user: give either answer-after or respond"):
        validate_user({"answer-after": 1, "respond": "USER_BUSY"})
