"""The ``ivr`` and ``schedules`` sections and the queues' schedule/closed-action: the issue's
example read into data, and every kind of problem ``acd check-config`` reports for them."""

import datetime
import subprocess
import sys
import textwrap

import pytest
import yaml

from acd.config import ConfigError, load_config, parse_config
from acd.ivr_config import Collect, IvrAction

#: The issue's example, with the queues and agent it names.
EXAMPLE = """\
http: {admin-token: t}
agents:
  - {id: "1001", contact: user/1001}
queues:
  - {name: sales, tiers: [{agent: "1001"}]}
  - name: support
    schedule: office-hours
    closed-action: {playback: "ivr/closed-{lang}.wav", then: {hangup: NORMAL_CLEARING}}
    tiers: [{agent: "1001"}]
ivr:
  - name: main
    greeting: ivr/welcome.wav            # played, interruptible by the first digit
    invalid-sound: ivr/invalid.wav
    timeout: 5                           # seconds to wait for the first digit after the greeting
    digit-timeout: 2
    max-failures: 3                      # invalid or no input; then on-failure
    on-failure: {queue: support}
    language: de                         # sound paths may use {lang}
    schedule: office-hours               # when closed: closed-action
    closed-action: {playback: ivr/closed.wav, then: {hangup: NORMAL_CLEARING}}
    options:
      "1": {queue: sales}
      "2": {queue: support, skills: "billing:2", priority: 5}
      "3": {menu: service}
      "4": {collect: {var: customer_number, min: 4, max: 10, prompt: ivr/enter-number.wav}, then: {queue: support}}
      "7": {agent: "1001"}               # straight to one person
      "8": {transfer: "9000 XML default"}
      "9": {dial: "sofia/gateway/pstn/+4930123456"}
      "*": {repeat: true}
      "#": {back: true}
  - name: service
    greeting: "ivr/{lang}/service.wav"
    options:
      "1": {set: {acd_language: en}, then: {menu: main}}
      "2": {queue: support}
      "#": {back: true}
schedules:
  office-hours:
    timezone: Europe/Berlin
    weekly: {mon-fri: "08:00-18:00", sat: "09:00-13:00"}
    closed-dates: ["2026-12-24", "2026-12-25", "2026-12-26"]
"""


def config_of(text, tmp_path):
    path = tmp_path / "acd.yaml"
    path.write_text(text)
    return load_config(path)


def errors(tmp_path, text):
    with pytest.raises(ConfigError) as info:
        config_of(text, tmp_path)
    return [line.split(": ", 1)[1] for line in info.value.problems]


def with_ivr(*menus, schedules=None, queues=None):
    data = yaml.safe_load(EXAMPLE)
    data["ivr"] = list(menus)
    if schedules is not None:
        data["schedules"] = schedules
    if queues is not None:
        data["queues"] = queues
    return yaml.safe_dump(data, sort_keys=False)


def test_the_issues_example_is_read_as_written(tmp_path):
    config = config_of(EXAMPLE, tmp_path)
    main = config.ivr("main")
    assert (main.greeting, main.invalid_sound, main.timeout, main.digit_timeout,
            main.max_failures, main.language, main.schedule) == (
        "ivr/welcome.wav", "ivr/invalid.wav", 5.0, 2.0, 3, "de", "office-hours")
    assert main.on_failure == IvrAction("queue", "support")
    assert main.closed_action == IvrAction("playback", "ivr/closed.wav",
                                           then=IvrAction("hangup", "NORMAL_CLEARING"))
    assert [key for key, _ in main.options] == ["1", "2", "3", "4", "7", "8", "9", "*", "#"]
    assert main.option("2") == IvrAction("queue", "support", skills="billing:2", priority=5)
    assert main.option("4") == IvrAction("collect", collect=Collect(
        "customer_number", "ivr/enter-number.wav", 4, 10), then=IvrAction("queue", "support"))
    assert main.option("7") == IvrAction("agent", "1001")
    assert main.option("8") == IvrAction("transfer", "9000 XML default")
    assert main.option("9") == IvrAction("dial", "sofia/gateway/pstn/+4930123456")
    assert main.option("*") == IvrAction("repeat") and main.option("#") == IvrAction("back")
    assert main.option("5") is None
    assert config.ivr("service").option("1") == IvrAction(
        "set", variables=(("acd_language", "en"),), then=IvrAction("menu", "main"))
    schedule = config.schedule("office-hours")
    assert schedule.timezone == "Europe/Berlin"
    assert schedule.weekly[0] == ((480, 1080),) and schedule.weekly[5] == ((540, 780),)
    assert schedule.weekly[6] == ()
    assert datetime.date(2026, 12, 25) in schedule.closed_dates
    support = config.queue("support")
    assert support.schedule == "office-hours"
    assert support.closed_action.kind == "playback" and config.queue("sales").schedule is None
    assert config.has_ivr("main") and not config.has_ivr("nope")


