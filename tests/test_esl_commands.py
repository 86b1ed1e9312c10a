"""Command builders: untrusted values (caller ID, SIP headers, DTMF) stay data.

These tests check the shape of what goes on the wire. tests/test_injection.py sends the same
payloads through the simulator, which parses commands the way FreeSWITCH 1.10 does, and checks
the variables that come out.
"""

import re

import pytest

from acd.esl import commands as c
from acd.esl.commands import UnsafeValue

UUID = "0d0e9e4c-aaaa-4bbb-8ccc-dddddddddddd"

#: Payloads a caller can put in a caller ID name or a SIP header.
PAYLOADS = [
    "Anna Müller, 100% #1: vip@home",
    "x,acd_role=admin",
    "x}user/1002,loopback/9999 &park()",
    "x]evil=1",
    "O'Brien",
    "a'b,c=d'",
    "line1\nline2\n\napi hupall",
    "line1%0Aline2",
    "tab\there\rcr",
    "back\\slash\\,comma\\",
    "${system rm -rf /}",
    "a:_:loopback/1",
    "unload mod_event_socket",
    "  padded  ",
    "=",
    "'",
    "|pipe|",
    "^^:x=y",
]


def unescaped(text, char):
    """Positions of ``char`` not preceded by an odd number of backslashes."""
    hits, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == char:
            hits.append(i)
        i += 1
    return hits


@pytest.mark.parametrize("payload", PAYLOADS)
def test_originate_variable_block_keeps_its_shape(payload):
    dial = c.dial_string(["user/1001"], {"origination_caller_id_name": payload,
                                         "origination_uuid": UUID, "acd_role": "agent"})
    command = c.originate(dial)
    assert "\n" not in command and "\r" not in command and "\x00" not in command
    # exactly one {...} block at the front, closed right before the endpoint
    assert command.count("{") == 1 and command.count("}") == 1
    assert command.startswith("originate {") and "}user/1001 &park()" in command
    # the API's blank split (backslash skips a byte, quote toggles) sees exactly three words
    assert unescaped(command, "'") == []
    assert command.split(" ")[0] == "originate" and len(unescaped(command, " ")) == 2
    assert ":_:" not in command
    assert not re.search("mod_event_socket", command, re.I)


def test_plain_values_are_left_readable():
    dial = c.dial_string("user/1001", {"origination_uuid": UUID, "originate_timeout": 15,
                                       "ignore_early_media": True,
                                       "origination_caller_id_name": "Erika Mustermann"})
    assert dial == ("{origination_uuid=" + UUID + ",originate_timeout=15,ignore_early_media=true,"
                    "origination_caller_id_name=Erika\\sMustermann}user/1001")


def test_ring_all_and_hunt_dial_strings():
    legs = [c.leg("user/1001", {"origination_uuid": UUID}), c.leg("user/1002")]
    assert c.dial_string(legs, {"ignore_early_media": True}) == (
        "{ignore_early_media=true}[origination_uuid=" + UUID + "]user/1001,user/1002")
    assert c.dial_string(["user/1001", "user/1002"], sequential=True) == "user/1001|user/1002"


@pytest.mark.parametrize("value", ["a,b", "a]b", "a b", "x'y", "a|b", "a\nb", "${x}"])
def test_per_leg_values_refuse_anything_but_identifiers(value):
    with pytest.raises(UnsafeValue):
        c.leg("user/1001", {"acd_caller": value})


@pytest.mark.parametrize("endpoint", ["user/1001 &park()", "user/1001,user/1002", "user/1\n",
                                      "{a=b}user/1", "user/1001|user/1002", "nope", "user/"])
def test_endpoints_are_validated(endpoint):
    with pytest.raises(UnsafeValue):
        c.dial_string([endpoint])


def test_variable_names_are_validated():
    for name in ["a,b", "a=b", "a b", "a}", "", "1abc"]:
        with pytest.raises(UnsafeValue):
            c.dial_string("user/1001", {name: "x"})


def test_app_argument_cannot_close_the_parenthesis():
    with pytest.raises(UnsafeValue):
        c.originate("user/1001", "playback", "a) &hangup(")
    assert c.originate("user/1001", "playback", "ivr/hello world.wav") == \
        "originate user/1001 &playback(ivr/hello\\sworld.wav)"


