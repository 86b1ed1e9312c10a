"""The ``ivr`` and ``schedules`` sections, and the queues' ``schedule`` / ``closed-action``.

Theory of operation: :func:`read` is called once by ``acd.config.parse_config`` after agents and
queues are read. It reads the schedules (``acd.schedule`` parses their spellings), then each
menu and every action in it with the problem-collecting readers of ``acd.config_reader``, so a
bad value is one ``FILE: key.path: problem`` line and the walk goes on. Actions are remembered
with their key path; once every menu is known the cross-references are checked (unknown menu,
queue, agent or schedule), then menu loops without an exit (a cycle of menus from which no
option leads anywhere but to another menu). Everything returned is frozen data; docs/ivr.md is
the reference of every key. This module never imports ``acd.config`` (that imports it).
"""

import re
from dataclasses import dataclass, replace

from acd import defaults
from acd.core.skills import SkillError, parse_skills
from acd.config_reader import Reader, as_text, items, key_path, shown, unknown_key
from acd.esl.commands import UnsafeValue, parse_contact
from acd.schedule import DAYS, Schedule, parse_date, parse_days, parse_hours, zone

ACTION_KINDS = ("queue", "menu", "collect", "agent", "transfer", "dial", "hangup", "playback",
                "set", "repeat", "back")
#: Keys allowed beside an action's kind.
_EXTRA = {"queue": ("skills", "priority"), "agent": ("priority",), "collect": ("then",),
          "playback": ("then",), "set": ("then",)}
_MENU_KEYS = ("name", "greeting", "invalid-sound", "timeout", "digit-timeout", "max-failures",
              "on-failure", "language", "schedule", "closed-action", "options")
_COLLECT_KEYS = ("var", "min", "max", "prompt", "timeout", "digit-timeout")
_SCHEDULE_KEYS = ("timezone", "weekly", "closed-dates")
DTMF_KEYS = "0123456789*#"

_NAME = re.compile(r"[A-Za-z0-9_.@+-]+\Z")
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_CAUSE = re.compile(r"[A-Z_]+\Z")
_LANGUAGE = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")
_SOUND = re.compile(r"[^\s{}$]+\Z")
#: Variables acd itself uses on the caller's channel: a set or collect may not overwrite them.
RESERVED_VARS = ("acd_ivr", "acd_ivr_digits", "acd_ivr_digits_invalid", "acd_queue", "acd_role",
                 "acd_agent", "acd_call")


@dataclass(frozen=True)
class Collect:
    """play_and_get_digits into ``var``: min..max digits, ended early by #."""
    var: str
    prompt: str
    min: int = 1
    max: int = defaults.IVR_COLLECT_MAX
    timeout: "float | None" = None          # None: the menu's
    digit_timeout: "float | None" = None


@dataclass(frozen=True)
class IvrAction:
    """What happens to a caller: ``kind`` is one of ACTION_KINDS; ``target`` is the queue, menu
    or agent, the transfer destination, the dial string, the hangup cause or the sound."""
    kind: str
    target: str = ""
    skills: "str | None" = None
    priority: "int | None" = None
    collect: "Collect | None" = None
    variables: "tuple[tuple[str, str], ...]" = ()
    then: "IvrAction | None" = None


@dataclass(frozen=True)
class IvrMenu:
    name: str
    greeting: str
    invalid_sound: str = defaults.IVR_INVALID_SOUND
    timeout: float = defaults.IVR_TIMEOUT
    digit_timeout: float = defaults.IVR_DIGIT_TIMEOUT
    max_failures: int = defaults.IVR_MAX_FAILURES
    on_failure: "IvrAction | None" = None   # None: hang up
    language: "str | None" = None
    schedule: "str | None" = None
    closed_action: "IvrAction | None" = None
    options: "tuple[tuple[str, IvrAction], ...]" = ()

    def option(self, key):
        """The action of DTMF key ``key``, or None."""
        return next((action for k, action in self.options if k == key), None)


