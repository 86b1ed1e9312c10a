"""The simulator's world: password, heartbeat, users, dialplan and sound durations.

The YAML layout is a contract other tools (tests, demo, load generator) rely on; see
docs/simulator.md. Every error reads ``FILE: key.path: problem`` and unknown keys are rejected.
The same validation serves the run-time ``sim_user`` API (``validate_user``) and the run-time
``sim_latency`` API (``validate_latency``).
"""

import fnmatch
import math
import pathlib
import re

import yaml

from acd import defaults
from acd.sim.causes import CAUSES

DEFAULT_CONFIG = pathlib.Path(__file__).with_name("default.yaml")
DEFAULT_ANSWER_AFTER = 1.0
_USER_KEYS = ("answer-after", "respond", "after", "hangup-after", "registered")
_TOP_KEYS = ("password", "heartbeat", "users", "dialplan", "sounds", "command-latency",
             "event-delay")
LATENCY_KEYS = ("command-latency", "event-delay")
#: An api command name (or ``sendmsg``) as ``command-latency`` accepts it: one word.
_COMMAND_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*\Z")


class ConfigError(ValueError):
    pass


class UserSettings:
    """How a simulated phone behaves when called."""

    __slots__ = ("answer_after", "respond", "after", "hangup_after", "registered")

    def __init__(self, answer_after=DEFAULT_ANSWER_AFTER, respond=None, after=0.0,
                 hangup_after=None, registered=True):
        self.answer_after = answer_after  # seconds, or None = never answers
        self.respond = respond            # a hangup cause instead of answering
        self.after = after                # seconds of ringing before ``respond``
        self.hangup_after = hangup_after  # seconds of talk before the phone hangs up
        self.registered = registered

    def as_dict(self):
        return {"answer-after": "never" if self.answer_after is None else self.answer_after,
                "respond": self.respond, "after": self.after,
                "hangup-after": self.hangup_after, "registered": self.registered}


class Config:
    def __init__(self, password=defaults.ESL_PASSWORD, heartbeat=defaults.SIM_HEARTBEAT,
                 users=None, dialplan=None, sounds=None, source="<config>",
                 command_latency=None, event_delay=0.0):
        self.password = password
        self.heartbeat = heartbeat
        self.users = users or {}
        self.dialplan = dialplan or {}
        self.sounds = sounds or {"default": 1.0}
        self.source = source
        self.command_latency = command_latency or {}   # command name -> seconds it takes
        self.event_delay = event_delay                 # seconds added to every event's delivery

    def sound_seconds(self, path):
        """Playback duration of a file: the first matching glob, else ``default``."""
        for pattern, seconds in self.sounds.items():
            if pattern != "default" and fnmatch.fnmatchcase(path, pattern):
                return seconds
        return self.sounds.get("default", 1.0)


def load_config(path=None):
    """Read and validate a YAML config; ``None`` loads the packaged default world."""
    source = pathlib.Path(path) if path else DEFAULT_CONFIG
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None
    return parse_config(data if data is not None else {}, str(source))


def parse_config(data, source="<config>"):
    problem = _Problems(source)
    if not isinstance(data, dict):
        problem.fail("", "expected a mapping at the top level")
    problem.reject_unknown(data, _TOP_KEYS, "")
    command_latency, event_delay = _latency(data, problem)
    return Config(
        password=_password(data.get("password", defaults.ESL_PASSWORD), problem),
        heartbeat=_positive(data.get("heartbeat", defaults.SIM_HEARTBEAT), "heartbeat", problem),
        users=_users(data.get("users", {}), problem),
        dialplan=_dialplan(data.get("dialplan", {}), problem),
        sounds=_sounds(data.get("sounds", {"default": 1.0}), problem),
        source=source, command_latency=command_latency, event_delay=event_delay)


def validate_user(settings, where="user"):
    """Validate one user's settings (run-time API); raises ConfigError('key: problem')."""
    return _user(settings, where, _Problems(None))


def validate_latency(settings):
    """Validate ``{"command-latency": {...}, "event-delay": s}`` (run-time API; either key may
    be missing); returns (command latencies or None, event delay or None) for the keys given.
    Raises ConfigError('key: problem')."""
    problem = _Problems(None)
    if not isinstance(settings, dict):
        raise ConfigError("expected a mapping with command-latency and/or event-delay")
    problem.reject_unknown(settings, LATENCY_KEYS, "")
    commands, delay = _latency(settings, problem)
    return (commands if "command-latency" in settings else None,
            delay if "event-delay" in settings else None)


