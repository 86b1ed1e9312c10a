"""IVR menus end to end: the simulator as FreeSWITCH, callers pressing keys with
``uuid_recv_dtmf``, a private Redis, the daemon in this process (tests/acd_world.py). Asserts
are on what FreeSWITCH and Redis show and on the decisions the daemon reports to observers."""

import datetime
import json
import time

import gevent
import pytest

from acd.schedule import zone
from tests.acd_world import World

MAIN = {
    "name": "main", "greeting": "ivr/{lang}/welcome.wav", "invalid-sound": "ivr/invalid.wav",
    "timeout": 1, "digit-timeout": 0.5, "max-failures": 3, "on-failure": {"queue": "support"},
    "language": "de",
    "options": {
        "1": {"queue": "sales"},
        "2": {"queue": "support", "skills": "billing:2", "priority": 5},
        "3": {"menu": "service"},
        "4": {"collect": {"var": "customer_number", "min": 4, "max": 6,
                          "prompt": "ivr/enter-number.wav"}, "then": {"queue": "support"}},
        "6": {"set": {"acd_language": "en"},
              "then": {"playback": "ivr/{lang}/bye.wav", "then": {"hangup": "USER_BUSY"}}},
        "7": {"agent": "2002"},
        "8": {"transfer": "9000 XML default"},
        "9": {"dial": "user/2003"},
        "*": {"repeat": True},
    },
}
SERVICE = {"name": "service", "greeting": "ivr/service.wav", "timeout": 1,
           "options": {"1": {"queue": "sales"}, "#": {"back": True}}}
SOUNDS = {"ivr/de/welcome.wav": 3.0, "ivr/service.wav": 3.0, "ivr/*": 0.2}
EXTRA_EVENTS = ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "PLAYBACK_START")


@pytest.fixture
def ivr_world(tmp_path, redis_url):
    worlds = []

    def make(menus=(MAIN, SERVICE), queues=None, schedules=None, clock=None):
        queues = queues or {"sales": {"tiers": ["2001"]}, "support": {}, "direct": {"tiers": ["2002"]}}
        world = World(tmp_path / f"w{len(worlds)}", redis_url, queues, {"2003": {}},
                      ivr=list(menus), sounds=SOUNDS,
                      **({"schedules": schedules} if schedules else {}))
        worlds.append(world)
        for name in EXTRA_EVENTS:
            world.driver.register_handle(name, world.events.put)
        world.driver.subscribe(*EXTRA_EVENTS)
        world.decisions = []
        world.daemon(observers=[recorder(world)], **({"clock": clock} if clock else {}))
        return world

    for i in range(3):
        (tmp_path / f"w{i}").mkdir()
    yield make
    for world in worlds:
        world.close()


def recorder(world):
    def observe(what, call, agent, details):
        if what.startswith("ivr-"):
            world.decisions.append((what, dict(details)))
    return observe


def prompts(world, uuid):
    world.drain()
    return [e for e in world.seen if e.name == "CHANNEL_EXECUTE" and e.uuid == uuid
            and e.get("Application") == "play_and_get_digits"]


def press(world, uuid, digits, prompt):
    """Wait for the caller's ``prompt``-th prompt (1 = the first) to start, then press."""
    with gevent.Timeout(10, AssertionError(f"prompt {prompt} of {uuid} never started")):
        while len(prompts(world, uuid)) < prompt:
            gevent.sleep(0.02)
    world.dtmf(uuid, digits)


def ivr_steps(world, uuid, timeout=10.0):
    """The IVR decisions about ``uuid`` once an ivr-exit/-hangup or -closed arrived."""
    with gevent.Timeout(timeout, False):
        while not any(d["call_uuid"] == uuid and what in ("ivr-exit", "ivr-hangup")
                      for what, d in world.decisions):
            gevent.sleep(0.02)
    return [(what, {k: v for k, v in d.items() if k != "call_uuid"})
            for what, d in world.decisions if d["call_uuid"] == uuid]