def read(top, queues, agent_ids, problems):
    """-> (menus, schedules, queues with schedule/closed-action). ``top`` is the file's Reader."""
    walk = _Walk(problems)
    schedules = _schedules(top.raw("schedules"), problems)
    menus = _menus(top.raw("ivr"), walk)
    queues = _closing(top.raw("queues"), queues, walk)
    names = {"queue": {q.name for q in queues}, "menu": {m.name for m in menus},
             "agent": set(agent_ids), "schedule": {s.name for s in schedules}}
    walk.check_targets(names)
    _check_loops(menus, problems)
    return tuple(menus), tuple(schedules), queues


# -- schedules ------------------------------------------------------------------------------

def _schedules(data, problems):
    if data is None:
        return []
    if not isinstance(data, dict):
        problems.error("schedules", f"expected a mapping of name -> schedule, got {shown(data)}")
        return []
    found = []
    for name, item in data.items():
        where = key_path("schedules", name)
        if not _NAME.match(str(as_text(name) or "")):
            problems.error(where, "expected a schedule name of letters, digits and _ . @ + -")
        found.append(_schedule(str(name), Reader(item, where, _SCHEDULE_KEYS, problems)))
    return found


def _schedule(name, r):
    tz = r.raw("timezone", None)
    try:
        zone(tz)
    except ValueError as exc:
        r.fail("timezone", "required: an IANA time zone such as Europe/Berlin" if tz is None
               else str(exc))
        tz = "UTC"
    return Schedule(name, tz, _weekly(r), frozenset(_dates(r)))


def _weekly(r):
    weekly, seen = [()] * 7, {}
    value = r.raw("weekly", None)
    if not isinstance(value, dict):
        r.fail("weekly", "required: a mapping of days -> hours such as "
                         "{mon-fri: \"08:00-18:00\", sat: \"09:00-13:00\"}")
        return tuple(weekly)
    for days, hours in value.items():
        where = key_path(key_path(r.where, "weekly"), days)
        try:
            numbers, ranges = parse_days(days), parse_hours(hours)
        except ValueError as exc:
            r.problems.error(where, str(exc))
            continue
        for day in numbers:
            if day in seen:
                r.problems.error(where, f"{DAYS[day]} is given twice (also in {seen[day]})")
            seen.setdefault(day, days)
            weekly[day] = ranges
    return tuple(weekly)


def _dates(r):
    dates = []
    for where, value in items(r.raw("closed-dates", None), key_path(r.where, "closed-dates"),
                              r.problems):
        try:
            dates.append(parse_date(value))
        except ValueError as exc:
            r.problems.error(where, str(exc))
    return dates


# -- menus ----------------------------------------------------------------------------------

def _menus(data, walk):
    menus, seen = [], {}
    for where, item in items(data, "ivr", walk.problems):
        r = Reader(item, where, _MENU_KEYS, walk.problems)
        menu = _menu(r, walk)
        if menu.name and menu.name in seen:
            r.fail("name", f"duplicate menu name {menu.name!r} (also {seen[menu.name]})")
        seen.setdefault(menu.name, where)
        menus.append(menu)
    return menus


def _menu(r, walk):
    name = r.token("name", "a menu name", _NAME, "letters, digits and _ . @ + -")
    timeout = r.seconds("timeout", defaults.IVR_TIMEOUT, positive=True)
    if timeout < 1:
        r.problems.warn(key_path(r.where, "timeout"),
                        "FreeSWITCH's play_and_get_digits waits at least 1 second")
    schedule, closed = _schedule_ref(r, walk, "menu")
    return IvrMenu(
        name=name, greeting=walk.sound(r, "greeting", required=True),
        invalid_sound=walk.sound(r, "invalid-sound") or defaults.IVR_INVALID_SOUND,
        timeout=timeout,
        digit_timeout=r.seconds("digit-timeout", defaults.IVR_DIGIT_TIMEOUT, positive=True),
        max_failures=r.integer("max-failures", defaults.IVR_MAX_FAILURES, 1),
        on_failure=walk.action(r.raw("on-failure"), key_path(r.where, "on-failure"), "failure"),
        language=_language(r), schedule=schedule, closed_action=closed,
        options=_options(r, walk))


