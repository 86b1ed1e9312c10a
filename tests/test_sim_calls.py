"""Call behaviour of the simulator, driven over ESL as one drives FreeSWITCH.

Timeouts, sequential and simultaneous dialling, what happens after a bridge, the bridge and
transfer applications, recordings written as real WAV files, playback timing, run-time users.
Waits are on events; the few timing assertions allow generous margins.
"""

import json
import time
import uuid as uuidlib
import wave

import pytest

from tests.sim_fixtures import esl_fixture, world_fixture
from tests.rawesl import is_event

WORLD = {
    "heartbeat": 3600,
    "users": {"1001": {"answer-after": 0.1}, "1002": {"answer-after": "never"},
              "1003": {"respond": "USER_BUSY"}, "1006": {"answer-after": 0.1, "hangup-after": 0.4},
              "1010": {"registered": False}, "555123": {"answer-after": 0.1}},
    "dialplan": {"5000": [["set", "acd_queue=support"], ["answer"], ["park"]],
                 "5001": [["set", "acd_ivr=main"], ["answer"], ["park"]],
                 "5002": [["answer"], ["park"], ["playback", "ivr/bye.wav"]],
                 "6000": [["answer"], ["bridge", "user/1003|user/1006"], ["playback", "ivr/bye.wav"]],
                 "ringforever": [["ring_ready"], ["sleep", "60000"]],
                 "early": [["pre_answer"], ["park"]]},
    "sounds": {"ivr/*": 0.3, "default": 0.1},
}


world = world_fixture(WORLD, "calls")
esl = esl_fixture()


def job(esl, command, timeout=10):
    job_uuid = esl.bgapi(command)
    event = esl.wait_event(is_event("BACKGROUND_JOB", Job_UUID=job_uuid), timeout)
    return event.body.decode()


def caller(esl, destination="5000"):
    a_leg = job(esl, "originate loopback/%s &park()" % destination).split()[1]
    b_park = esl.wait_event(lambda e: e.name == "CHANNEL_PARK" and
                            e.get("Channel-Name") == "loopback/%s-b" % destination)
    return a_leg, b_park.get("Unique-ID")


def agent(esl, user="1001"):
    agent_uuid = str(uuidlib.uuid4())
    assert job(esl, "originate {origination_uuid=%s}user/%s &park()" % (agent_uuid, user)) == (
        "+OK %s\n" % agent_uuid)
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=agent_uuid))
    return agent_uuid


def timed(esl, command):
    started = time.monotonic()
    result = job(esl, command)
    return result, time.monotonic() - started


# --- timeouts ------------------------------------------------------------------------------

@pytest.mark.parametrize("dialstring, cause, seconds", [
    ("{originate_timeout=2}user/1002", "NO_ANSWER", 2),
    ("[leg_timeout=1]user/1002", "NO_ANSWER", 1),
    ("{leg_timeout=1}loopback/ringforever", "ALLOTTED_TIMEOUT", 1),
    ("[leg_timeout=1]sofia/internal/1002@127.0.0.1", "ALLOTTED_TIMEOUT", 1),
])
def test_timeouts_count_whole_seconds_of_the_wall_clock(esl, dialstring, cause, seconds):
    result, elapsed = timed(esl, "originate %s &park()" % dialstring)
    assert result == "-ERR %s\n" % cause
    assert seconds - 1 <= elapsed <= seconds + 0.5


def test_early_media_completes_an_originate_unless_ignored(esl):
    assert job(esl, "originate loopback/early &park()").startswith("+OK ")
    result, elapsed = timed(esl, "originate {ignore_early_media=true,originate_timeout=1}"
                                 "loopback/early &park()")
    assert result == "-ERR NO_ANSWER\n" and elapsed <= 1.5


# --- dialling ----------------------------------------------------------------------------

def test_sequential_attempts_fall_through_to_the_next(esl):
    result = job(esl, "originate user/1003|user/1010|user/1001 &park()")
    assert result.startswith("+OK ")
    hangups = [e for e in esl.history() if e.name == "CHANNEL_HANGUP"]
    assert [e.get("Hangup-Cause") for e in hangups] == ["USER_BUSY"]
    assert job(esl, "originate user/1003|user/1010 &park()") == "-ERR USER_NOT_REGISTERED\n"


def test_ring_all_losers_hang_up_before_the_job_result(esl):
    first, second = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    result = job(esl, "originate [origination_uuid=%s]user/1001,[origination_uuid=%s]user/1002 "
                      "&park()" % (first, second))
    assert result == "+OK %s\n" % first
    names = [(e.name, e.get("Unique-ID"), e.get("Hangup-Cause")) for e in esl.history()]
    lost = names.index(("CHANNEL_HANGUP", second, "LOSE_RACE"))
    reported = [i for i, n in enumerate(names) if n[0] == "BACKGROUND_JOB"][0]
    assert lost < reported


