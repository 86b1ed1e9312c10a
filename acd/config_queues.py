"""Queues in ``acd.yaml``: their dataclasses, the reading of ``queues:`` and the checks across
queues (tiers -> agents, overflow/exit-action targets, overflow loops).

Theory of operation: :func:`read_queues` walks ``queues:`` with the typed readers of
``acd.config_reader`` (a bad value records ``FILE: key.path: problem`` and the walk goes on with the
default, so one run reports every problem); :func:`check_queues` then checks what needs every queue
read first. ``acd.config`` re-exports the dataclasses; docs/config.md is the reference and
acd/defaults.py holds every default.
"""

import re
from dataclasses import dataclass

from acd import defaults
from acd import ivr_config
from acd.config_recording import OFF as RECORDING_OFF, RecordingConfig, read_recording
from acd.config_reader import MISSING, Reader, as_text, items, key_path, shown, unknown_key
from acd.core.skills import SKILL_ORDERS, SkillError, check_skill

STRATEGIES = ("longest-idle-agent", "top-down", "round-robin", "agent-with-fewest-calls",
              "agent-with-least-talk-time", "random", "ring-all", "sequentially-by-agent-order",
              "ring-progressively", "skills")
ACTION_KINDS = ("queue", "transfer", "hangup")
_QUEUE_KEYS = ("name", "strategy", "ring-timeout", "moh-sound", "max-wait-time",
               "max-wait-time-with-no-agent", "max-wait-time-with-no-agent-time-reached",
               "overflow", "announce-sound", "announce-frequency", "announce-position",
               "exit-key", "exit-action", "tier-rules-apply", "tier-rule-wait-second",
               "discard-abandoned-after", "abandoned-resume-allowed", "tiers",
               "skill-order", "requirements", "relax", "schedule", "closed-action",
               "service-level-threshold", "service-level-count-short-abandons", "recording",
               "wrap-up-codes", "wrap-up-code-required", "wrap-up-code-wins")  # acd/wrapup.py
_TIER_KEYS = ("agent", "level", "position")
_RELAX_KEYS = ("after", "requirements")
#: Tier levels a skills queue can tell apart (its Redis scores pack level and proficiency).
MAX_SKILLS_TIER_LEVEL = 80
NAME = re.compile(r"[A-Za-z0-9_.@+-]+\Z")      # agent ids, queue names: safe in keys and URLs
NAME_CHARS = "letters, digits and _ . @ + -"
_CAUSE = re.compile(r"[A-Z_]+\Z")
_DTMF = "0123456789*#"


@dataclass(frozen=True)
class Action:
    """Where a caller goes: ``queue`` (a queue name), ``transfer`` ("DEST [DIALPLAN [CONTEXT]]")
    or ``hangup`` (a hangup cause)."""
    kind: str
    target: str


@dataclass(frozen=True)
class Tier:
    agent: str
    level: int = defaults.TIER_LEVEL
    position: int = defaults.TIER_POSITION


@dataclass(frozen=True)
class RelaxStep:
    """After ``after`` seconds in the queue, these requirements apply (see acd/core/skills.py)."""
    after: float
    requirements: "tuple[tuple[str, int], ...]" = ()


