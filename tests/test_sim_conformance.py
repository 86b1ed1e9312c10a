"""The simulator against real FreeSWITCH 1.10.12 captures (tests/data, see its README).

Each test drives the simulator the way the capture drove FreeSWITCH (same commands, same dial
strings) and compares, leg by leg, what both emitted:

* the sequence of event names on each leg (a leg is identified by its Channel-Name);
* for every event, the header names and their order (``variable_*`` headers folded into one
  marker: their position is checked, their names separately);
* the values that must not differ (Event-Calling-*, states, answer state, causes,
  applications, ...);
* the set of ``variable_*`` names, except SIP/RTP variables that a simulated phone cannot have
  (``SIP_ONLY``, the one explicit allowance) -- and their exact order where FreeSWITCH's order
  is modelled (``ordered=True``);
* the API / BACKGROUND_JOB stream, and the job results.

Documented, deliberate difference: the loopback A leg of a *bridged* call is not compared leg by
leg in agent_answer/recording/show_channels -- whether it fires CHANNEL_HANGUP before or after
leaving park differs between real recordings (thread timing); its sequence is checked in
caller_park, dtmf_ivr, abandon_while_ringing and special_values.
"""

import json
import time
import uuid as uuidlib

import pytest

from tests.sim_fixtures import esl_fixture, world_fixture
from tests.rawesl import connect, is_event, read_frames
from tests.sim_compare import DATA, assert_scenario, capture_events

#: The world of the captures (tests/data/README.md), with shorter delays.
WORLD = {
    "password": "ClueCon", "heartbeat": 3600,
    "users": {"1001": {"answer-after": 0.3}, "1002": {"answer-after": "never"},
              "1003": {"respond": "USER_BUSY"}, "1004": {"respond": "CALL_REJECTED", "after": 0.3},
              "1010": {"registered": False}},
    "dialplan": {"5000": [["set", "acd_queue=support"], ["answer"], ["park"]],
                 "5001": [["set", "acd_ivr=main"], ["answer"], ["park"]],
                 "ringforever": [["ring_ready"], ["sleep", "60000"]],
                 "agent_busy": [["hangup", "USER_BUSY"]],
                 "agent_reject": [["sleep", "200"], ["hangup", "CALL_REJECTED"]]},
    "sounds": {"default": 0.2},
}

CALLER = ("{origination_caller_id_number=+4930123456,"
          "origination_caller_id_name='Erika Mustermann'}loopback/DEST &park()")
AGENT = ("{origination_uuid=%s,originate_timeout=10,ignore_early_media=true,acd_role=agent}"
         "user/%s &park()")


# --- driving ---------------------------------------------------------------------------------

world = world_fixture(WORLD, "world")
esl = esl_fixture(hang_up_after=False)


def job_result(esl, job_uuid, timeout=15):
    event = esl.wait_event(lambda e: e.name == "BACKGROUND_JOB" and e.get("Job-UUID") == job_uuid,
                           timeout)
    return event.body.decode()


def destroyed(esl, *uuids):
    for uid in uuids:
        esl.wait_event(is_event("CHANNEL_STATE", Unique_ID=uid, Channel_State="CS_DESTROY"))


def park_caller(esl, destination="5000", dialstring=CALLER):
    result = job_result(esl, esl.bgapi("originate " + dialstring.replace("DEST", destination)))
    a_leg = result.split()[1]
    b_leg = esl.wait_event(lambda e: e.name == "CHANNEL_PARK" and
                           e.get("Channel-Name") == "loopback/%s-b" % destination)
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=a_leg))
    return a_leg, b_leg.get("Unique-ID")


def answered_agent(esl, user="1001"):
    agent = str(uuidlib.uuid4())
    assert job_result(esl, esl.bgapi("originate " + AGENT % (agent, user))) == "+OK %s\n" % agent
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=agent))
    return agent


def bridged_call(esl):
    a_leg, b_leg = park_caller(esl)
    agent = answered_agent(esl)
    assert esl.api("uuid_bridge %s %s" % (b_leg, agent)) == ("+OK %s\n" % agent).encode()
    esl.wait_event(is_event("CALL_UPDATE", Unique_ID=agent))
    return a_leg, b_leg, agent