class _Problems:
    def __init__(self, source):
        self.source = source

    def fail(self, key, text):
        where = ": ".join(part for part in (self.source, key) if part)
        raise ConfigError(f"{where}: {text}")

    def reject_unknown(self, mapping, allowed, prefix):
        for key in mapping:
            if key not in allowed:
                path = f"{prefix}.{key}" if prefix else str(key)
                self.fail(path, "unknown key (allowed: %s)" % ", ".join(allowed))


def _password(value, problem):
    if not isinstance(value, str) or not value:
        problem.fail("password", "expected a non-empty string")
    return value


def _number(value, key, problem, minimum=0.0):
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or value < minimum):
        problem.fail(key, f"expected a number >= {minimum:g}, got {value!r}")
    return float(value)


def _positive(value, key, problem):
    value = _number(value, key, problem)
    if value <= 0:
        problem.fail(key, f"expected a number > 0, got {value!r}")
    return value


def _users(value, problem):
    if not isinstance(value, dict):
        problem.fail("users", "expected a mapping of user id -> settings")
    return {str(uid): _user(settings, f"users.{uid}", problem)
            for uid, settings in value.items()}


def _user(settings, where, problem):
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        problem.fail(where, "expected a mapping of settings")
    problem.reject_unknown(settings, _USER_KEYS, where)
    if "respond" in settings and "answer-after" in settings:
        problem.fail(where, "give either answer-after or respond, not both")
    if "after" in settings and "respond" not in settings:
        problem.fail(f"{where}.after", "only meaningful with respond")
    user = UserSettings()
    answer = settings.get("answer-after", DEFAULT_ANSWER_AFTER)
    user.answer_after = None if answer == "never" else _number(
        answer, f"{where}.answer-after", problem)
    if "respond" in settings:
        user.respond = _cause(settings["respond"], f"{where}.respond", problem)
        user.answer_after = None
        user.after = _number(settings.get("after", 0.0), f"{where}.after", problem)
    hangup = settings.get("hangup-after")
    if hangup is not None:
        user.hangup_after = _positive(hangup, f"{where}.hangup-after", problem)
    registered = settings.get("registered", True)
    if not isinstance(registered, bool):
        problem.fail(f"{where}.registered", f"expected true or false, got {registered!r}")
    user.registered = registered
    return user


def _cause(value, key, problem):
    if not isinstance(value, str) or value.upper() not in CAUSES:
        problem.fail(key, f"expected a hangup cause such as USER_BUSY, got {value!r}")
    return value.upper()


def _dialplan(value, problem):
    """destination -> applications; a key starting with ``^`` is a regular expression tried,
    in order, for destinations without an exact key (e.g. the catch-all ``^(.*)$``)."""
    if not isinstance(value, dict):
        problem.fail("dialplan", "expected a mapping of destination -> applications")
    for dest in value:
        if str(dest).startswith("^"):
            try:
                re.compile(str(dest))
            except re.error as exc:
                problem.fail(f"dialplan.{dest}", f"invalid regular expression: {exc}")
    return {str(dest): _extension(apps, f"dialplan.{dest}", problem)
            for dest, apps in value.items()}


def _extension(apps, where, problem):
    if not isinstance(apps, list) or not apps:
        problem.fail(where, "expected a non-empty list of [application, argument]")
    return [_application(app, f"{where}[{i}]", problem) for i, app in enumerate(apps)]


def _application(app, where, problem):
    if isinstance(app, str):
        name, _, arg = app.partition(" ")
        return name, arg
    if (not isinstance(app, list) or not 1 <= len(app) <= 2
            or not isinstance(app[0], str) or isinstance(app[-1], (dict, list))):
        problem.fail(where, "expected [application] or [application, argument]")
    arg = "" if len(app) == 1 or app[1] is None else str(app[1])
    return app[0], arg


def _sounds(value, problem):
    if not isinstance(value, dict):
        problem.fail("sounds", "expected a mapping of glob -> seconds")
    sounds = {str(glob): _number(seconds, f"sounds.{glob}", problem)
              for glob, seconds in value.items()}
    sounds.setdefault("default", 1.0)
    return sounds


def _latency(data, problem):
    """``command-latency`` (command name -> seconds >= 0) and ``event-delay`` (seconds >= 0)."""
    value = data.get("command-latency", {})
    if value is None:
        value = {}
    if not isinstance(value, dict):
        problem.fail("command-latency", "expected a mapping of command name -> seconds")
    commands = {}
    for name, seconds in value.items():
        if not isinstance(name, str) or not _COMMAND_NAME.match(name):
            problem.fail(f"command-latency.{name}",
                         "expected an api command name (one word, e.g. uuid_bridge) or sendmsg")
        commands[name] = _number(seconds, f"command-latency.{name}", problem)
    delay = _number(data.get("event-delay", 0.0), "event-delay", problem)
    return {name: s for name, s in commands.items() if s > 0}, delay