@dataclass(frozen=True)
class QueueConfig:
    """One queue. Times are seconds; 0 means off/unlimited where docs/config.md says so."""
    name: str
    strategy: str = defaults.QUEUE_STRATEGY
    ring_timeout: float = defaults.QUEUE_RING_TIMEOUT
    moh_sound: str = defaults.QUEUE_MOH_SOUND
    max_wait_time: float = defaults.QUEUE_MAX_WAIT_TIME
    max_wait_time_with_no_agent: float = defaults.QUEUE_MAX_WAIT_TIME_WITH_NO_AGENT
    max_wait_time_with_no_agent_time_reached: float = \
        defaults.QUEUE_MAX_WAIT_TIME_WITH_NO_AGENT_TIME_REACHED
    overflow: "Action | None" = None
    announce_sound: "str | None" = None
    announce_frequency: float = defaults.QUEUE_ANNOUNCE_FREQUENCY
    announce_position: float = defaults.QUEUE_ANNOUNCE_POSITION
    exit_key: "str | None" = None
    exit_action: "Action | None" = None
    tier_rules_apply: bool = defaults.QUEUE_TIER_RULES_APPLY
    tier_rule_wait_second: float = defaults.QUEUE_TIER_RULE_WAIT_SECOND
    discard_abandoned_after: float = defaults.QUEUE_DISCARD_ABANDONED_AFTER
    abandoned_resume_allowed: bool = defaults.QUEUE_ABANDONED_RESUME_ALLOWED
    tiers: "tuple[Tier, ...]" = ()
    skill_order: str = defaults.QUEUE_SKILL_ORDER
    #: minimum proficiency per skill: ((skill, level), ...) sorted by skill
    requirements: "tuple[tuple[str, int], ...]" = ()
    relax: "tuple[RelaxStep, ...]" = ()
    #: business hours (a schedule name) and what a caller gets while closed (acd/ivr_config.py)
    schedule: "str | None" = None
    closed_action: "ivr_config.IvrAction | None" = None
    service_level_threshold: float = defaults.QUEUE_SERVICE_LEVEL_THRESHOLD
    service_level_count_short_abandons: bool = defaults.QUEUE_SERVICE_LEVEL_COUNT_SHORT_ABANDONS
    #: recording only with consent (acd/config_recording.py, docs/recording.md)
    recording: RecordingConfig = RECORDING_OFF
    #: dispositions an agent gives after a call (acd/wrapup.py, docs/crm.md)
    wrap_up_codes: "tuple[str, ...]" = ()
    wrap_up_code_required: bool = False
    wrap_up_code_wins: bool = False



def read_queues(data, agent_ids, problems):
    queues, seen = [], {}
    for where, item in items(data, "queues", problems):
        queue = _queue(Reader(item, where, _QUEUE_KEYS, problems), agent_ids)
        if queue.name and queue.name in seen:
            problems.error(f"{where}.name", f"duplicate queue name {queue.name!r} "
                                            f"(also {seen[queue.name]})")
        seen.setdefault(queue.name, where)
        queues.append(queue)
    return queues


def _queue(r, agent_ids):
    queue = QueueConfig(**_queue_settings(r), **_announcements(r), **_exit(r),
                        **_service_level(r), tiers=_tiers(r, agent_ids),
                        **_skill_settings(r), recording=read_recording(r), **_wrap_up_codes(r))
    if queue.strategy == "skills":
        for i, tier in enumerate(queue.tiers):
            if tier.level > MAX_SKILLS_TIER_LEVEL:
                r.problems.error(f"{r.where}.tiers[{i}].level",
                                 f"a skills queue has tier levels 1..{MAX_SKILLS_TIER_LEVEL}, "
                                 f"got {tier.level}")
    return queue


def _skill_settings(r):
    relax, last = [], None
    for where, item in items(r.raw("relax", None), key_path(r.where, "relax"), r.problems):
        step = Reader(item, where, _RELAX_KEYS, r.problems)
        if not step.has("after"):
            step.fail("after", "required: seconds of waiting after which this step applies")
        after = step.seconds("after", 0.0, positive=True)
        if last is not None and after <= last:
            step.fail("after", f"steps must come in increasing order of after (previous: {last:g})")
        if not step.has("requirements"):
            step.fail("requirements", "required: the requirements from then on ({} = anyone)")
        relax.append(RelaxStep(after, skill_map(step, "requirements", "minimum proficiency")))
        last = after
    return dict(skill_order=r.choice("skill-order", defaults.QUEUE_SKILL_ORDER, SKILL_ORDERS),
                requirements=skill_map(r, "requirements", "minimum proficiency"),
                relax=tuple(relax))


def _wrap_up_codes(r):
    from acd.wrapup import read_codes     # the wrap-up codes' own module reads them
    return read_codes(r)