# --- scenarios -------------------------------------------------------------------------------

def test_caller_park(esl):
    a_leg, b_leg = park_caller(esl)
    rows = json.loads(esl.api("show channels as json"))
    assert {row["uuid"] for row in rows["rows"]} >= {a_leg, b_leg}
    assert esl.api("uuid_broadcast %s local_stream://moh aleg" % b_leg) == b"+OK Message sent\n"
    esl.wait_event(is_event("PLAYBACK_START", Unique_ID=b_leg))
    assert esl.api("uuid_break " + b_leg) == b"+OK\n"
    esl.wait_event(is_event("PRIVATE_COMMAND", Unique_ID=b_leg))
    esl.sendmsg(b_leg, "playback", "local_stream://moh", event_uuid=str(uuidlib.uuid4()))
    esl.wait_event(is_event("PLAYBACK_START", Unique_ID=b_leg))
    assert esl.api("uuid_break %s all" % b_leg) == b"+OK\n"
    esl.wait_event(is_event("PRIVATE_COMMAND", Unique_ID=b_leg))
    assert esl.api("uuid_kill " + b_leg) == b"+OK\n"
    destroyed(esl, a_leg, b_leg)
    assert_scenario("caller_park", esl.history(), ordered=True)


def test_agent_answer(esl):
    a_leg, b_leg, agent = bridged_call(esl)
    esl.api("uuid_kill " + agent)  # the captured phone sent BYE instead
    destroyed(esl, a_leg, b_leg, agent)
    events = [e for e in esl.history() if e.get("API-Command") != "uuid_kill"]
    assert_scenario("agent_answer", events, skip=("loopback/5000-a",))


@pytest.mark.parametrize("name, user, result", [
    ("agent_busy", "1003", "-ERR USER_BUSY\n"),
    ("agent_reject", "1004", "-ERR CALL_REJECTED\n"),
    ("agent_unregistered", "1010", "-ERR USER_NOT_REGISTERED\n"),
    ("agent_unknown_user", "9999", "-ERR SUBSCRIBER_ABSENT\n"),
])
def test_agent_failures(esl, name, user, result):
    agent = str(uuidlib.uuid4())
    assert job_result(esl, esl.bgapi("originate " + AGENT % (agent, user))) == result
    if user in ("1003", "1004"):
        destroyed(esl, agent)
    assert_scenario(name, esl.history())


def test_ring_all(esl):
    first, second = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    job = esl.bgapi("originate {ignore_early_media=true,originate_timeout=10}"
                    "[origination_uuid=%s]user/1001,[origination_uuid=%s]user/1002 &park()"
                    % (first, second))
    assert job_result(esl, job) == "+OK %s\n" % first
    destroyed(esl, second)
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=first))
    esl.api("uuid_kill " + first)
    destroyed(esl, first)
    events = [e for e in esl.history() if e.get("API-Command") != "uuid_kill"]
    assert_scenario("ring_all", events)


def test_abandon_while_ringing(esl):
    a_leg, b_leg = park_caller(esl)
    agent = str(uuidlib.uuid4())
    job = esl.bgapi("originate {origination_uuid=%s,originate_timeout=20,ignore_early_media=true,"
                    "acd_role=agent}user/1002 &park()" % agent)
    esl.wait_event(is_event("CHANNEL_CALLSTATE", Unique_ID=agent, Channel_Call_State="RINGING"))
    assert esl.api("uuid_kill " + b_leg) == b"+OK\n"
    destroyed(esl, a_leg, b_leg)
    assert esl.api("uuid_kill %s ORIGINATOR_CANCEL" % agent) == b"+OK\n"
    assert job_result(esl, job) == "-ERR ORIGINATOR_CANCEL\n"
    destroyed(esl, agent)
    assert_scenario("abandon_while_ringing", esl.history(), ordered=True)


