"""The simulator against the 2026-12 captures of a real FreeSWITCH 1.10.12 (tests/data,
CAPTURES-README.md, second half): hold, blind transfer, click-to-dial, eavesdrop, recording with
consent (mask/pause, DTMF in a bridge), announcements in a bridge, hostile SIP caller values.

Each test drives the simulator as the capture drove FreeSWITCH (the commands of NAME.sent) and
compares leg by leg as test_sim_conformance.py does (tests/sim_compare.py). Allowances, each
named where it is made:

* the phones of these captures were on ports 5171-5180 (the simulator's on 5071-5080): legs are
  grouped by channel name without the port;
* thread timing (both orders are in real recordings): where a re-INVITE's answer lands around
  CHANNEL_UNHOLD; whether the B leg of uuid_bridge shows CS_CONSUME_MEDIA before
  CS_EXCHANGE_MEDIA;
* the vanilla dialplan evaluates ``${module_exists(mod_enum)}`` on its way to the catch-all (an
  API event); the simulator's dialplan has no conditions;
* the loopback A leg of a bridged caller is compared only for its DTMF (as in
  test_sim_conformance.py, its hangup order is timing).
"""

import re
import time
import uuid as uuidlib
import wave

import pytest

from tests.rawesl import Event, is_event
from tests.sim_compare import assert_scenario, capture_events
from tests.sim_fixtures import esl_fixture, world_fixture

#: The world of these captures (CAPTURES-README.md, "2026-12"), with shorter delays.
WORLD = {
    "password": "ClueCon", "heartbeat": 3600,
    "users": {"1001": {"answer-after": 0.3}, "1002": {"answer-after": 0.3},
              "1003": {"respond": "USER_BUSY"}, "1006": {"answer-after": 0.3},
              "1010": {"answer-after": 0.2}, "1011": {"registered": False}},
    "dialplan": {"5000": [["set", "acd_queue=support"], ["answer"], ["park"]],
                 "5002": [["set", "acd_queue=support"], ["set", "acd_skills=billing:5"],
                          ["answer"], ["park"]],
                 "5003": [["set", "acd_queue=sales"], ["answer"], ["park"]],
                 # the vanilla default context's tod_example (it was a weekday) + catch-all
                 "^(.*)$": [["set", "open=true"], ["acknowledge_call"], ["ring_ready"],
                            ["playback", "local_stream://moh"]]},
    "sounds": {"default": 0.4},
}
CALLER = ("originate {origination_caller_id_number=+4930123456,"
          "origination_caller_id_name='Erika Mustermann'}loopback/5000 &park()")
AGENT = ("originate {origination_uuid=%s,originate_timeout=10,ignore_early_media=true,"
         "acd_role=agent}user/%s &park()")

world = world_fixture(WORLD, "cti")
esl = esl_fixture(hang_up_after=False)


def leg_name(name):
    return re.sub(r":\d+$", "", name)


def new_uuid():
    return str(uuidlib.uuid4())


def job(esl, command, timeout=15):
    job_uuid = esl.bgapi(command)
    event = esl.wait_event(is_event("BACKGROUND_JOB", Job_UUID=job_uuid), timeout)
    return event.body.decode()


def destroyed(esl, *uuids):
    for uid in uuids:
        esl.wait_event(is_event("CHANNEL_STATE", Unique_ID=uid, Channel_State="CS_DESTROY"))


def bridged_call(esl, user="1001"):
    a_leg = job(esl, CALLER).split()[1]
    b_leg = esl.wait_event(lambda e: e.name == "CHANNEL_PARK" and
                           e.get("Channel-Name") == "loopback/5000-b").get("Unique-ID")
    agent = new_uuid()
    assert job(esl, AGENT % (agent, user)) == "+OK %s\n" % agent
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=agent))
    assert esl.api("uuid_bridge %s %s" % (b_leg, agent)) == ("+OK %s\n" % agent).encode()
    esl.wait_event(is_event("CALL_UPDATE", Unique_ID=agent))
    return a_leg, b_leg, agent