def test_endpoints_without_a_channel(esl):
    assert job(esl, "originate foo/bar &park()") == "-ERR CHAN_NOT_IMPLEMENTED\n"
    assert job(esl, "originate error/CALL_REJECTED &park()") == "-ERR CALL_REJECTED\n"
    assert job(esl, "originate user/9999 &park()") == "-ERR SUBSCRIBER_ABSENT\n"
    assert not [e for e in esl.history() if e.name == "CHANNEL_CREATE"]


def test_gateway_legs_are_users_keyed_by_number(esl):
    result = job(esl, "originate sofia/gateway/carrier/555123 &park()")
    assert result.startswith("+OK ")
    created = esl.wait_event(is_event("CHANNEL_CREATE", Unique_ID=result.split()[1]))
    assert created.get("Channel-Name") == "sofia/gateway/carrier/555123"
    assert created.get("Caller-Destination-Number") == "555123"
    assert job(esl, "originate sofia/gateway/carrier/999 &park()") == "-ERR UNALLOCATED_NUMBER\n"


def test_originate_to_an_extension_runs_the_dialplan_on_the_answered_leg(esl):
    result = job(esl, "originate user/1001 5000 XML default")
    uid = result.split()[1]
    park = esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=uid))
    assert park.get("variable_acd_queue") == "support"
    assert park.get("Caller-Destination-Number") == "5000"


def test_phone_hangs_up_after_its_talk_time(esl):
    uid = agent(esl, "1006")
    started = time.monotonic()
    hangup = esl.wait_event(is_event("CHANNEL_HANGUP", Unique_ID=uid))
    assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING"
    assert 0.2 <= time.monotonic() - started <= 1.0


# --- after a bridge --------------------------------------------------------------------------

def test_caller_continues_its_dialplan_when_the_agent_hangs_up(esl):
    a_leg, b_leg = caller(esl, "5002")
    other = agent(esl)
    assert esl.api("uuid_bridge %s %s" % (b_leg, other)) == ("+OK %s\n" % other).encode()
    bridge = esl.wait_event(is_event("CHANNEL_BRIDGE", Unique_ID=b_leg))
    assert bridge.get("Bridge-A-Unique-ID") == b_leg and bridge.get("Bridge-B-Unique-ID") == other
    assert bridge.get("Other-Leg-Unique-ID") == other
    esl.api("uuid_kill " + other)
    esl.wait_event(is_event("CHANNEL_UNBRIDGE", Unique_ID=b_leg))
    played = esl.wait_event(is_event("PLAYBACK_START", Unique_ID=b_leg))
    assert played.get("Playback-File-Path") == "ivr/bye.wav"
    hangup = esl.wait_event(is_event("CHANNEL_HANGUP", Unique_ID=b_leg))
    assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING"
    assert len([e for e in esl.history() if e.name == "CHANNEL_BRIDGE"]) == 1


def test_park_after_bridge(esl):
    a_leg, b_leg = caller(esl)
    esl.api("uuid_setvar %s park_after_bridge true" % b_leg)
    other = agent(esl)
    esl.api("uuid_bridge %s %s" % (b_leg, other))
    esl.wait_event(is_event("CHANNEL_BRIDGE", Unique_ID=b_leg))
    esl.api("uuid_kill " + other)
    esl.wait_event(is_event("CHANNEL_UNBRIDGE", Unique_ID=b_leg))
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=b_leg))
    assert esl.api("uuid_exists " + b_leg) == b"true"


def test_killing_the_caller_ends_the_bridged_agent(esl):
    a_leg, b_leg = caller(esl)
    other = agent(esl)
    esl.api("uuid_bridge %s %s" % (b_leg, other))
    esl.wait_event(is_event("CHANNEL_BRIDGE", Unique_ID=b_leg))
    esl.api("uuid_kill " + b_leg)
    for uid in (a_leg, b_leg, other):
        esl.wait_event(is_event("CHANNEL_DESTROY", Unique_ID=uid))


def test_bridge_application_dials_and_continues(esl):
    a_leg, _ = job(esl, "originate loopback/6000 &park()").split()[1], None
    bridge = esl.wait_event(lambda e: e.name == "CHANNEL_BRIDGE")
    assert bridge.get("Channel-Name") == "loopback/6000-b"
    agent_leg = bridge.get("Bridge-B-Unique-ID")
    busy = [e for e in esl.history() if e.name == "CHANNEL_HANGUP"]
    assert [e.get("Hangup-Cause") for e in busy] == ["USER_BUSY"]
    esl.wait_event(is_event("CHANNEL_HANGUP", Unique_ID=agent_leg))
    esl.wait_event(lambda e: e.name == "CHANNEL_UNBRIDGE")
    done = esl.wait_event(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE" and
                          e.get("Application") == "bridge")
    assert done.get("variable_originate_disposition") == "SUCCESS"
    esl.wait_event(lambda e: e.name == "PLAYBACK_STOP" and e.get("Playback-Status") == "done")
    esl.wait_event(is_event("CHANNEL_DESTROY", Unique_ID=a_leg))