def _language(r):
    value = r.raw("language", None)
    if value is not None and not (isinstance(value, str) and _LANGUAGE.match(value)):
        r.fail("language", f"expected a language code such as de or en-GB, got {shown(value)}")
        return None
    return value


def _schedule_ref(r, walk, context):
    schedule = r.raw("schedule", None)
    if schedule is not None:
        schedule = as_text(schedule)
        walk.refs.append((key_path(r.where, "schedule"), "schedule", schedule))
    closed = walk.action(r.raw("closed-action"), key_path(r.where, "closed-action"),
                         f"closed-{context}")
    if schedule is not None and r.raw("closed-action") is None:
        r.fail("closed-action", "required with schedule: what a caller gets while it is closed")
    elif schedule is None and r.has("closed-action"):
        r.fail("closed-action", "only meaningful with schedule")
    return schedule, closed


def _options(r, walk):
    value = r.raw("options", None)
    if not isinstance(value, dict) or not value:
        r.fail("options", "required: a mapping of DTMF key -> action, such as "
                          "{\"1\": {queue: sales}}")
        return ()
    options = []
    for key, item in value.items():
        text = as_text(key)
        where = key_path(key_path(r.where, "options"), text if text is not None else key)
        if text is None or len(text) != 1 or text not in DTMF_KEYS:
            r.problems.error(where, f"expected one DTMF key 0-9, * or # (in quotes), "
                                    f"got {shown(key)}")
            continue
        action = walk.action(item, where, "option")
        if action is not None:
            options.append((text, action))
    return tuple(options)


def _closing(data, queues, walk):
    """The queues' schedule and closed-action (the queue reader left them to this module)."""
    found = list(queues)
    for i, (where, item) in enumerate(items(data, "queues", _Silent())):
        if i >= len(found) or not isinstance(item, dict):
            continue
        r = Reader(item, where, tuple(item), walk.problems)
        schedule, closed = _schedule_ref(r, walk, "queue")
        if schedule is not None or closed is not None:
            found[i] = replace(found[i], schedule=schedule, closed_action=closed)
    return found


class _Silent:
    def error(self, *_):
        pass


# -- actions --------------------------------------------------------------------------------

