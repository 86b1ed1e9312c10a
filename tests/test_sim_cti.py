"""Call-control behaviour of the simulator beyond what the captures recorded: the edges of hold,
transfer, the bridge application, recording, eavesdrop, the simulator-only ``sim_call`` and
``sim_dtmf``, and the regular-expression dialplan. Driven over ESL; waits are on events.
"""

import json
import uuid as uuidlib

import pytest

from tests.rawesl import is_event
from tests.sim_fixtures import esl_fixture, world_fixture

WORLD = {
    "heartbeat": 3600,
    "users": {"1001": {"answer-after": 0.1}, "1003": {"respond": "USER_BUSY"},
              "1004": {"respond": "CALL_REJECTED"}},
    "dialplan": {"5000": [["set", "acd_queue=support"], ["answer"], ["park"]],
                 "5003": [["set", "acd_queue=sales"], ["answer"], ["park"]],
                 "7000": [["answer"], ["set", "continue_on_fail=true"], ["bridge", "user/1003"],
                          ["playback", "ivr/after.wav"]],
                 "7001": [["answer"], ["bridge", "user/1004"], ["playback", "ivr/after.wav"]],
                 "7002": [["answer"], ["transfer", "5003 XML default"]],
                 "9000": [["answer"], ["park"]],
                 "^9(\\d+)$": [["set", "matched=yes"], ["answer"], ["park"]]},
    "sounds": {"default": 0.1},
}

world = world_fixture(WORLD, "cti-edges")
esl = esl_fixture()


def job(esl, command):
    job_uuid = esl.bgapi(command)
    return esl.wait_event(is_event("BACKGROUND_JOB", Job_UUID=job_uuid)).body.decode()


def caller(esl, destination="5000"):
    a_leg = job(esl, "originate loopback/%s &park()" % destination).split()[1]
    b_leg = esl.wait_event(lambda e: e.name == "CHANNEL_PARK" and
                           e.get("Channel-Name") == "loopback/%s-b" % destination)
    return a_leg, b_leg.get("Unique-ID")


def agent(esl):
    uid = str(uuidlib.uuid4())
    assert job(esl, "originate {origination_uuid=%s}user/1001 &park()" % uid) == "+OK %s\n" % uid
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=uid))
    return uid


def bridged(esl):
    a_leg, b_leg = caller(esl)
    agent_leg = agent(esl)
    assert esl.api("uuid_bridge %s %s" % (b_leg, agent_leg)).startswith(b"+OK")
    esl.wait_event(is_event("CALL_UPDATE", Unique_ID=agent_leg, Direction="SEND"))
    return a_leg, b_leg, agent_leg


def gone(esl, uid):
    esl.wait_event(is_event("CHANNEL_STATE", Unique_ID=uid, Channel_State="CS_DESTROY"))


# --- hold ------------------------------------------------------------------------------------

def test_hold_music_stops_when_the_holding_agent_hangs_up(esl):
    a_leg, b_leg, agent_leg = bridged(esl)
    assert esl.api("uuid_hold " + agent_leg) == b"+OK Success\n"
    esl.wait_event(is_event("PLAYBACK_START", Unique_ID=b_leg))
    esl.api("uuid_kill " + agent_leg)
    stop = esl.wait_event(is_event("PLAYBACK_STOP", Unique_ID=b_leg))
    assert stop.get("Playback-Status") == "break"
    esl.wait_event(is_event("CHANNEL_UNBRIDGE", Unique_ID=b_leg))
    gone(esl, b_leg)


def test_hold_music_comes_from_the_held_legs_hold_music_variable(esl):
    a_leg, b_leg, agent_leg = bridged(esl)
    esl.api("uuid_setvar %s hold_music silence_stream://-1" % agent_leg)
    esl.api("uuid_hold toggle " + agent_leg)
    start = esl.wait_event(is_event("PLAYBACK_START", Unique_ID=b_leg))
    assert start.get("Playback-File-Path") == "silence_stream://-1"
    assert esl.api("uuid_hold toggle " + agent_leg) == b"+OK Success\n"
    esl.wait_event(is_event("CHANNEL_UNHOLD", Unique_ID=agent_leg))
    assert esl.api("uuid_hold") == b"-USAGE: [off|toggle] <uuid> [<display>]\n"


def test_unhold_before_the_music_started_leaves_no_playback(esl):
    a_leg, b_leg, agent_leg = bridged(esl)
    esl.api("uuid_hold " + agent_leg)
    esl.api("uuid_hold off " + agent_leg)
    esl.api("uuid_kill " + b_leg)
    gone(esl, b_leg)
    assert not [e for e in esl.history() if e.name == "PLAYBACK_START"]


# --- transfer --------------------------------------------------------------------------------

def test_transfer_replies_and_both_legs(esl):
    assert esl.api("uuid_transfer " + str(uuidlib.uuid4())) == b"-ERR No such channel!\n"
    a_leg, b_leg, agent_leg = bridged(esl)
    assert esl.api("uuid_transfer " + b_leg) == (
        b"-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n")
    assert esl.api("uuid_transfer %s -both 5003" % b_leg) == b"+OK\n"
    for uid in (b_leg, agent_leg):
        park = esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=uid))
        assert park.get("Caller-Destination-Number") == "5003"
        assert park.get("variable_acd_queue") == "sales"