def stored_data(world, uuid):
    with gevent.Timeout(10, AssertionError(f"{uuid} never queued")):
        while world.store.call(uuid) is None:
            gevent.sleep(0.02)
    return world.store.call(uuid)


def test_a_key_pressed_during_the_greeting_queues_the_caller_at_once(ivr_world):
    world = ivr_world()
    started = time.monotonic()
    caller = world.call_ivr("main")
    press(world, caller, "1", 1)
    assert world.bridged(caller) == "2001"
    assert time.monotonic() - started < 3.0      # the 3 s greeting was cut by the digit
    execute = prompts(world, caller)[0]
    assert execute["Application-Data"].split(" ")[5] == "ivr/de/welcome.wav"   # {lang}
    assert ivr_steps(world, caller) == [
        ("ivr-enter", {"menu": "main"}),
        ("ivr-option", {"menu": "main", "option": "1", "action": "queue"}),
        ("ivr-exit", {"menu": "main", "action": "queue", "target": "sales"})]
    call = world.store.call(caller)
    assert json.loads(call["data"]) == {"ivr_path": "main>1"}
    assert world.driver.api(f"uuid_getvar {caller} acd_ivr_path") == "main>1"


def test_skills_and_priority_go_with_the_call(ivr_world):
    world = ivr_world()
    caller = world.call_ivr("main")
    press(world, caller, "2", 1)
    call = stored_data(world, caller)
    assert (call["queue"], call["skills"], call["priority"]) == ("support", "billing:2", 5)


def test_nested_menu_back_and_repeat(ivr_world):
    world = ivr_world()
    caller = world.call_ivr("main")
    press(world, caller, "3", 1)          # -> service
    press(world, caller, "#", 2)          # back -> main
    press(world, caller, "*", 3)          # repeat main
    press(world, caller, "3", 4)          # -> service again
    press(world, caller, "1", 5)          # sales
    assert world.bridged(caller) == "2001"
    steps = [(what, d["menu"], d.get("option")) for what, d in ivr_steps(world, caller)]
    assert steps == [("ivr-enter", "main", None), ("ivr-option", "main", "3"),
                     ("ivr-enter", "service", None), ("ivr-option", "service", "#"),
                     ("ivr-enter", "main", None), ("ivr-option", "main", "*"),
                     ("ivr-option", "main", "3"), ("ivr-enter", "service", None),
                     ("ivr-option", "service", "1"), ("ivr-exit", "service", None)]
    assert json.loads(world.store.call(caller)["data"])["ivr_path"] == "main>service>1"


def test_invalid_key_and_timeouts_lead_to_on_failure(ivr_world):
    world = ivr_world()
    caller = world.call_ivr("main")
    press(world, caller, "5", 1)          # no such option; then nothing twice (1 s each)
    call = stored_data(world, caller)
    assert call["queue"] == "support"     # on-failure
    steps = [(what, d.get("digits")) for what, d in ivr_steps(world, caller)]
    assert steps == [("ivr-enter", None), ("ivr-invalid", "5"), ("ivr-timeout", None),
                     ("ivr-timeout", None), ("ivr-failure", None), ("ivr-exit", None)]
    world.drain()
    played = [e["Playback-File-Path"] for e in world.seen
              if e.name == "PLAYBACK_START" and e.uuid == caller]
    assert played.count("ivr/invalid.wav") == 3 and len(prompts(world, caller)) == 3


def test_collect_with_min_and_max(ivr_world):
    world = ivr_world()
    caller = world.call_ivr("main")
    press(world, caller, "4", 1)
    press(world, caller, "12#", 2)        # too short (min 4)
    press(world, caller, "1234567", 3)    # stops at max 6
    call = stored_data(world, caller)
    assert call["queue"] == "support"
    assert json.loads(call["data"]) == {"ivr_path": "main>4", "customer_number": "123456"}
    assert world.driver.api(f"uuid_getvar {caller} customer_number") == "123456"
    assert [what for what, _ in ivr_steps(world, caller)].count("ivr-invalid") == 1
    collect = prompts(world, caller)[1]["Application-Data"].split(" ")
    assert collect[:2] == ["4", "6"] and collect[5] == "ivr/enter-number.wav"