def test_defaults(tmp_path):
    config = config_of(with_ivr({"name": "m", "greeting": "g.wav",
                                 "options": {"1": {"hangup": None}}}), tmp_path)
    menu = config.ivr("m")
    assert (menu.timeout, menu.digit_timeout, menu.max_failures, menu.on_failure,
            menu.language, menu.invalid_sound) == (
        5.0, 2.0, 3, None, None, "ivr/ivr-that_was_an_invalid_entry.wav")
    assert menu.option("1") == IvrAction("hangup", "NORMAL_CLEARING")


def test_a_config_without_ivr_has_none(tmp_path):
    data = yaml.safe_load(EXAMPLE)
    del data["ivr"], data["schedules"], data["queues"][1]["schedule"]
    del data["queues"][1]["closed-action"]
    config = config_of(yaml.safe_dump(data), tmp_path)
    assert config.ivrs == () and config.schedules == ()


def menu(**kw):
    return dict({"name": "m", "greeting": "g.wav", "options": {"1": {"queue": "sales"}}}, **kw)


@pytest.mark.parametrize("item, problem", [
    (menu(options={"1": {"queue": "nope"}}),
     "ivr[0].options.1.queue: unknown queue 'nope' (queues: sales, support)"),
    (menu(options={"1": {"menu": "nope"}}),
     "ivr[0].options.1.menu: unknown menu 'nope' (ivr menus: m)"),
    (menu(options={"1": {"agent": "1009"}}),
     "ivr[0].options.1.agent: unknown agent '1009' (agents: 1001)"),
    (menu(schedule="nope", **{"closed-action": {"hangup": None}}),
     "ivr[0].schedule: unknown schedule 'nope' (schedules: office-hours)"),
    (menu(options={"12": {"queue": "sales"}}),
     "ivr[0].options.12: expected one DTMF key 0-9, * or # (in quotes), got '12'"),
    (menu(options={"a": {"queue": "sales"}}),
     "ivr[0].options.a: expected one DTMF key 0-9, * or # (in quotes), got 'a'"),
    (menu(options={"1": {"queue": "sales", "menu": "m"}}),
     "ivr[0].options.1: expected exactly one of queue, menu, collect, agent, transfer, dial, "
     "hangup, playback, set, repeat, back; got queue, menu"),
    (menu(options={"1": {"queue": "sales", "then": {"hangup": None}}}),
     "ivr[0].options.1.then: unknown key (allowed: queue, skills, priority)"),
    (menu(options={"1": {"queue": "sales", "skills": "billing two"}}),
     "ivr[0].options.1.skills: expected skills such as \"billing:2\" or \"german:4,billing:2\", "
     "got 'billing two'"),
    (menu(options={"1": {"queue": "sales", "skills": "billing"}}),   # the router needs levels
     "ivr[0].options.1.skills: expected skills such as \"billing:2\" or \"german:4,billing:2\", "
     "got 'billing'"),
    (menu(options={"1": {"dial": "sofia/gateway/pstn/+49 30"}}),
     "ivr[0].options.1.dial: expected a FreeSWITCH dial string without spaces such as "
     "sofia/gateway/pstn/+4930123456, got 'sofia/gateway/pstn/+49 30'"),
    (menu(options={"1": {"transfer": "a b c d"}}),
     "ivr[0].options.1.transfer: expected \"DEST [DIALPLAN [CONTEXT]]\" such as \"9000 XML "
     "default\", got 'a b c d'"),
    (menu(options={"1": {"hangup": "normal"}}),
     "ivr[0].options.1.hangup: expected a hangup cause in capitals such as NORMAL_CLEARING, "
     "got 'normal'"),
    (menu(options={"1": {"repeat": "yes"}}), "ivr[0].options.1.repeat: expected true, got 'yes'"),
    (menu(options={"1": {"collect": {"var": "n", "prompt": "p.wav"}}}),
     "ivr[0].options.1.then: required: what happens next"),
    (menu(options={"1": {"collect": {"var": "n", "prompt": "p.wav", "min": 5, "max": 3},
                         "then": {"queue": "sales"}}}),
     "ivr[0].options.1.collect.max: expected a whole number from min (5) to 128, got 3"),
    (menu(options={"1": {"collect": {"prompt": "p.wav"}, "then": {"queue": "sales"}}}),
     "ivr[0].options.1.collect.var: required: the variable that gets the digits"),
    (menu(options={"1": {"set": {"acd_queue": "x"}, "then": {"queue": "sales"}}}),
     "ivr[0].options.1.set.acd_queue: acd_queue is acd's own variable"),
    (menu(options={"1": {"set": {"bad name": "x"}, "then": {"queue": "sales"}}}),
     "ivr[0].options.1.set.bad name: expected a variable name of letters, digits and _"),
    (menu(options={"1": {"set": {"acd_language": "d e"}, "then": {"queue": "sales"}}}),
     "ivr[0].options.1.set.acd_language: expected a language code such as de or en-GB, "
     "got 'd e'"),
    (menu(options={"1": {"playback": "my file.wav"}}),
     "ivr[0].options.1.playback: expected a sound path without spaces, $ or braces other than "
     "{lang}, got 'my file.wav'"),
    (menu(greeting="${evil}"),
     "ivr[0].greeting: expected a sound path without spaces, $ or braces other than {lang}, "
     "got '${evil}'"),
    ({"name": "m", "options": {"1": {"queue": "sales"}}},
     "ivr[0].greeting: required: a sound file such as ivr/welcome.wav"),
    (menu(options={}), "ivr[0].options: required: a mapping of DTMF key -> action, such as "
                       "{\"1\": {queue: sales}}"),
    (menu(schedule="office-hours"),
     "ivr[0].closed-action: required with schedule: what a caller gets while it is closed"),
    (menu(**{"closed-action": {"hangup": None}}),
     "ivr[0].closed-action: only meaningful with schedule"),
    (menu(schedule="office-hours", **{"closed-action": {"repeat": True}}),
     "ivr[0].closed-action.repeat: would replay what is closed; use another action"),
    (menu(**{"max-failures": 0}), "ivr[0].max-failures: expected a whole number >= 1, got 0"),
    (menu(timeout=0), "ivr[0].timeout: expected a number of seconds > 0, got 0"),
    (menu(language="de de"), "ivr[0].language: expected a language code such as de or en-GB, "
                             "got 'de de'"),
    (menu(colour="red"), "ivr[0].colour: unknown key (allowed: name, greeting, invalid-sound, "
                         "timeout, digit-timeout, max-failures, on-failure, language, schedule, "
                         "closed-action, options)"),
])
def test_menu_problems(tmp_path, item, problem):
    assert problem in errors(tmp_path, with_ivr(item))