def test_the_transfer_application_and_max_forwards(esl):
    job(esl, "originate loopback/7002 &park()")
    park = esl.wait_event(lambda e: e.name == "CHANNEL_PARK" and
                          e.get("Channel-Name") == "loopback/7002-b")
    b_leg = park.get("Unique-ID")
    assert (park.get("Caller-Destination-Number"), park.get("Caller-RDNIS"),
            park.get("variable_max_forwards")) == ("5003", "7002", "70")
    assert esl.api("uuid_transfer %s 9000" % b_leg) == b"+OK\n"
    park = esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=b_leg))
    assert (park.get("Caller-Destination-Number"), park.get("variable_max_forwards")) == (
        "9000", "69")
    assert park.get("variable_transfer_history").count("bl_xfer") == 2


def test_exact_extension_wins_and_a_pattern_sets_dp_match(esl):
    a_leg, b_leg = caller(esl, "9000")
    assert esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=a_leg)).get("variable_DP_MATCH") is None
    esl.api("uuid_transfer %s 9123" % b_leg)
    park = esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=b_leg))
    assert park.get("variable_DP_MATCH") == "ARRAY::9123|:123"
    assert park.get("variable_matched") == "yes"
    esl.api("uuid_transfer %s 9123 XML public" % b_leg)
    hangup = esl.wait_event(is_event("CHANNEL_HANGUP", Unique_ID=b_leg))
    assert hangup.get("Hangup-Cause") == "NO_ROUTE_DESTINATION"


# --- the bridge application ------------------------------------------------------------------

@pytest.mark.parametrize("destination, cause, status, continues", [
    ("7000", "USER_BUSY", "BUSY", True),
    ("7001", "CALL_REJECTED", "DONTCALL", False),
])
def test_a_failed_bridge_hangs_up_unless_continue_on_fail(esl, destination, cause, status,
                                                          continues):
    esl.bgapi("originate loopback/%s &park()" % destination)
    done = esl.wait_event(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE" and
                          e.get("Application") == "bridge")
    assert (done.get("variable_originate_disposition"), done.get("variable_DIALSTATUS"),
            done.get("variable_last_bridge_hangup_cause")) == (cause, status, cause)
    b_leg = done.get("Unique-ID")
    if continues:
        esl.wait_event(is_event("PLAYBACK_STOP", Unique_ID=b_leg))
    hangup = esl.wait_event(is_event("CHANNEL_HANGUP", Unique_ID=b_leg))
    assert hangup.get("Hangup-Cause") == ("NORMAL_CLEARING" if continues else cause)
    esl.wait_event(lambda e: e.name == "CHANNEL_DESTROY" and
                   e.get("Channel-Name") == "loopback/%s-a" % destination)


# --- recording, eavesdrop --------------------------------------------------------------------

def test_record_replies_without_a_recording(esl, tmp_path):
    a_leg, b_leg = caller(esl)
    path = tmp_path / "x.wav"
    for action, reply in (("mask", b"-ERR Cannot mask recording session!\n"),
                          ("unmask", b"-ERR Cannot unmask recording session!\n"),
                          ("pause", b"-ERR Cannot pause recording session!\n"),
                          ("resume", b"-ERR Cannot resume recording session!\n"),
                          ("stop", b"-ERR Cannot stop record session!\n")):
        assert esl.api("uuid_record %s %s %s" % (b_leg, action, path)) == reply, action
    assert esl.api("uuid_record %s rewind %s" % (b_leg, path)).startswith(b"-USAGE: ")
    assert not path.exists()


def test_eavesdrop_ends_when_the_target_hangs_up(esl):
    a_leg, b_leg, agent_leg = bridged(esl)
    supervisor = str(uuidlib.uuid4())
    job(esl, "originate {origination_uuid=%s}user/1001 &eavesdrop(%s)" % (supervisor, agent_leg))
    esl.wait_event(is_event("MEDIA_BUG_START", Unique_ID=agent_leg))
    esl.api("uuid_kill " + agent_leg)
    done = esl.wait_event(is_event("CHANNEL_EXECUTE_COMPLETE", Unique_ID=supervisor))
    assert (done.get("Application"), done.get("Application-Response")) == ("eavesdrop", "_none_")
    hangup = esl.wait_event(is_event("CHANNEL_HANGUP", Unique_ID=supervisor))
    assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING"


# --- simulator-only: sim_call, sim_dtmf ------------------------------------------------------