def compare(name, esl, skip=(), keys=(), captured=None, ordered=True):
    assert_scenario(name, simulated(esl), skip=skip, keys=keys, leg_name=leg_name,
                    captured=captured, ordered=ordered)


def simulated(esl):
    """What the simulator emitted, without the API events of its own commands (sim_call,
    sim_dtmf): they stand for what a real phone did, which fires no API event."""
    return [e for e in esl.history() if not (e.name == "API" and
                                             e.get("API-Command", "").startswith("sim_"))]


# --- allowances ------------------------------------------------------------------------------

def _with(event, **values):
    """A copy of a captured event with some header values replaced."""
    copy = Event(b"")
    copy.headers = [(n, values.get(n.replace("-", "_"), v)) for n, v in event.headers]
    copy.raw_headers, copy.body = event.raw_headers, event.body
    return copy


def unhold_in_api_order(events):
    """CALLSTATE UNHELD -> ACTIVE before CHANNEL_UNHOLD, as the simulator (and the capture's
    second unhold) has it; the re-INVITE's answer can also land after CHANNEL_UNHOLD."""
    out = list(events)
    for i, event in enumerate(out):
        if (event.name == "CHANNEL_CALLSTATE" and event.get("Channel-Call-State") == "ACTIVE"
                and event.get("Original-Channel-Call-State") == "UNHELD"
                and out[i - 1].name == "API" and out[i - 2].name == "CHANNEL_UNHOLD"):
            unhold = out[i - 2]
            out[i - 2:i + 1] = [event, _with(unhold, Channel_Call_State="ACTIVE"), out[i - 1]]
            held = [j for j in range(i - 2) if out[j].name == "CHANNEL_CALLSTATE"
                    and out[j].get("Channel-Call-State") == "UNHELD"][-1]
            out.insert(held + 1, out.pop(i - 2))
    return out


def without_consume_media(events):
    """uuid_bridge's B leg may show CS_CONSUME_MEDIA before CS_EXCHANGE_MEDIA (thread timing)."""
    return [e for e in events if not (e.name == "CHANNEL_STATE"
                                      and e.get("Channel-State") == "CS_CONSUME_MEDIA"
                                      and e.get("Channel-Call-State") == "ACTIVE")]


def without_dialplan_conditions(events):
    return [e for e in events if not (e.name == "API"
                                      and e.get("API-Command") == "module_exists")]


# --- scenarios -------------------------------------------------------------------------------

def test_hold_unhold(esl):
    a_leg, b_leg, agent = bridged_call(esl)
    held = (b"+OK Success\n", b"-ERR Operation failed\n")
    assert esl.api("uuid_hold " + agent) == held[0]
    esl.wait_event(is_event("PLAYBACK_START", Unique_ID=b_leg))
    assert esl.api("uuid_hold " + agent) == held[1]
    assert esl.api("uuid_hold off " + agent) == held[0]
    assert esl.api("uuid_hold off " + agent) == held[1]
    assert esl.api("uuid_hold toggle " + agent) == held[0]
    esl.wait_event(is_event("PLAYBACK_START", Unique_ID=b_leg))
    assert esl.api("uuid_hold toggle " + agent) == held[0]
    assert esl.api("uuid_hold " + b_leg) == held[0]
    esl.wait_event(is_event("PLAYBACK_START", Unique_ID=agent))
    assert esl.api("uuid_hold off " + b_leg) == held[1]
    assert esl.api("uuid_hold off " + new_uuid()) == held[0]
    assert esl.api("uuid_hold toggle " + new_uuid()) == held[0]
    esl.api("uuid_kill " + agent)
    destroyed(esl, a_leg, b_leg, agent)
    compare("hold_unhold", esl, skip=("loopback/5000-a",),
            captured=unhold_in_api_order(capture_events("hold_unhold")),
            keys=("Caller-Callee-ID-Name",))
    unholds = [e for e in esl.history() if e.name == "CHANNEL_UNHOLD"]
    accum = [int(e.get("Caller-Channel-Hold-Accum")) for e in unholds]
    assert 0 < accum[0] < accum[1]