def test_dtmf_ivr(esl):
    a_leg, b_leg = park_caller(esl, "5001")
    esl.sendmsg(b_leg, "play_and_get_digits", "1 1 3 5000 # tone_stream://%(200,0,800) "
                "silence_stream://250 acd_choice \\d 2000", event_uuid=str(uuidlib.uuid4()))
    esl.wait_event(is_event("PLAYBACK_STOP", Unique_ID=b_leg))
    reply = esl.api("uuid_recv_dtmf %s 2" % b_leg)
    assert reply == ("+OK %s received DTMF 2.\n" % b_leg).encode()
    done = esl.wait_event(is_event("CHANNEL_EXECUTE_COMPLETE", Unique_ID=b_leg,
                                   Application="play_and_get_digits"))
    assert done.get("variable_read_result") == "success" and done.get("variable_acd_choice") == "2"
    esl.wait_event(is_event("PRIVATE_COMMAND", Unique_ID=b_leg))
    esl.sendmsg(b_leg, "play_and_get_digits", "1 1 1 1000 # tone_stream://%(200,0,800) "
                "silence_stream://250 acd_choice2 \\d 500", event_uuid=str(uuidlib.uuid4()))
    esl.wait_event(is_event("PRIVATE_COMMAND", Unique_ID=b_leg))
    esl.api("uuid_kill " + b_leg)
    destroyed(esl, a_leg, b_leg)
    assert_scenario("dtmf_ivr", esl.history(), ordered=True)


def test_recording(esl, tmp_path):
    a_leg, b_leg, agent = bridged_call(esl)
    test, session, hangup = (str(tmp_path / n) for n in ("rec-test.wav", "rec-session.wav",
                                                          "rec-hangup.wav"))
    assert esl.api("uuid_record %s start %s" % (b_leg, test)) == b"+OK Success\n"
    time.sleep(0.3)
    assert esl.api("uuid_record %s stop %s" % (b_leg, test)) == b"+OK Success\n"
    for app in ("record_session", "stop_record_session"):
        esl.sendmsg(b_leg, app, session, event_uuid=str(uuidlib.uuid4()))
        esl.wait_event(is_event("PRIVATE_COMMAND", Unique_ID=b_leg))
    esl.api("uuid_record %s start %s" % (b_leg, hangup))
    esl.api("uuid_kill " + agent)
    destroyed(esl, a_leg, b_leg, agent)
    assert_scenario("recording", esl.history(), skip=("loopback/5000-a",))
    causes = [e.get("Record-Completion-Cause") for e in esl.history() if e.name == "RECORD_STOP"]
    assert causes == ["success-maxtime", "success-maxtime", "success-silence"]


@pytest.mark.parametrize("name, caller_name, expected", [
    ("special_values", "'Anna Müller\\, 100% #1: vip@home'", "Anna Müller, 100% #1: vip@home"),
    ("special_values_quoted_comma", "'Anna Müller, 100% #1: vip@home'", "Anna Müller"),
])
def test_special_values(esl, name, caller_name, expected):
    dialstring = ("{origination_caller_id_number=+4930123456,origination_caller_id_name=%s}"
                  % caller_name) + "loopback/DEST &park()"
    a_leg, b_leg = park_caller(esl, dialstring=dialstring)
    esl.api("uuid_setvar %s acd_test line1%%0Aline2" % b_leg)
    esl.api("uuid_setvar %s acd_name Müller" % b_leg)
    esl.api("uuid_setvar %s acd_chars a b:c@d#e,f;g=h&i+j?k%%l\"m'n<o>p[q]r{s}t|u\\v^w`x~y"
            % b_leg)
    reply = esl.command("sendmsg " + b_leg, [("call-command", "execute"),
                                             ("execute-app-name", "set"),
                                             ("Event-UUID", str(uuidlib.uuid4())),
                                             ("content-type", "text/plain")],
                        body=b"acd_nl=line1\nline2")
    assert reply.header("Reply-Text") == "+OK"
    esl.wait_event(is_event("PRIVATE_COMMAND", Unique_ID=b_leg))
    assert esl.api("uuid_getvar %s acd_nl" % b_leg) == b"line1\nline2"
    assert esl.api("uuid_getvar %s acd_name" % b_leg) == "Müller".encode()
    dump = json.loads(esl.api("uuid_dump %s json" % b_leg))
    assert dump["Caller-Caller-ID-Name"] == expected
    assert dump["variable_acd_test"] == "line1%0Aline2"
    assert dump["variable_acd_nl"] == "line1\nline2"
    esl.api("uuid_dump " + b_leg)
    esl.api("show channels as json")
    esl.api("uuid_kill " + b_leg)
    destroyed(esl, a_leg, b_leg)
    assert_scenario(name, esl.history(), ordered=True)
    assert_raw_values_as_captured(name, esl.history(), b_leg)