def test_duplicate_menu_names(tmp_path):
    assert "ivr[1].name: duplicate menu name 'm' (also ivr[0])" in errors(
        tmp_path, with_ivr(menu(), menu()))


def test_menu_loops_without_an_exit(tmp_path):
    found = errors(tmp_path, with_ivr(
        menu(name="a", options={"1": {"menu": "b"}, "*": {"repeat": True}}),
        menu(name="b", options={"1": {"menu": "c"}}),
        menu(name="c", options={"1": {"set": {"x": 1}, "then": {"menu": "a"}}}),
        menu(name="d", options={"1": {"menu": "a"}, "2": {"queue": "sales"}}),
        menu(name="e", options={"*": {"repeat": True}})))
    assert found == ["ivr[0].options: menu loop without an exit: a -> b -> c -> a",
                     "ivr[4].options: no option leads out of the menu (only repeat)"]


def test_a_loop_with_an_exit_is_fine(tmp_path):
    config = config_of(with_ivr(menu(name="a", options={"1": {"menu": "b"}}),
                                menu(name="b", options={"1": {"menu": "a"}, "#": {"back": True}})),
                       tmp_path)
    assert [m.name for m in config.ivrs] == ["a", "b"]


@pytest.mark.parametrize("schedule, problem", [
    ({"weekly": {"mon": "08:00-18:00"}},
     "schedules.s.timezone: required: an IANA time zone such as Europe/Berlin"),
    ({"timezone": "Mars/Olympus", "weekly": {"mon": "08:00-18:00"}},
     "schedules.s.timezone: unknown time zone 'Mars/Olympus' (expected an IANA name such as "
     "Europe/Berlin)"),
    ({"timezone": "UTC", "weekly": {"monday": "08:00-18:00"}},
     "schedules.s.weekly.monday: expected days such as mon-fri, sat or mon,wed; got 'monday'"),
    ({"timezone": "UTC", "weekly": {"mon": "8-18"}},
     "schedules.s.weekly.mon: expected times HH:MM from 00:00 to 24:00, got '8' in '8-18'"),
    ({"timezone": "UTC", "weekly": {"mon-fri": "08:00-18:00", "fri": "09:00-10:00"}},
     "schedules.s.weekly.fri: fri is given twice (also in mon-fri)"),
    ({"timezone": "UTC", "weekly": {"mon": "08:00-18:00"}, "closed-dates": ["24.12.2026"]},
     "schedules.s.closed-dates[0]: expected a date YYYY-MM-DD such as \"2026-12-24\", "
     "got '24.12.2026'"),
    ({"timezone": "UTC"}, "schedules.s.weekly: required: a mapping of days -> hours such as "
                          "{mon-fri: \"08:00-18:00\", sat: \"09:00-13:00\"}"),
])
def test_schedule_problems(tmp_path, schedule, problem):
    assert problem in errors(tmp_path, with_ivr(menu(), schedules={"s": schedule}))