def test_blind_transfer(esl):
    a_leg, b_leg, first = bridged_call(esl)
    assert esl.api("uuid_transfer %s 5003 XML default" % b_leg) == b"+OK\n"
    park = esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=b_leg))
    assert park.get("variable_acd_queue") == "sales"
    destroyed(esl, first)
    second = new_uuid()
    assert job(esl, AGENT % (second, "1002")) == "+OK %s\n" % second
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=second))
    assert esl.api("uuid_bridge %s %s" % (b_leg, second)) == ("+OK %s\n" % second).encode()
    esl.wait_event(is_event("CALL_UPDATE", Unique_ID=second))
    assert esl.api("uuid_transfer %s -bleg 5002 XML default" % b_leg) == b"+OK\n"
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=second))
    destroyed(esl, a_leg, b_leg)
    assert esl.api("uuid_transfer %s nosuchext XML default" % second) == b"+OK\n"
    esl.wait_event(is_event("PLAYBACK_START", Unique_ID=second))
    assert esl.api("uuid_transfer %s nosuchext XML nosuchcontext" % second) == b"+OK\n"
    destroyed(esl, second)
    captured = without_dialplan_conditions(without_consume_media(
        capture_events("blind_transfer")))
    compare("blind_transfer", esl, skip=("loopback/5000-a",), captured=captured,
            keys=("Caller-RDNIS", "Caller-Dialplan", "Caller-Callee-ID-Name"))
    parked = [e for e in esl.history() if e.name == "CHANNEL_PARK" and e.get("Unique-ID") == b_leg]
    source = parked[-1].get("variable_transfer_source")
    assert re.fullmatch(r"\d+:[0-9a-f-]{36}:bl_xfer:5003/default/XML", source)
    history = parked[-1].get("variable_transfer_history")
    assert history.startswith("ARRAY::") and history.endswith("|:" + source)
    hangup = [e for e in esl.history() if e.name == "CHANNEL_HANGUP"][-1]
    assert (hangup.get("Hangup-Cause"), hangup.get("Channel-State")) == (
        "NO_ROUTE_DESTINATION", "CS_ROUTING")


def test_click_to_dial(esl):
    agent, customer = new_uuid(), new_uuid()
    assert job(esl, "originate {origination_caller_id_number=1001,acd_call=click-1,"
                    "origination_uuid=%s}user/1001 &park()" % agent) == "+OK %s\n" % agent
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=agent))
    assert job(esl, "originate {origination_caller_id_number=+4930999,originate_timeout=20,"
                    "origination_uuid=%s}user/1002 &park()" % customer) == "+OK %s\n" % customer
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=customer))
    assert esl.api("uuid_bridge %s %s" % (agent, customer)) == ("+OK %s\n" % customer).encode()
    esl.wait_event(is_event("CALL_UPDATE", Unique_ID=agent))
    esl.api("uuid_kill " + customer)
    destroyed(esl, agent, customer)
    agent, customer = new_uuid(), new_uuid()
    assert job(esl, "originate {origination_caller_id_number=1001,acd_call=click-2,"
                    "origination_uuid=%s}user/1001 &bridge({origination_caller_id_number="
                    "+4930999,origination_uuid=%s}user/1002)" % (agent, customer)) == (
        "+OK %s\n" % agent)
    esl.wait_event(is_event("CHANNEL_BRIDGE", Unique_ID=agent))
    esl.wait_event(is_event("CALL_UPDATE", Unique_ID=agent, Direction="SEND"))
    esl.api("uuid_kill " + agent)
    destroyed(esl, agent, customer)
    agent = new_uuid()
    assert job(esl, "originate {origination_caller_id_number=1001,acd_call=click-3,"
                    "origination_uuid=%s}user/1001 &park()" % agent) == "+OK %s\n" % agent
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=agent))
    assert job(esl, "originate {origination_caller_id_number=+4930999,originate_timeout=20}"
                    "user/1003 &park()") == "-ERR USER_BUSY\n"
    esl.wait_event(lambda e: e.name == "CHANNEL_DESTROY" and "1003@" in e.get("Channel-Name"))
    assert job(esl, "originate {origination_caller_id_number=+4930999,originate_timeout=20}"
                    "user/1011 &park()") == "-ERR USER_NOT_REGISTERED\n"
    esl.api("uuid_kill " + agent)
    destroyed(esl, agent)
    agent = new_uuid()
    assert job(esl, "originate {origination_caller_id_number=1001,acd_call=click-4,"
                    "origination_uuid=%s}user/1001 &bridge({origination_caller_id_number="
                    "+4930999}user/1003)" % agent) == "+OK %s\n" % agent
    destroyed(esl, agent)
    compare("click_to_dial", esl, captured=without_consume_media(capture_events("click_to_dial")),
            keys=("variable_DIALSTATUS", "variable_originate_disposition",
                  "variable_last_bridge_hangup_cause", "variable_originate_failed_cause",
                  "Caller-Orig-Caller-ID-Number", "Caller-ANI", "Other-Type"))
    done = [e for e in esl.history() if e.name == "CHANNEL_EXECUTE_COMPLETE"
            and e.get("Application") == "bridge"][-1]
    assert done.get("variable_last_bridge_proto_specific_hangup_cause") == "sip:486"