def assert_raw_values_as_captured(name, simulated, b_leg):
    """The encoded bytes of the special values are the captured bytes."""
    def raw(events, uid):
        for event in events:
            if event.name == "CHANNEL_HANGUP" and event.get("Unique-ID") == uid:
                return dict(event.raw_headers)
    real_b = [e for e in capture_events(name) if e.get("Channel-Name") == "loopback/5000-b"]
    real = raw(real_b, real_b[0].get("Unique-ID"))
    sim = raw(simulated, b_leg)
    for header in ("Caller-Caller-ID-Name", "variable_acd_test", "variable_acd_name",
                   "variable_acd_chars", "variable_acd_nl", "variable_origination_caller_id_name"):
        assert sim[header] == real[header], header


def test_show_channels(esl):
    a_leg, b_leg, agent = bridged_call(esl)
    replies = {query: esl.api(query) for query in (
        "show channels as json", "show calls as json", "show bridged_calls as json",
        "show channels count")}
    esl.api("uuid_kill " + b_leg)
    destroyed(esl, a_leg, b_leg, agent)
    assert_scenario("show_channels", esl.history(), skip=("loopback/5000-a",))
    real = [f.body for f in read_frames((DATA / "show_channels.recv").read_bytes())
            if f.content_type == "api/response"][1:5]
    assert replies["show channels count"] == real[3] == b"\n3 total.\n"
    for query, captured in zip(list(replies)[:3], real[:3]):
        mine, theirs = json.loads(replies[query]), json.loads(captured)
        assert mine["row_count"] == theirs["row_count"], query
        for row, real_row in zip(mine["rows"], theirs["rows"]):
            assert list(row) == list(real_row), query
            for key in ("direction", "name", "state", "cid_name", "cid_num", "dest",
                        "application", "callstate", "callee_name", "callee_num",
                        "callee_direction", "presence_id", "read_codec", "b_name", "b_state"):
                assert row.get(key) == real_row.get(key), (query, key)


def test_loopback_agent_failures(esl):
    results, gone = [], set()
    for dialstring in ("{originate_timeout=2}loopback/ringforever",
                       "{leg_timeout=2}loopback/ringforever", "loopback/agent_busy",
                       "loopback/agent_reject", "user/1010", "user/9999", "error/USER_BUSY",
                       "{originate_timeout=2}user/1010"):
        results.append(job_result(esl, esl.bgapi("originate %s &park()" % dialstring)))
        created = {e.get("Unique-ID") for e in esl.history() if e.name == "CHANNEL_CREATE"}
        destroyed(esl, *(created - gone))
        gone |= created
    assert results == ["-ERR NO_ANSWER\n", "-ERR ALLOTTED_TIMEOUT\n", "-ERR USER_BUSY\n",
                       "-ERR CALL_REJECTED\n", "-ERR USER_NOT_REGISTERED\n",
                       "-ERR SUBSCRIBER_ABSENT\n", "-ERR USER_BUSY\n",
                       "-ERR USER_NOT_REGISTERED\n"]
    assert_scenario("loopback_agent_failures", esl.history())


def test_heartbeat(sim_factory):
    sim = sim_factory(heartbeat=1)
    esl = connect(sim, events="ALL")
    beat = esl.wait_event(is_event("HEARTBEAT"), timeout=5)
    schedule = esl.wait_event(is_event("RE_SCHEDULE"), timeout=5)
    real = {e.name: e for e in capture_events("heartbeat")}
    for mine, theirs in ((beat, real["HEARTBEAT"]), (schedule, real["RE_SCHEDULE"])):
        assert mine.names == theirs.names
        for key in ("Event-Calling-File", "Event-Calling-Function", "Event-Calling-Line-Number",
                    "Event-Info", "FreeSWITCH-Version", "Max-Sessions", "Task-Desc",
                    "Task-Group", "Task-ID"):
            assert mine.get(key) == theirs.get(key), key
    assert int(schedule.get("Task-Runtime")) - int(beat.get("Event-Date-Timestamp")) // 10**6 <= 2
    esl.close()