def test_transfer_runs_another_extension(esl):
    a_leg, b_leg = caller(esl)
    assert esl.api("uuid_transfer %s 5001" % b_leg) == b"+OK\n"
    esl.wait_event(is_event("CHANNEL_UNPARK", Unique_ID=b_leg))
    park = esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=b_leg))
    assert park.get("variable_acd_ivr") == "main"
    assert park.get("Caller-Destination-Number") == "5001"
    assert esl.api("uuid_transfer %s 9999" % b_leg) == b"+OK\n"
    hangup = esl.wait_event(is_event("CHANNEL_HANGUP", Unique_ID=b_leg))
    assert hangup.get("Hangup-Cause") == "NO_ROUTE_DESTINATION"


# --- media -------------------------------------------------------------------------------

def test_recordings_are_real_wav_files(esl, tmp_path):
    a_leg, b_leg = caller(esl)
    path = tmp_path / "deep" / "dir" / "call.wav"
    assert esl.api("uuid_record %s start %s" % (b_leg, path)) == b"+OK Success\n"
    started = esl.wait_event(is_event("RECORD_START", Unique_ID=b_leg))
    assert started.get("Record-File-Path") == str(path)
    time.sleep(0.5)
    assert esl.api("uuid_record %s stop %s" % (b_leg, path)) == b"+OK Success\n"
    stopped = esl.wait_event(is_event("RECORD_STOP", Unique_ID=b_leg))
    with wave.open(str(path), "rb") as recorded:
        assert (recorded.getframerate(), recorded.getnchannels(), recorded.getsampwidth()) == (
            8000, 1, 2)
        assert 0.4 <= recorded.getnframes() / 8000 <= 1.5
        frames = recorded.getnframes()
    assert stopped.get("variable_record_samples") == str(frames)
    assert stopped.get("variable_record_file_size") == str(path.stat().st_size)
    assert esl.api("uuid_record %s stop %s" % (b_leg, path)).startswith(b"-ERR ")


def test_stereo_recordings_masked_spans_and_deleting_on_the_switch_host(esl, tmp_path):
    """RECORD_STEREO gives two channels; a masked span is digital zero on both; the file exists
    from the start; ``system rm -f -- PATH`` deletes it (+OK whatever it did) and
    ``file_exists`` says so."""
    a_leg, b_leg = caller(esl)
    path = tmp_path / "r" / "stereo.wav"
    assert esl.api("uuid_setvar %s RECORD_STEREO true" % b_leg) == b"+OK\n"
    assert esl.api("uuid_record %s start %s" % (b_leg, path)) == b"+OK Success\n"
    esl.wait_event(is_event("RECORD_START", Unique_ID=b_leg))
    assert path.exists() and esl.api("file_exists %s" % path) == b"true"
    time.sleep(0.3)
    assert esl.api("uuid_record %s mask %s" % (b_leg, path)) == b"+OK Success\n"
    time.sleep(0.3)
    assert esl.api("uuid_record %s unmask %s" % (b_leg, path)) == b"+OK Success\n"
    time.sleep(0.3)
    assert esl.api("uuid_record %s stop %s" % (b_leg, path)) == b"+OK Success\n"
    esl.wait_event(is_event("RECORD_STOP", Unique_ID=b_leg))
    with wave.open(str(path), "rb") as recorded:
        assert recorded.getnchannels() == 2
        frames = recorded.readframes(recorded.getnframes())
    samples = [int.from_bytes(frames[i:i + 2], "little", signed=True)
               for i in range(0, len(frames), 2)]
    assert 0.7 <= len(samples) / 2 / 8000 <= 1.5
    third = len(samples) // 3
    middle = samples[third + 800:2 * third - 800]     # inside the masked span
    assert middle and not any(middle)
    assert any(samples[:third - 800]) and any(samples[2 * third + 800:])
    assert esl.api("system rm -f -- %s" % path) == b"+OK\n"
    assert not path.exists() and esl.api("file_exists %s" % path) == b"false"
    assert esl.api("system") == b"-USAGE: <command>\n"