def test_eavesdrop(esl):
    a_leg, b_leg, agent = bridged_call(esl)
    supervisor = new_uuid()
    assert job(esl, "originate {origination_uuid=%s,origination_caller_id_number=1010}"
                    "user/1010 &eavesdrop(%s)" % (supervisor, agent)) == "+OK %s\n" % supervisor
    bug = esl.wait_event(is_event("MEDIA_BUG_START", Unique_ID=agent))
    assert bug.get("Media-Bug-Target") == agent
    for digit in "2310":
        assert esl.api("uuid_recv_dtmf %s %s" % (supervisor, digit)) == (
            "+OK %s received DTMF %s.\n" % (supervisor, digit)).encode()
        esl.wait_event(is_event("DTMF", Unique_ID=supervisor, DTMF_Digit=digit))
    esl.api("uuid_recv_dtmf %s *" % supervisor)
    destroyed(esl, supervisor)
    whisper = new_uuid()
    assert job(esl, "originate {origination_uuid=%s,origination_caller_id_number=1010,"
                    "eavesdrop_whisper_aleg=true}user/1010 &eavesdrop(%s)" % (whisper, agent)) == (
        "+OK %s\n" % whisper)
    esl.wait_event(is_event("MEDIA_BUG_START", Unique_ID=agent))
    esl.api("uuid_kill " + whisper)
    destroyed(esl, whisper)
    lost = new_uuid()
    assert job(esl, "originate {origination_uuid=%s,origination_caller_id_number=1010}"
                    "user/1010 &eavesdrop(%s)" % (lost, new_uuid())) == "+OK %s\n" % lost
    destroyed(esl, lost)
    esl.api("uuid_kill " + agent)
    destroyed(esl, a_leg, b_leg, agent)
    compare("eavesdrop", esl, skip=("loopback/5000-a",), keys=("Media-Bug-Function",))