def test_agent_option_rings_that_agent(ivr_world):
    world = ivr_world()
    caller = world.call_ivr("main")
    press(world, caller, "7", 1)
    assert world.bridged(caller) == "2002"
    assert ivr_steps(world, caller)[-1] == (
        "ivr-exit", {"menu": "main", "action": "agent", "target": "2002"})


def test_transfer_leaves_the_ivr_for_the_dialplan(ivr_world):
    world = ivr_world()
    caller = world.call_ivr("main")
    press(world, caller, "8", 1)
    world.wait(lambda e: e.name == "CHANNEL_EXECUTE" and e.uuid == caller
               and e.get("Application-Data") == "ivr/voicemail.wav")
    assert world.hung_up(caller)["Hangup-Cause"] == "NORMAL_CLEARING"
    assert ivr_steps(world, caller)[-1] == (
        "ivr-exit", {"menu": "main", "action": "transfer", "target": "9000 XML default"})
    assert world.store.call(caller) is None


def test_dial_bridges_the_caller_and_hangs_up_after(ivr_world):
    world = ivr_world()
    caller = world.call_ivr("main")
    press(world, caller, "9", 1)
    bridge = world.wait(lambda e: e.name == "CHANNEL_BRIDGE" and e.uuid == caller)
    world.hangup(bridge["Other-Leg-Unique-ID"])
    assert world.hung_up(caller)["Hangup-Cause"] == "NORMAL_CLEARING"
    steps = ivr_steps(world, caller)
    assert steps[-1] == ("ivr-exit", {"menu": "main", "action": "dial", "target": "user/2003"})
    assert "ivr-hangup" not in [what for what, _ in steps]


def test_set_playback_and_hangup(ivr_world):
    world = ivr_world()
    caller = world.call_ivr("main")
    press(world, caller, "6", 1)
    assert world.hung_up(caller)["Hangup-Cause"] == "USER_BUSY"
    world.drain()
    played = [e["Playback-File-Path"] for e in world.seen
              if e.name == "PLAYBACK_START" and e.uuid == caller]
    assert played[-1] == "ivr/en/bye.wav"          # acd_language chosen by set
    assert ivr_steps(world, caller)[-1] == (
        "ivr-exit", {"menu": "main", "action": "hangup", "target": "USER_BUSY"})


def test_a_caller_who_hangs_up_in_the_ivr_leaves_nothing_behind(ivr_world):
    world = ivr_world()
    caller = world.call_ivr("main")
    with gevent.Timeout(10):
        while not prompts(world, caller):
            gevent.sleep(0.02)
    world.hangup(caller)
    world.hung_up(caller)
    assert ivr_steps(world, caller) == [("ivr-enter", {"menu": "main"}),
                                        ("ivr-hangup", {"menu": "main"})]
    world.collect(1.5)      # past the prompt's timeout: nothing more happens for it
    assert len(ivr_steps(world, caller)) == 2
    assert [k for k in world.store.redis.scan_iter("*") if caller in k] == []


def test_a_caller_mid_ivr_restarts_from_the_greeting_after_a_daemon_restart(ivr_world):
    world = ivr_world()
    caller = world.call_ivr("main")
    press(world, caller, "3", 1)                    # in the service menu
    with gevent.Timeout(10):
        while len(prompts(world, caller)) < 2:
            gevent.sleep(0.02)
    world.daemons[0].stop()
    world.daemon(owner="test-restarted", observers=[recorder(world)])
    press(world, caller, "1", 3)                    # main's greeting again: 1 is sales
    assert world.bridged(caller) == "2001"
    assert json.loads(world.store.call(caller)["data"])["ivr_path"] == "main>1"


# -- business hours ---------------------------------------------------------------------------

