"""play_and_get_digits in the simulator, checked against FreeSWITCH's own behaviour
(mod_dptools.c play_and_get_digits_function, switch_ivr_play_say.c switch_ivr_read and
switch_play_and_get_digits): timeout floor, variables cleared per try, ``<var>_invalid``,
the invalid file after every failed try, the prompt cut by the first digit."""

import time


from tests.sim_fixtures import esl_fixture, world_fixture
from tests.rawesl import is_event

WORLD = {
    "heartbeat": 3600,
    "dialplan": {"5001": [["answer"], ["park"]]},
    "sounds": {"ivr/long.wav": 5.0, "default": 0.1},
}


world = world_fixture(WORLD, "digits")
esl = esl_fixture()


def caller(esl):
    job_uuid = esl.bgapi("originate loopback/5001 &park()")
    esl.wait_event(is_event("BACKGROUND_JOB", Job_UUID=job_uuid))
    park = esl.wait_event(lambda e: e.name == "CHANNEL_PARK"
                          and e.get("Channel-Name") == "loopback/5001-b")
    return park.get("Unique-ID")


def pagd(esl, uuid, arg, app_uuid):
    esl.sendmsg(uuid, "play_and_get_digits", arg, event_uuid=app_uuid)
    return esl.wait_event(is_event("CHANNEL_EXECUTE_COMPLETE", Application_UUID=app_uuid), 15)


def test_an_invalid_key_goes_to_var_invalid_and_the_invalid_file_plays(esl):
    uuid = caller(esl)
    esl.sendmsg(uuid, "play_and_get_digits", "1 1 1 3000 none ivr/long.wav ivr/bad.wav d [12]",
                event_uuid="app-1")
    esl.wait_event(is_event("PLAYBACK_START", Unique_ID=uuid))
    esl.api(f"uuid_recv_dtmf {uuid} 5")
    stop = esl.wait_event(is_event("PLAYBACK_STOP", Unique_ID=uuid))
    assert stop.get("Playback-Status") == "break"      # the greeting is cut by the digit
    bad = esl.wait_event(is_event("PLAYBACK_START", Unique_ID=uuid))
    assert bad.get("Playback-File-Path") == "ivr/bad.wav"
    done = esl.wait_event(is_event("CHANNEL_EXECUTE_COMPLETE", Application_UUID="app-1"))
    assert done.get("variable_d") is None and done.get("variable_d_invalid") == "5"


def test_a_valid_key_clears_an_old_invalid_one(esl):
    uuid = caller(esl)
    esl.api(f"uuid_setvar {uuid} d_invalid 7")
    esl.sendmsg(uuid, "play_and_get_digits", "1 1 1 3000 none ivr/long.wav ivr/bad.wav d [12]",
                event_uuid="app-2")
    esl.wait_event(is_event("PLAYBACK_START", Unique_ID=uuid))
    esl.api(f"uuid_recv_dtmf {uuid} 2")
    done = esl.wait_event(is_event("CHANNEL_EXECUTE_COMPLETE", Application_UUID="app-2"))
    assert done.get("variable_d") == "2" and done.get("variable_d_invalid") is None
    assert done.get("variable_read_result") == "success"


def test_timeouts_below_a_second_wait_a_second_and_clear_the_old_value(esl):
    uuid = caller(esl)
    esl.api(f"uuid_setvar {uuid} d 9")
    started = time.monotonic()
    done = pagd(esl, uuid, "1 1 1 200 none silence ivr/bad.wav d [12]", "app-3")
    assert time.monotonic() - started >= 1.0
    assert done.get("variable_d") is None and done.get("variable_d_invalid") is None
    assert done.get("variable_read_result") == "failure"


def test_too_few_digits_fail_but_stay_in_the_variable_as_in_freeswitch(esl):
    uuid = caller(esl)
    esl.sendmsg(uuid, "play_and_get_digits", "4 6 1 2000 # silence ivr/bad.wav n ^[0-9]+$ 300",
                event_uuid="app-4")
    esl.wait_event(is_event("CHANNEL_EXECUTE", Unique_ID=uuid, Application_UUID="app-4"))
    esl.api(f"uuid_recv_dtmf {uuid} 12")
    done = esl.wait_event(is_event("CHANNEL_EXECUTE_COMPLETE", Application_UUID="app-4"))
    assert done.get("variable_n") == "12" and done.get("variable_read_result") == "failure"