def test_record_consent(esl, tmp_path):
    a_leg, b_leg, agent = bridged_call(esl, "1006")
    paths = [str(tmp_path / ("test-%d.wav" % n)) for n in range(1, 5)]
    ok = b"+OK Success\n"

    def record(action, path):
        return esl.api("uuid_record %s %s %s" % (b_leg, action, path))
    started = time.monotonic()
    assert record("start", paths[0]) == ok
    assert esl.api("uuid_recv_dtmf %s *9" % b_leg) == (
        "+OK %s received DTMF *9.\n" % b_leg).encode()
    esl.wait_event(is_event("DTMF", Unique_ID=b_leg, DTMF_Digit="9"))
    assert record("mask", paths[0]) == ok
    assert esl.api("sim_dtmf %s 5 info" % agent).startswith(b"+OK ")
    esl.wait_event(is_event("DTMF", Unique_ID=a_leg, DTMF_Digit="5"))
    time.sleep(0.4)
    assert record("unmask", paths[0]) == ok
    assert esl.api("sim_dtmf %s 7 rfc2833 280" % agent).startswith(b"+OK ")
    esl.wait_event(is_event("DTMF", Unique_ID=a_leg, DTMF_Digit="7"))
    assert record("pause", paths[0]) == ok
    time.sleep(0.3)
    assert record("resume", paths[0]) == ok
    time.sleep(0.2)
    assert record("stop", paths[0]) == ok
    elapsed = time.monotonic() - started
    for path, stop in ((paths[1], paths[1]), (paths[2], "all")):
        assert record("start", path) == ok
        time.sleep(0.3)
        assert record("stop", stop) == ok
    assert record("stop", "all") == b"-ERR Cannot stop record session!\n"
    for app in ("record_session", "stop_record_session"):
        esl.sendmsg(b_leg, app, paths[3], event_uuid=new_uuid())
        esl.wait_event(is_event("PRIVATE_COMMAND", Unique_ID=b_leg))
        time.sleep(0.3)
    esl.api("uuid_kill " + agent)
    destroyed(esl, a_leg, b_leg, agent)
    compare("record_consent", esl, skip=("loopback/5000-a",))
    assert dtmf_on("loopback/5000-a", esl.history()) == dtmf_on(
        "loopback/5000-a", capture_events("record_consent"))
    assert_recordings(esl, paths, elapsed - 0.3)


def dtmf_on(channel, events):
    return [(e.get("DTMF-Digit"), e.get("DTMF-Source"), e.get("DTMF-Duration"))
            for e in events if e.name == "DTMF" and e.get("Channel-Name") == channel]


def assert_recordings(esl, paths, first_seconds):
    """Real WAV files of the stops' sizes; the masked span is digital zero, the pause left out."""
    stops = {e.get("Record-File-Path"): e for e in esl.history() if e.name == "RECORD_STOP"}
    for path in paths:
        with wave.open(path) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
            frames = wav.readframes(wav.getnframes())
        stop = stops[path]
        samples = len(frames) // 2
        assert stop.get("variable_record_samples") == str(samples)
        assert stop.get("variable_record_file_size") == str(44 + 2 * samples)
        silent = _longest_zero_run(frames)
        if path == paths[0]:
            assert abs(samples / 8000 - first_seconds) < 0.15
            assert 0.35 * 8000 <= silent <= 0.6 * 8000
        else:
            assert abs(samples / 8000 - 0.3) < 0.15 and silent <= 1


def _longest_zero_run(frames):
    longest = run = 0
    for i in range(0, len(frames), 2):
        run = run + 1 if frames[i:i + 2] == b"\x00\x00" else 0
        longest = max(longest, run)
    return longest


def test_announce_in_bridge(esl):
    a_leg, b_leg, agent = bridged_call(esl)
    tone = "tone_stream://%(200,0,800)"
    assert esl.api("uuid_broadcast %s %s both" % (b_leg, tone)) == b"+OK Message sent\n"
    esl.wait_event(is_event("PRIVATE_COMMAND", Unique_ID=agent))
    esl.wait_event(is_event("PRIVATE_COMMAND", Unique_ID=b_leg))
    music = "/usr/local/freeswitch/share/freeswitch/sounds/music/8000/acd_moh_synth.wav"
    assert esl.api("uuid_broadcast %s %s aleg" % (b_leg, music)) == b"+OK Message sent\n"
    esl.wait_event(is_event("PRIVATE_COMMAND", Unique_ID=b_leg))
    assert esl.api("uuid_broadcast %s %s bleg" % (b_leg, tone)) == b"+OK Message sent\n"
    esl.wait_event(is_event("PRIVATE_COMMAND", Unique_ID=agent))
    esl.api("uuid_kill " + agent)
    destroyed(esl, a_leg, b_leg, agent)
    compare("announce_in_bridge", esl, skip=("loopback/5000-a",), ordered=True)
    names = [(e.name, e.get("API-Command")) for e in esl.history()]
    assert names.index(("CHANNEL_UNBRIDGE", None)) > names.index(("API", "uuid_kill"))
    history = esl.history()
    sent = next(e for e in history if e.get("API-Command") == "uuid_broadcast")
    starts = [e for e in history if e.name == "PLAYBACK_START"][:2]
    assert [e.get("Unique-ID") for e in starts] == [agent, b_leg]    # both: the partner first
    delay = int(starts[0].get("Event-Date-Timestamp")) - int(sent.get("Event-Date-Timestamp"))
    assert 150000 <= delay < 1000000       # "about 200 ms later", as captured