def parse_sendmsg(raw):
    """Read a sendmsg the way mod_event_socket does: header lines to the blank line, then
    Content-Length bytes of body. Returns (command line, headers, body, rest)."""
    head, _, rest = raw.partition(b"\n\n")
    lines = head.decode().split("\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    body = b""
    if "Content-Length" in headers:
        n = int(headers["Content-Length"])
        body, rest = rest[:n], rest[n:]
    return lines[0], headers, body, rest


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sendmsg_argument_cannot_add_headers_or_commands(payload):
    raw = c.sendmsg_execute(UUID, "set", f"acd_caller_name={payload}", event_uuid=UUID)
    first, headers, body, rest = parse_sendmsg(raw)
    assert first == f"sendmsg {UUID}" and rest == b""
    assert set(headers) <= {"call-command", "execute-app-name", "execute-app-arg", "Event-UUID",
                            "content-type", "Content-Length"}
    assert headers["call-command"] == "execute" and headers["execute-app-name"] == "set"
    arg = headers.get("execute-app-arg", body.decode())
    assert arg.startswith("acd_caller_name=")


def test_sendmsg_multiline_argument_travels_as_a_body_counted_in_bytes():
    raw = c.sendmsg_execute(UUID, "set", "acd_nl=Müller\nline2")
    _, headers, body, rest = parse_sendmsg(raw)
    assert "execute-app-arg" not in headers
    assert headers["content-type"] == "text/plain"
    assert int(headers["Content-Length"]) == len("acd_nl=Müller\nline2".encode()) == len(body)
    assert body.decode() == "acd_nl=Müller\nline2" and rest == b""


def test_sendmsg_keeps_variable_references_literal_unless_asked():
    raw = c.sendmsg_execute(UUID, "set", "acd_x=${hangup_cause}")
    assert b"execute-app-arg: acd_x=\\${hangup_cause}\n" in raw
    raw = c.sendmsg_execute(UUID, "playback", "${sounds}/x.wav", expand=True)
    assert b"execute-app-arg: ${sounds}/x.wav\n" in raw
    raw = c.sendmsg_execute(UUID, "play_and_get_digits", "1 1 3 5000 # a.wav b.wav acd_choice \\d 2000")
    assert b"acd_choice \\\\d 2000\n" in raw  # expansion turns \\d back into \d


def test_sendmsg_hangup():
    assert c.sendmsg_hangup(UUID, "NORMAL_CLEARING") == (
        f"sendmsg {UUID}\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n").encode()
    with pytest.raises(UnsafeValue):
        c.sendmsg_hangup(UUID, "NORMAL_CLEARING\nx: y")


@pytest.mark.parametrize("digits", ["1\n", "1 2", "12;uuid_kill x", "", "1" * 200, "%0A"])
def test_dtmf_is_validated(digits):
    with pytest.raises(UnsafeValue):
        c.uuid_recv_dtmf(UUID, digits)


def test_dtmf_valid():
    assert c.uuid_recv_dtmf(UUID, "123#*") == f"uuid_recv_dtmf {UUID} 123#*"


@pytest.mark.parametrize("bad", ["x y", "x\n", "", "a;b", "{x}", "../x", "x'y"])
def test_uuids_are_validated(bad):
    for build in (c.uuid_kill, c.uuid_break, c.uuid_exists, c.uuid_answer, c.uuid_park,
                  lambda u: c.uuid_bridge(u, UUID), lambda u: c.uuid_bridge(UUID, u),
                  lambda u: c.uuid_getvar(u, "x"), lambda u: c.uuid_setvar(u, "x", "y")):
        with pytest.raises(UnsafeValue):
            build(bad)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_api_arguments_stay_one_argument(payload):
    command = c.uuid_setvar(UUID, "acd_caller_name", payload)
    assert "\n" not in command and "\r" not in command
    assert len(unescaped(command, " ")) == 3
    assert unescaped(command, "'") == []


def test_uuid_commands():
    assert c.uuid_kill(UUID, "ORIGINATOR_CANCEL") == f"uuid_kill {UUID} ORIGINATOR_CANCEL"
    assert c.uuid_bridge(UUID, UUID) == f"uuid_bridge {UUID} {UUID}"
    assert c.uuid_broadcast(UUID, "local_stream://moh") == f"uuid_broadcast {UUID} local_stream://moh aleg"
    assert c.uuid_break(UUID, all_=True) == f"uuid_break {UUID} all"
    assert c.uuid_record(UUID, "start", "/var/lib/acd/recordings/x.wav") == \
        f"uuid_record {UUID} start /var/lib/acd/recordings/x.wav"
    assert c.uuid_transfer(UUID, "1999") == f"uuid_transfer {UUID} 1999 XML default"
    assert c.uuid_hold(UUID, off=True) == f"uuid_hold off {UUID}"
    with pytest.raises(UnsafeValue):
        c.uuid_kill(UUID, "NORMAL_CLEARING all")


def test_event_socket_unload_guard():
    with pytest.raises(UnsafeValue):
        c.check_command("api originate {x=Unload}user/1 &echo(MOD_EVENT_SOCKET)")
    assert c.check_command("api status") == "api status"
    dial = c.dial_string("user/1001", {"origination_caller_id_name": "reload mod_event_socket"})
    c.check_command(c.originate(dial))  # the builder already broke the magic word up


def test_event_and_filter_commands():
    assert c.event_command(["CHANNEL_PARK", "BACKGROUND_JOB"], ["sofia::register"]) == \
        "event plain BACKGROUND_JOB CHANNEL_PARK CUSTOM sofia::register"
    assert c.filter_command("Unique-ID", UUID) == f"filter Unique-ID {UUID}"
    with pytest.raises(UnsafeValue):
        c.filter_command("Unique-ID", "x\nexit")
    with pytest.raises(UnsafeValue):
        c.event_command(["CHANNEL_PARK\nexit"])


def test_play_and_get_digits_builder_keeps_each_argument_one_word():
    raw = c.play_and_get_digits(UUID, 1, 1, 5000, "none", "ivr/welcome.wav", "ivr/bad.wav",
                                "acd_ivr_digits", "[12*#]", 2000, event_uuid="app-1")
    assert b"execute-app-arg: 1 1 1 5000 none ivr/welcome.wav ivr/bad.wav acd_ivr_digits " \
           b"[12*#] 2000\n" in raw
    assert b"Event-UUID: app-1\n" in raw
    assert b" ^[0-9]{4,10}$ " in c.play_and_get_digits(UUID, 4, 10, 5000, "#", "p.wav", "b.wav",
                                                      "v", "^[0-9]{4,10}$", 2000)
    for bad in ("my file.wav", "x${y}", "a'b", "a\\b", "", "a\nb"):
        with pytest.raises(c.UnsafeValue):
            c.play_and_get_digits(UUID, 1, 1, 5000, "none", bad, "b.wav", "v", ".", 2000)
    with pytest.raises(c.UnsafeValue):
        c.play_and_get_digits(UUID, 1, 1, 5000, "none", "a.wav", "b.wav", "v x", ".", 2000)


def test_uuid_unsetvar():
    assert c.uuid_unsetvar(UUID, "acd_ivr") == f"uuid_setvar {UUID} acd_ivr"


#: The display name of the sip_caller_hostile capture, as FreeSWITCH reported it (backslash kept).
HOSTILE_NAME = "Eve, } ] ' \\\" % ^ Boss"


def test_display_name_is_safe_for_a_sip_from_header():
    assert c.display_name(HOSTILE_NAME) == "Eve, ' % ^ Boss"
    assert c.display_name("Anna Müller, 100% #1: vip@home") == "Anna Müller, 100% #1: vip@home"
    assert c.display_name("O'Brien") == "O'Brien"
    assert c.display_name(' Eve\r\nInjected: 1 ') == "Eve Injected: 1"
    assert c.display_name('<sip:x@y> "quoted" [a]{b}') == "sip:x@y quoted a b"
    assert c.display_name("${system rm}") == "$ system rm"
    assert len(c.display_name("x" * 500)) == c.DISPLAY_NAME_LIMIT
    for hostile in PAYLOADS + [HOSTILE_NAME]:
        shown = c.display_name(hostile)
        assert not set(shown) & set('"\\<>{}[]'), hostile
        assert all(ord(ch) >= 32 and ord(ch) != 127 for ch in shown), hostile


def test_phone_number_keeps_only_what_a_number_holds():
    assert c.phone_number("+4930123456") == "+4930123456"
    assert c.phone_number("+49 (30) 123-45.6") == "+4930123456"
    assert c.phone_number("*31#0049") == "*31#0049"
    assert c.phone_number("") == ""
    for bad in ("sip:1000@127.0.0.1", "Eve", "1000}", "12+34", "1\n2", "0" * 40, HOSTILE_NAME):
        assert c.phone_number(bad) == c.ANONYMOUS_NUMBER, bad


def test_an_empty_contact_is_refused_not_a_crash():
    # found by the property-based run: "" in "{[" is True in Python
    for bad in ("", " ", "{", "[x=1"):
        with pytest.raises(c.UnsafeValue):
            c.parse_contact(bad)