def clock_at(moment):
    """A clock that runs from ``moment`` (an aware datetime) on."""
    offset = moment.timestamp() - time.time()
    return lambda: time.time() + offset


#: One instant, 2026-12-23 16:30 UTC: Wednesday 17:30 in Berlin (open), already Thursday
#: Dec 24 01:30 in Tokyo (a closed date there), 11:30 in New York (closed all day).
INSTANT = datetime.datetime(2026, 12, 23, 16, 30, tzinfo=zone("UTC"))
SCHEDULES = {
    "berlin": {"timezone": "Europe/Berlin", "weekly": {"mon-fri": "08:00-18:00"}},
    "tokyo": {"timezone": "Asia/Tokyo", "weekly": {"mon-sun": "00:00-24:00"},
              "closed-dates": ["2026-12-24"]},
    "newyork": {"timezone": "America/New_York", "weekly": {"mon-fri": "08:00-18:00"},
                "closed-dates": ["2026-12-23"]},
}
CLOSED = {"playback": "ivr/closed.wav", "then": {"hangup": "NORMAL_CLEARING"}}


def hours_world(ivr_world, moment=INSTANT):
    menus = [dict(MAIN, schedule="tokyo", **{"closed-action": CLOSED}),
             dict(SERVICE, schedule="berlin", **{"closed-action": CLOSED})]
    queues = {"sales": {"tiers": ["2001"], "schedule": "berlin", "closed-action": CLOSED},
              "support": {"schedule": "newyork", "closed-action": {"menu": "service"}},
              "direct": {"tiers": ["2002"]}}
    return ivr_world(menus, queues, SCHEDULES, clock=clock_at(moment))


def test_a_menu_closed_by_a_holiday_in_its_own_zone(ivr_world):
    world = hours_world(ivr_world)
    caller = world.call_ivr("main")           # Dec 24 in Tokyo
    assert world.hung_up(caller)["Hangup-Cause"] == "NORMAL_CLEARING"
    steps = ivr_steps(world, caller)
    assert steps[:2] == [("ivr-enter", {"menu": "main"}),
                         ("ivr-closed", {"menu": "main", "schedule": "tokyo"})]
    assert prompts(world, caller) == []
    world.drain()
    assert [e["Playback-File-Path"] for e in world.seen
            if e.name == "PLAYBACK_START" and e.uuid == caller] == ["ivr/closed.wav"]


def test_an_open_menu_and_an_open_queue_at_the_same_instant(ivr_world):
    world = hours_world(ivr_world)
    caller = world.call_ivr("service")        # Berlin: Wednesday 17:30, open
    press(world, caller, "1", 1)              # sales: Berlin hours too
    assert world.bridged(caller) == "2001"


def test_a_closed_queue_runs_its_closed_action(ivr_world):
    world = hours_world(ivr_world)
    caller = world.call("support", queued=False)   # dialplan acd_queue=support; New York holiday
    press(world, caller, "1", 1)              # its closed-action is the service menu
    assert world.bridged(caller) == "2001"
    steps = ivr_steps(world, caller)
    assert steps[0] == ("ivr-closed", {"menu": "-", "queue": "support", "schedule": "newyork"})


def test_hours_end_in_berlin_while_the_clock_runs(ivr_world):
    # 18:00 Berlin (winter, UTC+1) is 17:00 UTC: one second before it the menu is open
    world = hours_world(ivr_world, datetime.datetime(2026, 12, 22, 16, 59, 58,
                                                     tzinfo=zone("UTC")))
    open_caller = world.call_ivr("service")
    assert prompts(world, open_caller) or world.wait(
        lambda e: e.name == "CHANNEL_EXECUTE" and e.uuid == open_caller
        and e.get("Application") == "play_and_get_digits")
    gevent.sleep(2.5)
    late_caller = world.call_ivr("service")
    assert world.hung_up(late_caller)["Hangup-Cause"] == "NORMAL_CLEARING"
    assert ("ivr-closed", {"menu": "service", "schedule": "berlin"}) in ivr_steps(world, late_caller)