def test_playback_lasts_as_configured_and_can_be_broken(esl):
    a_leg, b_leg = caller(esl)
    esl.sendmsg(b_leg, "playback", "ivr/welcome.wav")
    start = esl.wait_event(is_event("PLAYBACK_START", Unique_ID=b_leg))
    stop = esl.wait_event(is_event("PLAYBACK_STOP", Unique_ID=b_leg))
    took = int(stop.get("Event-Date-Timestamp")) - int(start.get("Event-Date-Timestamp"))
    assert 250000 <= took <= 1000000 and stop.get("Playback-Status") == "done"
    done = esl.wait_event(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE" and
                          e.get("Application") == "playback")
    assert done.get("Application-Response") == "FILE PLAYED"
    assert esl.api("uuid_broadcast %s local_stream://moh" % b_leg) == b"+OK Message sent\n"
    esl.wait_event(lambda e: e.name == "PLAYBACK_START" and
                   e.get("Playback-File-Path") == "local_stream://moh")
    esl.api("uuid_break " + b_leg)
    stop = esl.wait_event(lambda e: e.name == "PLAYBACK_STOP" and
                          e.get("Playback-File-Path") == "local_stream://moh")
    assert stop.get("Playback-Status") == "break"


def test_dtmf_while_parked_and_digits_dialed(esl):
    a_leg, b_leg = caller(esl)
    assert esl.api("uuid_recv_dtmf %s 1#@500" % b_leg).startswith(b"+OK ")
    digits = [esl.wait_event(is_event("DTMF", Unique_ID=b_leg)) for _ in range(2)]
    assert [d.get("DTMF-Digit") for d in digits] == ["1", "#"]
    assert digits[1].get("DTMF-Duration") == "500" and digits[0].get("DTMF-Source") == "APP"
    assert not [n for n in digits[0].names if n.startswith("variable_")]
    esl.api("uuid_kill " + b_leg)
    complete = esl.wait_event(is_event("CHANNEL_HANGUP_COMPLETE", Unique_ID=b_leg))
    assert complete.get("variable_digits_dialed") == "1#"
    assert complete.get_all("Hangup-Cause") == ["NORMAL_CLEARING", "NORMAL_CLEARING"]


# --- run-time users --------------------------------------------------------------------------

def test_users_added_changed_and_removed_at_run_time(esl):
    reply = esl.api('sim_users {"3001": {"answer-after": 0.1}, "3002": {"respond": "USER_BUSY"}}')
    assert reply == b"+OK set 2 users\n"
    assert job(esl, "originate user/3001 &park()").startswith("+OK ")
    assert job(esl, "originate user/3002 &park()") == "-ERR USER_BUSY\n"
    assert esl.api('sim_user set 3001 {"registered": false}') == b"+OK set 3001\n"
    assert job(esl, "originate user/3001 &park()") == "-ERR USER_NOT_REGISTERED\n"
    listed = json.loads(esl.api("sim_user list"))
    assert listed["3001"]["registered"] is False and listed["1002"]["answer-after"] == "never"
    assert esl.api("sim_user del 3002") == b"+OK deleted 3002\n"
    assert job(esl, "originate user/3002 &park()") == "-ERR SUBSCRIBER_ABSENT\n"
    assert esl.api("sim_user del 3002") == b"-ERR no such user 3002\n"
    assert esl.api("sim_user set 3003 {oops").startswith(b"-ERR invalid JSON")
    assert esl.api('sim_user set 3003 {"respond": "NOPE"}').startswith(b"-ERR user 3003.respond: expected a hangup cause")
    assert esl.api('sim_users {"3004": {}, "3005": {"after": 1}}').startswith(b"-ERR ")
    assert "3004" not in json.loads(esl.api("sim_user list"))  # all or nothing
    subclasses = [e.get("Event-Subclass") for e in esl.history() if e.name == "CUSTOM"]
    assert subclasses.count("sofia::register") == 2 and subclasses.count("sofia::unregister") == 2


def test_show_calls_and_hupall(esl):
    a_leg, b_leg = caller(esl)
    other = agent(esl)
    esl.api("uuid_bridge %s %s" % (b_leg, other))
    esl.wait_event(is_event("CALL_UPDATE", Unique_ID=other))
    calls = json.loads(esl.api("show calls as json"))
    bridged = [row for row in calls["rows"] if row["b_uuid"]]
    assert bridged[0]["uuid"] == b_leg and bridged[0]["b_uuid"] == other
    assert esl.api("show channels count") == b"\n3 total.\n"
    assert esl.api("uuid_hold " + other) == b"+OK Success\n"
    assert esl.api("hupall NORMAL_CLEARING") == (
        b"+OK hangup all channels with cause NORMAL_CLEARING\n")
    for uid in (a_leg, b_leg, other):
        esl.wait_event(is_event("CHANNEL_DESTROY", Unique_ID=uid))
    assert esl.api("show channels as json") == b'{"row_count": 0}\n'