def _service_level(r):
    return dict(
        service_level_threshold=r.seconds("service-level-threshold",
                                          defaults.QUEUE_SERVICE_LEVEL_THRESHOLD),
        service_level_count_short_abandons=r.boolean(
            "service-level-count-short-abandons",
            defaults.QUEUE_SERVICE_LEVEL_COUNT_SHORT_ABANDONS))


def _queue_settings(r):
    return dict(
        name=r.token("name", "a queue name", NAME, NAME_CHARS),
        strategy=r.choice("strategy", defaults.QUEUE_STRATEGY, STRATEGIES),
        ring_timeout=r.seconds("ring-timeout", defaults.QUEUE_RING_TIMEOUT, positive=True),
        moh_sound=r.text("moh-sound", defaults.QUEUE_MOH_SOUND),
        max_wait_time=r.seconds("max-wait-time", defaults.QUEUE_MAX_WAIT_TIME),
        max_wait_time_with_no_agent=r.seconds("max-wait-time-with-no-agent",
                                              defaults.QUEUE_MAX_WAIT_TIME_WITH_NO_AGENT),
        max_wait_time_with_no_agent_time_reached=r.seconds(
            "max-wait-time-with-no-agent-time-reached",
            defaults.QUEUE_MAX_WAIT_TIME_WITH_NO_AGENT_TIME_REACHED),
        overflow=read_action(r, "overflow"),
        tier_rules_apply=r.boolean("tier-rules-apply", defaults.QUEUE_TIER_RULES_APPLY),
        tier_rule_wait_second=r.seconds("tier-rule-wait-second",
                                        defaults.QUEUE_TIER_RULE_WAIT_SECOND),
        discard_abandoned_after=r.seconds("discard-abandoned-after",
                                          defaults.QUEUE_DISCARD_ABANDONED_AFTER),
        abandoned_resume_allowed=r.boolean("abandoned-resume-allowed",
                                           defaults.QUEUE_ABANDONED_RESUME_ALLOWED))


def _announcements(r):
    found = dict(announce_sound=r.text("announce-sound", None),
                 announce_frequency=r.seconds("announce-frequency",
                                              defaults.QUEUE_ANNOUNCE_FREQUENCY),
                 announce_position=r.seconds("announce-position",
                                             defaults.QUEUE_ANNOUNCE_POSITION))
    if found["announce_frequency"] and not found["announce_sound"]:
        r.fail("announce-frequency", "needs announce-sound (the file to play)")
    elif found["announce_sound"] and not found["announce_frequency"]:
        r.problems.warn(key_path(r.where, "announce-sound"),
                        "never played: announce-frequency is 0 (off)")
    return found


def _exit(r):
    key = _exit_key(r)
    action = read_action(r, "exit-action")
    if key is not None and r.raw("exit-action") is None:
        r.fail("exit-action", "required with exit-key: where a caller who presses it goes")
    if key is None and r.has("exit-action") and not r.has("exit-key"):
        r.fail("exit-action", "only meaningful with exit-key")
    return dict(exit_key=key, exit_action=action)


def _exit_key(r):
    if not r.has("exit-key"):
        return None
    value = r.raw("exit-key", MISSING)
    text = as_text(value)
    if text is None or len(text) != 1 or text not in _DTMF:
        hint = " (write \"#\" in quotes: a bare # starts a YAML comment)" if value is None else ""
        r.fail("exit-key", f"expected one DTMF key 0-9, * or #{hint}, got {shown(value)}")
        return None
    return text


def read_action(r, name):
    """overflow / exit-action: {queue: NAME} | {transfer: "DEST [DIALPLAN [CONTEXT]]"} |
    {hangup: CAUSE}."""
    value = r.raw(name, None)
    if value is None:
        return None
    where = key_path(r.where, name)
    if not isinstance(value, dict) or len(value) != 1:
        r.fail(name, "expected exactly one of {queue: NAME}, {transfer: \"DEST [DIALPLAN "
                     f"[CONTEXT]]\"}}, {{hangup: CAUSE}}; got {shown(value)}")
        return None
    (kind, target), = value.items()
    if kind not in ACTION_KINDS:
        r.problems.error(key_path(where, kind), unknown_key(str(kind), ACTION_KINDS))
        return None
    check = {"queue": _queue_target, "transfer": _transfer_target, "hangup": _hangup_target}
    text, problem = check[kind](target)
    if problem:
        r.problems.error(f"{where}.{kind}", f"{problem}, got {shown(target)}")
        return None
    return Action(kind, text)


