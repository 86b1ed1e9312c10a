"""Untrusted values through acd's command builders, read back the way FreeSWITCH 1.10 reads them.

acd.esl.commands escapes; acd.sim.fsparse is the simulator's independent re-implementation of
FreeSWITCH's string cutting (checked against real captures below). A value must come out exactly
as it went in -- apart from the few documented replacements for what FreeSWITCH cannot carry
({ } become ( ), NUL and other C0 controls but TAB/LF/CR are dropped, ":_:" and
"mod_event_socket" are broken up) -- and never close the block, add a variable or a leg.
"""

import pytest

from acd.esl import commands as c
from acd.sim import fsparse

from tests.test_esl_commands import PAYLOADS, UUID


def expected(value, braces=True):
    """What FreeSWITCH ends up with; ``braces``: the value sat inside a {...} block."""
    value = "".join(ch for ch in value if ch in "\t\n\r" or not (ord(ch) < 32 or ord(ch) == 127))
    if braces:
        value = value.replace("{", "(").replace("}", ")")
    value = value.replace(":_:", ":_ :")
    return value.replace("mod_event_socket", "mod_event-socket")


def read_originate(command):
    """argv of the originate API, then the dial string's variables and legs."""
    assert command.startswith("originate ")
    argv = fsparse.separate_string(command[len("originate "):], " ", 10)
    global_vars, attempts = fsparse.parse_dial_string(argv[0])
    return argv, dict(global_vars), attempts


# -- the simulator's reading matches real FreeSWITCH captures -------------------------------------

def test_fsparse_reads_the_captured_caller_names_like_freeswitch():
    # special_values.sent -> the channel had origination_caller_id_name = Anna Müller, 100% #1: vip@home
    sent = ("{origination_caller_id_number=+4930123456,origination_caller_id_name='Anna Müller\\, 100% "
            "#1: vip@home'}loopback/5000 &park()")
    argv = fsparse.separate_string(sent, " ", 10)
    assert argv[1] == "&park()" and len(argv) == 2
    variables, attempts = fsparse.parse_dial_string(argv[0])
    assert dict(variables)["origination_caller_id_name"] == "Anna Müller, 100% #1: vip@home"
    assert attempts == [[("loopback/5000", [])]]
    # special_values_quoted_comma.sent: single quotes do not protect the comma
    sent = sent.replace("\\,", ",")
    variables, _ = fsparse.parse_dial_string(fsparse.separate_string(sent, " ", 10)[0])
    assert dict(variables)["origination_caller_id_name"] == "Anna Müller"


def test_fsparse_leg_blocks_and_separators():
    variables, attempts = fsparse.parse_dial_string(
        "{ignore_early_media=true}[origination_uuid=A,x=1]user/1001,[origination_uuid=B]user/1002|user/1003")
    assert variables == [("ignore_early_media", "true")]
    assert attempts == [[("user/1001", [("origination_uuid", "A"), ("x", "1")]),
                         ("user/1002", [("origination_uuid", "B")])],
                        [("user/1003", [])]]
    assert fsparse.enterprise_parts("<a=1>user/1:_:user/2") == ([("a", "1")], ["user/1", "user/2"])
    assert fsparse.parse_app_target("&park()") == ("park", "")
    assert fsparse.parse_app_target("&foo(a(b))x") == ("foo", "a(b")


def test_fsparse_separate_string_rules():
    assert fsparse.separate_string("a,,b", ",") == ["a", "", "b"]
    assert fsparse.separate_string("a,", ",") == ["a"]
    assert fsparse.separate_string("a  b", " ") == ["a", "b"]
    assert fsparse.separate_string("a b c d", " ", 2) == ["a", "b c d"]
    assert fsparse.separate_string("x\\,y,z", ",") == ["x,y", "z"]
    assert fsparse.separate_string("x\\$y", ",") == ["x\\$y"]           # unknown escape kept
    assert fsparse.separate_string("\\s lead\\s", ",") == ["  lead "]     # escaped blanks kept
    assert fsparse.separate_string("'a b' c", " ") == ["a b", "c"]
    assert fsparse.separate_string("^^:a:b", ",") == ["a", "b"]
    assert fsparse.separate_string("a=b=c", "=", 2) == ["a", "b=c"]


# -- acd's builders survive it ----------------------------------------------------------------------

@pytest.mark.parametrize("payload", PAYLOADS)
def test_caller_id_in_originate_comes_out_intact(payload):
    dial = c.dial_string(["user/1001"], {"origination_caller_id_name": payload,
                                         "origination_uuid": UUID, "acd_role": "agent"})
    argv, variables, attempts = read_originate(c.originate(dial))
    assert argv[1:] == ["&park()"]
    assert set(variables) == {"origination_caller_id_name", "origination_uuid", "acd_role"}
    assert variables["acd_role"] == "agent" and variables["origination_uuid"] == UUID
    assert variables["origination_caller_id_name"] == expected(payload)
    assert attempts == [[("user/1001", [])]]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_in_every_variable_of_a_ring_all(payload):
    legs = [c.leg("user/1001", {"origination_uuid": UUID}), c.leg("user/1002", {"acd_agent": "1002"})]
    dial = c.dial_string(legs, {"origination_caller_id_name": payload,
                                "origination_caller_id_number": payload, "acd_skills": payload})
    argv, variables, attempts = read_originate(c.originate(dial))
    assert variables == {k: expected(payload) for k in
                         ("origination_caller_id_name", "origination_caller_id_number", "acd_skills")}
    assert attempts == [[("user/1001", [("origination_uuid", UUID)]),
                         ("user/1002", [("acd_agent", "1002")])]]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_api_argument_comes_out_intact(payload):
    command = c.uuid_setvar(UUID, "acd_caller_name", payload)
    argv = fsparse.separate_string(command, " ", 4)  # uuid_setvar: cmd, uuid, name, value(rest)
    assert argv[:3] == ["uuid_setvar", UUID, "acd_caller_name"]
    assert argv[3] == expected(payload, braces=False)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_app_argument_of_originate(payload):
    if ")" in payload:
        pytest.raises(c.UnsafeValue, c.originate, "user/1001", "playback", payload)
        return
    command = c.originate("user/1001", "playback", payload)
    argv = fsparse.separate_string(command[len("originate "):], " ", 10)
    assert len(argv) == 2
    assert fsparse.parse_app_target(argv[1]) == ("playback", expected(payload, braces=False))


def test_wider_scope_wins_unless_local_var_clobber():
    from acd.sim.dialstring import parse_dialstring
    [[leg]] = parse_dialstring("{foo=one}[foo=two,bar=1]user/1001")
    assert leg.variables == {"foo": "one", "bar": "1"}
    [[leg]] = parse_dialstring("{local_var_clobber=true,foo=one}[foo=two]user/1001")
    assert leg.variables["foo"] == "two"