@pytest.mark.parametrize("spec, error", [
    ("not json", "-ERR expected a JSON object"),
    ('{"from": "1000"}', "-ERR to: expected a SIP user part"),
    ('{"from": "10 00", "to": "5000"}', "-ERR from: expected a SIP user part"),
    ('{"from": "1000", "to": "5000", "colour": 1}', "-ERR unknown key colour"),
    ('{"from": "1000", "to": "5000", "name": "Eve\\r\\nX-Evil: 1"}', "-ERR name: expected one"),
    ('{"from": "1000", "to": "5000", "headers": {"X-A": "b\\nX-B: c"}}', "-ERR headers: "),
    ('{"from": "1000", "to": "5000", "headers": {"X-A: b": "c"}}', "-ERR headers: "),
    ('{"from": "1000", "to": "5000", "headers": {"Via": "c"}}', "-ERR headers: "),
    ('{"from": "1000", "to": "5000", "hangup-after": 0}', "-ERR hangup-after: expected"),
])
def test_sim_call_refuses_what_could_break_a_header(esl, spec, error):
    assert esl.api("sim_call " + spec).decode().startswith(error)
    assert esl.api("show channels count") == b"\n0 total.\n"


def test_sim_call_values_are_data_and_an_unknown_destination_has_no_route(esl):
    parked = {"from": "1000", "to": "5000", "uuid": str(uuidlib.uuid4())}
    assert esl.api("sim_call " + json.dumps(parked)) == ("+OK %s\n" % parked["uuid"]).encode()
    assert esl.api("sim_call " + json.dumps(parked)).startswith(b"-ERR uuid: ")
    spec = {"from": "1000", "to": "4711", "name": "Eve\" <sip:x>", "uuid": str(uuidlib.uuid4()),
            "headers": {"X-Acd-Note": "Event-Name: CHANNEL_HANGUP %0A"}}
    assert esl.api("sim_call " + json.dumps(spec)) == ("+OK %s\n" % spec["uuid"]).encode()
    hangup = esl.wait_event(is_event("CHANNEL_HANGUP", Unique_ID=spec["uuid"]))
    assert (hangup.get("Hangup-Cause"), hangup.get("Channel-State")) == (
        "NO_ROUTE_DESTINATION", "CS_ROUTING")
    assert hangup.get("Caller-Caller-ID-Name") == spec["name"]
    assert hangup.get("variable_sip_h_X-Acd-Note") == "Event-Name: CHANNEL_HANGUP \n"
    assert hangup.names.count("Event-Name") == 1


def test_sim_dtmf_from_a_phone_outside_a_bridge(esl):
    a_leg, b_leg = caller(esl)
    agent_leg = agent(esl)
    usage = b"-USAGE: sim_dtmf <uuid> <digits> [info|rfc2833] [<ms>]\n"
    assert esl.api("sim_dtmf " + agent_leg) == usage
    assert esl.api("sim_dtmf %s 1 smoke" % agent_leg) == usage
    assert esl.api("sim_dtmf %s 1x" % agent_leg) == b"-ERR invalid DTMF digits 1x\n"
    assert esl.api("sim_dtmf %s 1" % uuidlib.uuid4()) == b"-ERR No such channel!\n"
    assert esl.api("sim_dtmf %s 1" % b_leg) == ("-ERR %s is not a SIP leg\n" % b_leg).encode()
    assert esl.api("sim_dtmf %s #1 info 100" % agent_leg) == (
        "+OK %s phone sent DTMF #1 by info\n" % agent_leg).encode()
    info = esl.wait_event(is_event("RECV_INFO", Unique_ID=agent_leg))
    assert info.body == b"Signal=#\r\nDuration=100\r\n"
    assert info.get("SIP-Content-Type") == "application/dtmf-relay"
    digits = [esl.wait_event(is_event("DTMF", Unique_ID=agent_leg)) for _ in "#1"]
    assert [(d.get("DTMF-Digit"), d.get("DTMF-Duration"), d.get("DTMF-Source"))
            for d in digits] == [("#", "800", "ENDPOINT"), ("1", "800", "ENDPOINT")]
    assert [e for e in esl.history() if e.name == "RECV_INFO"][1].body.startswith(b"Signal=1")
    assert not [e for e in esl.history() if e.name == "DTMF" and e.get("Unique-ID") != agent_leg]


# --- repeated headers ------------------------------------------------------------------------

def test_headers_repeated_as_freeswitch_repeats_them(esl):
    a_leg, b_leg = caller(esl)
    esl.api("uuid_broadcast %s tone_stream://%%(100,0,800)" % b_leg)
    command = esl.wait_event(is_event("PRIVATE_COMMAND", Unique_ID=b_leg))
    assert command.get_all("Event-Name") == ["COMMAND", "PRIVATE_COMMAND"]
    esl.api("uuid_kill " + b_leg)
    done = esl.wait_event(is_event("CHANNEL_HANGUP_COMPLETE", Unique_ID=b_leg))
    assert done.get_all("Hangup-Cause") == ["NORMAL_CLEARING", "NORMAL_CLEARING"]
    agent(esl)
    codec = [e for e in esl.history() if e.name == "CODEC"
             and e.get("Event-Calling-Function") == "switch_core_session_set_write_codec"][-1]
    assert codec.names.count("Channel-Write-Codec-Name") == 2