def test_unquoted_yaml_dates_are_dates(tmp_path):
    text = with_ivr(menu(), schedules={"s": {"timezone": "UTC", "weekly": {"mon": "closed"}},
                                       "office-hours": {"timezone": "UTC", "weekly": {}}})
    text = text.replace("  s:\n", "  s:\n    closed-dates: [2026-12-24]\n")
    assert config_of(text, tmp_path).schedule("s").closed_dates == {datetime.date(2026, 12, 24)}


def test_queue_schedule_and_closed_action_problems(tmp_path):
    queues = [{"name": "sales", "schedule": "nope", "closed-action": {"back": True}},
              {"name": "support", "closed-action": {"queue": "sales"}}]
    found = errors(tmp_path, with_ivr(menu(), queues=queues))
    assert "queues[0].closed-action.back: a queue's closed-action has no menu to go back to" in found
    assert "queues[0].schedule: unknown schedule 'nope' (schedules: office-hours)" in found
    assert "queues[1].closed-action: only meaningful with schedule" in found


def test_warning_for_a_timeout_below_one_second(tmp_path):
    config = config_of(with_ivr(menu(timeout=0.5)), tmp_path)
    assert any("ivr[0].timeout: FreeSWITCH's play_and_get_digits waits at least 1 second" in w
               for w in config.warnings)


def test_check_config_reports_every_ivr_problem(tmp_path):
    path = tmp_path / "acd.yaml"
    path.write_text(with_ivr(menu(options={"x": {"queue": "nope"}, "1": {"menu": "ghost"}}),
                             schedules={"s": {"timezone": "Nowhere/Land", "weekly": {}}}))
    result = subprocess.run([sys.executable, "-m", "acd", "check-config", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert f"{path}: ivr[0].options.x: expected one DTMF key 0-9, * or # (in quotes), got 'x'" in lines
    assert f"{path}: ivr[0].options.1.menu: unknown menu 'ghost' (ivr menus: m)" in lines
    assert any(line.startswith(f"{path}: schedules.s.timezone: unknown time zone") for line in lines)


def test_parse_config_without_a_file():
    data = yaml.safe_load(textwrap.dedent(EXAMPLE))
    assert parse_config(data).ivr("main").name == "main"