def _queue_target(target):
    text = as_text(target)
    return text, None if text and NAME.match(text) else "expected a queue name"


def _transfer_target(target):
    parts = (as_text(target) or "").split()
    if not 1 <= len(parts) <= 3:
        return None, "expected \"DEST [DIALPLAN [CONTEXT]]\" such as \"1999 XML default\""
    return " ".join(parts), None


def _hangup_target(target):
    if target is None:
        return defaults.HANGUP_CAUSE, None
    if isinstance(target, str) and _CAUSE.match(target):
        return target, None
    return None, "expected a hangup cause in capitals such as NORMAL_CLEARING or USER_BUSY"


def _tiers(r, agent_ids):
    tiers, seen = [], {}
    for where, item in items(r.raw("tiers", None), key_path(r.where, "tiers"), r.problems):
        t = Reader(item, where, _TIER_KEYS, r.problems)
        tier = Tier(agent=t.token("agent", "an agent id", NAME, NAME_CHARS),
                    level=t.integer("level", defaults.TIER_LEVEL, 1),
                    position=t.integer("position", defaults.TIER_POSITION, 1))
        if tier.agent and tier.agent not in agent_ids:
            t.fail("agent", f"unknown agent {tier.agent!r} (not in agents)")
        elif tier.agent in seen:
            t.fail("agent", f"agent {tier.agent!r} has a tier in this queue already "
                            f"({seen[tier.agent]})")
        seen.setdefault(tier.agent, where)
        tiers.append(tier)
    return tuple(tiers)


def check_queues(queues, problems):
    """The checks that need every queue read first."""
    _check_targets(queues, problems)
    _check_overflow_loops(queues, problems)


def _check_targets(queues, problems):
    """Every {queue: NAME} action names a configured queue other than its own."""
    names = {queue.name for queue in queues}
    for i, queue in enumerate(queues):
        for key, action in (("overflow", queue.overflow), ("exit-action", queue.exit_action)):
            if action is None or action.kind != "queue":
                continue
            where = f"queues[{i}].{key}.queue"
            if action.target not in names:
                known = ", ".join(dict.fromkeys(q.name for q in queues if q.name))
                problems.error(where, f"unknown queue {action.target!r} (queues: {known})")
            elif key == "exit-action" and action.target == queue.name:
                problems.error(where, "a queue's exit-action cannot lead back into itself")


def _check_overflow_loops(queues, problems):
    """Overflow chains must end: support -> sales -> support would pass a caller round forever."""
    by_name = {queue.name: queue for queue in queues}
    reported = set()
    for i, queue in enumerate(queues):
        path, target = [queue.name], _overflow_queue(queue)
        while target in by_name and target not in path:
            path.append(target)
            target = _overflow_queue(by_name[target])
        if target == queue.name and queue.name not in reported:
            reported.update(path)
            problems.error(f"queues[{i}].overflow.queue",
                           "overflow loop: " + " -> ".join(path + [queue.name]))


def _overflow_queue(queue):
    overflow = queue.overflow
    return overflow.target if overflow is not None and overflow.kind == "queue" else None


def skill_map(r, name, what):
    """{skill: level 1..10} as sorted pairs; every bad entry reported."""
    value = r.raw(name, None)
    if value is None:
        return ()
    if not isinstance(value, dict):
        r.fail(name, f"expected a mapping of skill: {what} 1..10 such as {{german: 5}}, "
                     f"got {shown(value)}")
        return ()
    found = {}
    for skill, level in value.items():
        try:
            check_skill(as_text(skill), level, what)
        except SkillError as exc:
            r.problems.error(key_path(key_path(r.where, name), str(skill)), str(exc))
            continue
        found[as_text(skill)] = level
    return tuple(sorted(found.items()))