class _Walk:
    """Reads actions and sounds, remembering every reference for the checks at the end."""

    def __init__(self, problems):
        self.problems = problems
        self.refs = []      # (key.path, kind, name)

    def fail(self, where, text):
        self.problems.error(where, text)

    def sound(self, r, name, required=False):
        value = r.raw(name, None)
        if value is None:
            if required:
                r.fail(name, "required: a sound file such as ivr/welcome.wav")
            return None
        problem = sound_problem(value)
        if problem:
            r.fail(name, problem)
            return None
        return value

    def action(self, value, where, context):
        """One action mapping -> IvrAction (None when absent or bad; problems recorded)."""
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(where, f"expected an action such as {{queue: sales}}, got {shown(value)}")
            return None
        kinds = [k for k in value if k in ACTION_KINDS]
        if len(kinds) != 1:
            self.fail(where, f"expected exactly one of {', '.join(ACTION_KINDS)}; got "
                             f"{', '.join(map(str, kinds)) or 'none'}")
            return None
        kind = kinds[0]
        allowed = (kind,) + _EXTRA.get(kind, ())
        for key in value:
            if key not in allowed:
                self.fail(key_path(where, key), unknown_key(str(key), allowed))
        if context.startswith("closed") and kind == "repeat":
            self.fail(key_path(where, kind), "would replay what is closed; use another action")
        if context == "closed-queue" and kind == "back":
            self.fail(key_path(where, kind), "a queue's closed-action has no menu to go back to")
        return getattr(self, "_" + kind)(value, where, context)

    def _named(self, kind, value, where):
        text = as_text(value[kind])
        if not text or not _NAME.match(text):
            self.fail(key_path(where, kind), f"expected a {kind} name, got {shown(value[kind])}")
            return None
        self.refs.append((key_path(where, kind), kind, text))
        return text

    def _queue(self, value, where, context):
        target = self._named("queue", value, where)
        skills = value.get("skills")
        if skills is not None and not _valid_skills(skills):  # as the router will read them
            self.fail(key_path(where, "skills"), "expected skills such as \"billing:2\" or "
                                                 f"\"german:4,billing:2\", got {shown(skills)}")
            skills = None
        priority = self._priority(value, where)
        return IvrAction("queue", target, skills=skills, priority=priority) if target else None

    def _priority(self, value, where):
        priority = value.get("priority")
        if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool)):
            self.fail(key_path(where, "priority"), f"expected a whole number, got {shown(priority)}")
            return None
        return None if priority is None else int(priority)

    def _menu(self, value, where, context):
        target = self._named("menu", value, where)
        return IvrAction("menu", target) if target else None

    def _agent(self, value, where, context):
        target = self._named("agent", value, where)
        priority = self._priority(value, where)
        return IvrAction("agent", target, priority=priority) if target else None

    def _transfer(self, value, where, context):
        parts = (as_text(value["transfer"]) or "").split()
        if not 1 <= len(parts) <= 3 or any(not _SOUND.match(p) for p in parts):
            self.fail(key_path(where, "transfer"), "expected \"DEST [DIALPLAN [CONTEXT]]\" such "
                                                   f"as \"9000 XML default\", got "
                                                   f"{shown(value['transfer'])}")
            return None
        return IvrAction("transfer", " ".join(parts))

    def _dial(self, value, where, context):
        dial = value["dial"]
        try:
            parse_contact(dial if isinstance(dial, str) else "")
        except UnsafeValue:
            self.fail(key_path(where, "dial"), "expected a FreeSWITCH dial string without spaces "
                                               "such as sofia/gateway/pstn/+4930123456, got "
                                               f"{shown(dial)}")
            return None
        return IvrAction("dial", dial)

    def _hangup(self, value, where, context):
        cause = value["hangup"]
        if cause is None:
            return IvrAction("hangup", defaults.HANGUP_CAUSE)
        if not (isinstance(cause, str) and _CAUSE.match(cause)):
            self.fail(key_path(where, "hangup"), "expected a hangup cause in capitals such as "
                                                 f"NORMAL_CLEARING, got {shown(cause)}")
            return None
        return IvrAction("hangup", cause)

    def _playback(self, value, where, context):
        problem = sound_problem(value["playback"])
        if problem:
            self.fail(key_path(where, "playback"), problem)
            return None
        return IvrAction("playback", value["playback"], then=self._then(value, where, context))

    def _set(self, value, where, context):
        variables = value["set"]
        if not isinstance(variables, dict) or not variables:
            self.fail(key_path(where, "set"), "expected a mapping of variable -> value such as "
                                              f"{{acd_language: de}}, got {shown(variables)}")
            return None
        pairs = []
        for name, item in variables.items():
            if self._var_ok(name, key_path(key_path(where, "set"), name)):
                if isinstance(item, (dict, list)) or item is None:
                    self.fail(key_path(key_path(where, "set"), name),
                              f"expected a text or number, got {shown(item)}")
                    continue
                text = as_text(item) if as_text(item) is not None else shown(item)
                if name == "acd_language" and not _LANGUAGE.match(text):
                    self.fail(key_path(key_path(where, "set"), name),
                              f"expected a language code such as de or en-GB, got {shown(item)}")
                    continue
                pairs.append((name, text))
        then = self._then(value, where, context, required=True)
        return IvrAction("set", variables=tuple(pairs), then=then) if then else None

    def _var_ok(self, name, where):
        if not isinstance(name, str) or not _VAR.match(name):
            self.fail(where, "expected a variable name of letters, digits and _")
            return False
        if name in RESERVED_VARS:
            self.fail(where, f"{name} is acd's own variable")
            return False
        return True

    def _collect(self, value, where, context):
        c = Reader(value["collect"], key_path(where, "collect"), _COLLECT_KEYS, self.problems)
        var = c.raw("var", None)
        if var is None:
            c.fail("var", "required: the variable that gets the digits")
        elif not self._var_ok(var, key_path(c.where, "var")):
            var = None
        minimum = c.integer("min", 1, 1)
        maximum = c.integer("max", max(minimum, defaults.IVR_COLLECT_MAX), 1)
        if maximum < minimum or maximum > 128:
            c.fail("max", f"expected a whole number from min ({minimum}) to 128, got {maximum}")
        collect = Collect(var=var or "", prompt=self.sound(c, "prompt", required=True) or "",
                          min=minimum, max=maximum,
                          timeout=c.seconds("timeout", None, positive=True),
                          digit_timeout=c.seconds("digit-timeout", None, positive=True))
        then = self._then(value, where, context, required=True)
        return IvrAction("collect", collect=collect, then=then) if then and var else None

    def _then(self, value, where, context, required=False):
        if value.get("then") is None:
            if required:
                self.fail(key_path(where, "then"), "required: what happens next")
            return None
        return self.action(value["then"], key_path(where, "then"), context)

    def _repeat(self, value, where, context):
        return self._flag("repeat", value, where)

    def _back(self, value, where, context):
        return self._flag("back", value, where)

    def _flag(self, kind, value, where):
        if value[kind] is not True:
            self.fail(key_path(where, kind), f"expected true, got {shown(value[kind])}")
            return None
        return IvrAction(kind)

    def check_targets(self, names):
        for where, kind, name in self.refs:
            if name not in names[kind]:
                known = ", ".join(sorted(names[kind])) or "none"
                plural = {"queue": "queues", "menu": "ivr menus", "agent": "agents",
                          "schedule": "schedules"}[kind]
                self.fail(where, f"unknown {kind} {name!r} ({plural}: {known})")