@pytest.mark.parametrize("name", ["sip_caller", "sip_caller_hostile"])
def test_sip_caller(esl, name):
    hostile = name == "sip_caller_hostile"
    spec = ('{"from": "1000", "to": "5000", "name": "Eve, } ] \' \\\\\\" % ^ Boss", '
            '"headers": {"X-Acd-Note": "a%0Ab: c", "X-Evil": "100% sure: a=b;c=%41%zz"}}'
            if hostile else '{"from": "1000", "to": "5000", "name": "SIPp 1000", '
                            '"hangup-after": 0.3}')
    reply = esl.api("sim_call " + spec).decode()
    assert reply.startswith("+OK ")
    caller = reply.split()[1]
    esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=caller))
    if hostile:
        drive_hostile_originates(esl)
        esl.api("uuid_kill " + caller)
    destroyed(esl, caller)
    compare(name, esl)
    auth = [[n for n in e.names if not n.startswith("Event-Date")] for e in esl.history()
            if e.name == "CUSTOM"]
    assert auth == [[n for n in e.names if not n.startswith("Event-Date")]
                    for e in capture_events(name) if e.name == "CUSTOM"]
    if hostile:
        assert_hostile_values_as_captured(esl, caller)


def drive_hostile_originates(esl):
    for quote in ("'", "\\'"):
        result = job(esl, "originate {origination_caller_id_name='Eve\\, } ] %s \" %% ^ Boss',"
                          "origination_caller_id_number=1000,origination_uuid=%s}user/1001 "
                          "&park()" % (quote, new_uuid()))
        assert result == "-ERR CHAN_NOT_IMPLEMENTED\n"
    for name in ("'Eve, } ] \\' \" % ^ Boss'", "'Eve, } ] \\' \\\\\" % ^ Boss'"):
        agent = new_uuid()
        assert job(esl, "originate {origination_caller_id_number=1000,origination_uuid=%s}"
                        "user/1001 &park() XML default %s 1000" % (agent, name)) == (
            "+OK %s\n" % agent)
        esl.wait_event(is_event("CHANNEL_PARK", Unique_ID=agent))
        esl.api("uuid_kill " + agent)
        destroyed(esl, agent)


def assert_hostile_values_as_captured(esl, caller):
    """The encoded bytes of the hostile values are the captured bytes."""
    def park(events, channel):
        for event in events:
            if event.name == "CHANNEL_PARK" and event.get("Channel-Name").startswith(channel):
                yield dict(event.raw_headers)
    real = list(park(capture_events("sip_caller_hostile"), "sofia/internal/100"))
    sim = list(park(esl.history(), "sofia/internal/100"))
    assert len(sim) == len(real) == 3
    for header in ("Caller-Caller-ID-Name", "Caller-Orig-Caller-ID-Name",
                   "variable_sip_from_display", "variable_sip_h_X-Acd-Note",
                   "variable_sip_h_X-Evil"):
        assert sim[0][header] == real[0][header], header
    for mine, theirs in zip(sim[1:], real[1:]):
        for header in ("Caller-Caller-ID-Name", "variable_origination_caller_id_name",
                       "variable_sip_from_display"):
            assert mine.get(header) == theirs.get(header), header