def sound_problem(value):
    """Why ``value`` cannot be a sound path (None when it can)."""
    if not isinstance(value, str) or not value.strip():
        return f"expected a sound file such as ivr/welcome.wav, got {shown(value)}"
    if not _SOUND.match(value.replace("{lang}", "")):
        return (f"expected a sound path without spaces, $ or braces other than {{lang}}, "
                f"got {shown(value)}")
    return None


# -- loops ----------------------------------------------------------------------------------

def _chain(action):
    while action is not None:
        yield action
        action = action.then


def _leads(menu):
    """(menus the options lead to, whether some option leads out of the menus)."""
    targets, exits = set(), False
    for _, action in menu.options:
        last = list(_chain(action))[-1]
        if last.kind == "menu":
            targets.add(last.target)
        elif last.kind != "repeat":
            exits = True      # back returns to a menu the caller came from: not a trap
    return targets, exits


def _check_loops(menus, problems):
    """Report menus from which no sequence of options leads out of the IVR."""
    index = {m.name: i for i, m in enumerate(menus)}
    leads = {m.name: _leads(m) for m in menus}
    escape = {name for name, (_, exits) in leads.items() if exits}
    changed = True
    while changed:
        changed = False
        for name, (targets, _) in leads.items():
            if name not in escape and targets & escape:
                escape.add(name)
                changed = True
    reported = set()
    for menu in menus:
        if menu.name in escape or menu.name in reported or not menu.options:
            continue
        cycle = _cycle(menu.name, leads, escape)
        where = f"ivr[{index[menu.name]}].options"
        if cycle:
            reported.update(cycle)
            problems.error(where, "menu loop without an exit: " + " -> ".join(cycle))
        elif not leads[menu.name][0]:
            problems.error(where, "no option leads out of the menu (only repeat)")


def _cycle(start, leads, escape):
    """A cycle through ``start`` among menus without an exit, as [start, ..., start]."""
    stack, seen = [(start, [start])], set()
    while stack:
        name, path = stack.pop()
        for target in sorted(leads.get(name, (set(),))[0]):
            if target == start:
                return path + [start]
            if target in leads and target not in escape and target not in seen:
                seen.add(target)
                stack.append((target, path + [target]))
    return None


def _valid_skills(text):
    """Whether ``text`` is call skills the router accepts (``acd_skills``: name:level,...)."""
    try:
        return isinstance(text, str) and bool(parse_skills(text))
    except SkillError:
        return False
