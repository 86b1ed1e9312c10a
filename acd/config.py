"""The daemon's configuration: ``acd.yaml`` read into frozen dataclasses.

Theory of operation: ``load_config`` reads the YAML (a duplicate key is a YAML error; integers
keep the text they were written as, so ``id: 0123`` stays "0123") and hands the mapping to
``parse_config``. That walks it section by section with the typed readers of
``acd.config_reader``: a bad value records ``FILE: key.path: problem`` and the walk goes on with
the default, so one run reports every problem. Cross-references (tiers -> agents, overflow and
exit-action -> queues, overflow loops) are checked once every agent and queue is read.
Anything legal but probably not meant becomes a warning line on ``Config.warnings``. The key
names are a promise to users, following mod_callcenter where the meaning is the same;
docs/config.md is the reference and acd/defaults.py holds every default. Nothing here prints a
secret.
"""

import os
import re
from dataclasses import dataclass, field

from acd.core.skills import SKILL_ORDERS, SkillError, check_skill, match_sets
from acd.esl.commands import UnsafeValue, parse_contact
from acd.schedule import Schedule

from acd import config_cti, defaults
from acd import ivr_config
from acd.config_reader import (MISSING, ConfigError, Problems, Reader, as_text, items, key_path,
                               read_yaml, shown, unknown_key)

__all__ = ["ConfigError", "load_config", "parse_config", "Config", "FreeswitchConfig",
           "RedisConfig", "HttpConfig", "AgentConfig", "QueueConfig", "Tier", "Action", "RelaxStep",
           "STRATEGIES", "AGENT_STATUSES", "ACTION_KINDS"]
__all__ += ["MetricsConfig", "RecordsConfig"]

STRATEGIES = ("longest-idle-agent", "top-down", "round-robin", "agent-with-fewest-calls",
              "agent-with-least-talk-time", "random", "ring-all", "sequentially-by-agent-order",
              "ring-progressively", "skills")
AGENT_STATUSES = ("logged-out", "available", "on-break")
ACTION_KINDS = ("queue", "transfer", "hangup")
ENV_ESL_PASSWORD = "ACD_ESL_PASSWORD"
ENV_ADMIN_TOKEN = "ACD_ADMIN_TOKEN"

_TOP_KEYS = ("freeswitch", "redis", "http", "agents", "queues", "ivr", "schedules", "metrics",
             "records", "cti")   # ivr, schedules: acd/ivr_config.py reads them; cti: config_cti
_FREESWITCH_KEYS = ("host", "port", "password", "command-timeout")
_REDIS_KEYS = ("url", "prefix")
_HTTP_KEYS = ("listen", "admin-token") + config_cti.HTTP_KEYS
_AGENT_KEYS = ("id", "name", "contact", "status", "max-no-answer", "wrap-up-time",
               "reject-delay-time", "busy-delay-time", "no-answer-delay-time", "ring-timeout",
               "skills") + config_cti.AGENT_KEYS
_QUEUE_KEYS = ("name", "strategy", "ring-timeout", "moh-sound", "max-wait-time",
               "max-wait-time-with-no-agent", "max-wait-time-with-no-agent-time-reached",
               "overflow", "announce-sound", "announce-frequency", "announce-position",
               "exit-key", "exit-action", "tier-rules-apply", "tier-rule-wait-second",
               "discard-abandoned-after", "abandoned-resume-allowed", "tiers",
               "skill-order", "requirements", "relax", "schedule", "closed-action",
               "service-level-threshold", "service-level-count-short-abandons")
_TIER_KEYS = ("agent", "level", "position")
_RELAX_KEYS = ("after", "requirements")
#: Tier levels a skills queue can tell apart (its Redis scores pack level and proficiency).
MAX_SKILLS_TIER_LEVEL = 80
_METRICS_KEYS = ("per-agent", "service-level-window")
_RECORDS_KEYS = ("max-length", "retention")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])\Z")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

_NAME = re.compile(r"[A-Za-z0-9_.@+-]+\Z")      # agent ids, queue names: safe in keys and URLs
_NAME_CHARS = "letters, digits and _ . @ + -"
_PREFIX = re.compile(r"[A-Za-z0-9_.-]+\Z")
_CAUSE = re.compile(r"[A-Z_]+\Z")
_DTMF = "0123456789*#"

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


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
class FreeswitchConfig:
    host: str = defaults.ESL_HOST
    port: int = defaults.ESL_PORT
    password: str = field(default=defaults.ESL_PASSWORD, repr=False)
    command_timeout: float = defaults.FREESWITCH_COMMAND_TIMEOUT


@dataclass(frozen=True)
class RedisConfig:
    url: str = field(default=defaults.REDIS_URL, repr=False)   # may hold a password
    prefix: str = defaults.REDIS_PREFIX


@dataclass(frozen=True)
class HttpConfig:
    listen_host: str = defaults.HTTP_LISTEN_HOST
    listen_port: int = defaults.HTTP_LISTEN_PORT
    admin_token: "str | None" = field(default=defaults.HTTP_ADMIN_TOKEN, repr=False)


@dataclass(frozen=True)
class AgentConfig:
    """One agent. Times are seconds; ``status`` is the status at first start only."""
    id: str
    name: str
    contact: str
    status: str = defaults.AGENT_STATUS
    max_no_answer: int = defaults.AGENT_MAX_NO_ANSWER
    wrap_up_time: float = defaults.AGENT_WRAP_UP_TIME
    reject_delay_time: float = defaults.AGENT_REJECT_DELAY_TIME
    busy_delay_time: float = defaults.AGENT_BUSY_DELAY_TIME
    no_answer_delay_time: float = defaults.AGENT_NO_ANSWER_DELAY_TIME
    ring_timeout: "float | None" = defaults.AGENT_RING_TIMEOUT
    #: ((skill, proficiency 1..10), ...) sorted by skill; ``dict(agent.skills)`` to look up.
    skills: "tuple[tuple[str, int], ...]" = ()


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


@dataclass(frozen=True)
class MetricsConfig:
    """Prometheus metrics (docs/metrics.md)."""
    per_agent: bool = defaults.METRICS_PER_AGENT
    service_level_window: float = defaults.METRICS_SERVICE_LEVEL_WINDOW


@dataclass(frozen=True)
class RecordsConfig:
    """Call records in a Redis stream; ``max_length`` 0 = no records."""
    max_length: int = defaults.RECORDS_MAX_LENGTH
    retention: float = defaults.RECORDS_RETENTION


@dataclass(frozen=True)
class Config:
    """The whole file. ``agents`` and ``queues`` keep the file's order."""
    freeswitch: FreeswitchConfig = field(default_factory=FreeswitchConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    agents: "tuple[AgentConfig, ...]" = ()
    queues: "tuple[QueueConfig, ...]" = ()
    source: str = "<string>"
    #: ``FILE: warning: key.path: text`` lines: legal, but probably not what was meant.
    warnings: "tuple[str, ...]" = ()
    #: IVR menus and business-hours schedules (acd/ivr_config.py, docs/ivr.md).
    ivrs: "tuple[ivr_config.IvrMenu, ...]" = ()
    schedules: "tuple[Schedule, ...]" = ()
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    records: RecordsConfig = field(default_factory=RecordsConfig)
    #: logins, tokens, the event stream (acd/config_cti.py, docs/cti.md)
    cti: config_cti.CtiConfig = field(default_factory=config_cti.CtiConfig)

    def __post_init__(self):
        # indexes: the router looks agents and queues up on every call (10,000 agents)
        tiers = {}
        for queue in self.queues:
            for tier in queue.tiers:
                tiers.setdefault(tier.agent, []).append((queue, tier))
        object.__setattr__(self, "_agents", {a.id: a for a in self.agents})
        object.__setattr__(self, "_queues", {q.name: q for q in self.queues})
        object.__setattr__(self, "_tiers", tiers)
        object.__setattr__(self, "_ivrs", {m.name: m for m in self.ivrs})
        object.__setattr__(self, "_schedules", {s.name: s for s in self.schedules})

    def agent(self, agent_id):
        """The agent with this id; KeyError if there is none."""
        try:
            return self._agents[str(agent_id)]
        except KeyError:
            raise KeyError(f"no agent {agent_id!r} in {self.source}") from None

    def queue(self, name):
        """The queue with this name; KeyError if there is none."""
        try:
            return self._queues[str(name)]
        except KeyError:
            raise KeyError(f"no queue {name!r} in {self.source}") from None

    def has_queue(self, name):
        return str(name) in self._queues

    def match_sets(self, name):
        """The requirement skill sets a skills queue keeps agents ready-ordered for (cached)."""
        cache = self.__dict__.setdefault("_match_sets", {})
        if name not in cache:
            queue = self.queue(name)
            cache[name] = match_sets(queue.requirements,
                                     [(step.after, step.requirements) for step in queue.relax])
        return cache[name]

    def ivr(self, name):
        """The IVR menu with this name; KeyError if there is none."""
        try:
            return self._ivrs[str(name)]
        except KeyError:
            raise KeyError(f"no ivr menu {name!r} in {self.source}") from None

    def has_ivr(self, name):
        return str(name) in self._ivrs

    def schedule(self, name):
        """The schedule with this name; KeyError if there is none."""
        try:
            return self._schedules[str(name)]
        except KeyError:
            raise KeyError(f"no schedule {name!r} in {self.source}") from None

    def queues_of(self, agent_id):
        """``[(QueueConfig, Tier), ...]`` for every queue the agent has a tier in, in file order."""
        return list(self._tiers.get(str(agent_id), ()))


def load_config(path, env=os.environ):
    """Read and validate the daemon's YAML config; raises ConfigError listing every problem."""
    return parse_config(read_yaml(path), str(path), env)


def parse_config(data, source="<string>", env=os.environ):
    """Validate a config mapping (as YAML gives it); raises ConfigError listing every problem."""
    problems = Problems(source)
    top = Reader(data, "", _TOP_KEYS, problems, expected="a mapping at the top level")
    freeswitch = _freeswitch(top.raw("freeswitch"), env, problems)
    redis = _redis(top.raw("redis"), problems)
    http = _http(top.raw("http"), env, problems)
    agents = _agents(top.raw("agents"), problems)
    queues = _queues(top.raw("queues"), {agent.id for agent in agents}, problems)
    observability = dict(metrics=_metrics(top.raw("metrics"), problems),
                         records=_records(top.raw("records"), problems))
    _check_targets(queues, problems)
    _check_overflow_loops(queues, problems)
    ivrs, schedules, queues = ivr_config.read(top, queues, [a.id for a in agents], problems)
    cti = config_cti.read(top, problems)
    if problems.errors:
        raise ConfigError(problems.errors)
    _warn_unused(agents, queues, problems)
    return Config(freeswitch, redis, http, tuple(agents), tuple(queues), source,
                  tuple(problems.warnings), ivrs=ivrs, schedules=schedules, cti=cti,
                  **observability)


def _metrics(data, problems):
    r = Reader(data, "metrics", _METRICS_KEYS, problems)
    return MetricsConfig(
        per_agent=r.boolean("per-agent", defaults.METRICS_PER_AGENT),
        service_level_window=r.seconds("service-level-window",
                                       defaults.METRICS_SERVICE_LEVEL_WINDOW, positive=True))


def _records(data, problems):
    r = Reader(data, "records", _RECORDS_KEYS, problems)
    return RecordsConfig(max_length=r.integer("max-length", defaults.RECORDS_MAX_LENGTH, 0),
                         retention=_duration(r, "retention", defaults.RECORDS_RETENTION))


def _duration(r, name, default):
    """Seconds as a number, or a number with a unit: 90s, 15m, 12h, 30d."""
    value = r.raw(name, default)
    found = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if found:
        return float(found.group(1)) * _DURATION_UNITS[found.group(2)]
    if isinstance(value, str):
        r.fail(name, f"expected seconds or a duration such as 30d, 12h, 15m, got {shown(value)}")
        return default
    return r.seconds(name, default)


def _freeswitch(data, env, problems):
    r = Reader(data, "freeswitch", _FREESWITCH_KEYS, problems)
    password = _secret(r, "password", env, ENV_ESL_PASSWORD, defaults.ESL_PASSWORD)
    if password == defaults.ESL_PASSWORD:
        problems.warn("freeswitch.password", "FreeSWITCH's stock password; change it (here, in "
                      f"{ENV_ESL_PASSWORD} and in event_socket.conf.xml) for production")
    return FreeswitchConfig(
        host=r.text("host", defaults.ESL_HOST),
        port=_port(r, "port", defaults.ESL_PORT, minimum=1),
        password=password,
        command_timeout=r.seconds("command-timeout", defaults.FREESWITCH_COMMAND_TIMEOUT,
                                  positive=True))


def _secret(r, name, env, env_name, default):
    """A secret: the file's value, else the environment's, else the default. Never shown."""
    value, from_env = r.text(name, None, secret=True), env.get(env_name)
    if value is not None and from_env and from_env != value:
        r.problems.warn(key_path(r.where, name),
                        f"differs from {env_name}; the file's value is used")
    return value if value is not None else (from_env or default)


def _port(r, name, default, minimum):
    port = r.integer(name, default, minimum)
    if port > 65535:
        r.fail(name, f"expected a port number up to 65535, got {port}")
    return port


def _redis(data, problems):
    r = Reader(data, "redis", _REDIS_KEYS, problems)
    url = r.text("url", defaults.REDIS_URL, secret=True)
    if not url.startswith(_REDIS_SCHEMES):
        r.fail("url", "expected a URL starting with " + ", ".join(_REDIS_SCHEMES))
    prefix = r.text("prefix", defaults.REDIS_PREFIX)
    if not _PREFIX.match(prefix):
        r.fail("prefix", f"expected letters, digits and _ . - only, got {prefix!r}")
    return RedisConfig(url=url, prefix=prefix)


def _http(data, env, problems):
    r = Reader(data, "http", _HTTP_KEYS, problems)
    host, port = _listen(r)
    token = _secret(r, "admin-token", env, ENV_ADMIN_TOKEN, None)
    if token is None:
        problems.warn("http.admin-token", f"not set (here or in {ENV_ADMIN_TOKEN}); "
                      "`acd run` refuses to start without one")
    return HttpConfig(listen_host=host, listen_port=port, admin_token=token)


def _listen(r):
    value = r.raw("listen", f"{defaults.HTTP_LISTEN_HOST}:{defaults.HTTP_LISTEN_PORT}")
    host, sep, port = value.rpartition(":") if isinstance(value, str) else ("", "", "")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        r.fail("listen", f"expected HOST:PORT such as 127.0.0.1:8080, got {shown(value)}")
        return defaults.HTTP_LISTEN_HOST, defaults.HTTP_LISTEN_PORT
    return host, int(port)


def _agents(data, problems):
    agents, seen = [], {}
    for where, item in items(data, "agents", problems):
        agent = _agent(Reader(item, where, _AGENT_KEYS, problems))
        if agent.id and agent.id in seen:
            problems.error(f"{where}.id",
                           f"duplicate agent id {agent.id!r} (also {seen[agent.id]})")
        seen.setdefault(agent.id, where)
        agents.append(agent)
    return agents


def _agent(r):
    agent_id = r.token("id", "an agent id", _NAME, _NAME_CHARS)
    return AgentConfig(
        id=agent_id,
        name=r.text("name", None) or agent_id,
        contact=_contact(r),
        status=r.choice("status", defaults.AGENT_STATUS, AGENT_STATUSES),
        max_no_answer=r.integer("max-no-answer", defaults.AGENT_MAX_NO_ANSWER, 0),
        wrap_up_time=r.seconds("wrap-up-time", defaults.AGENT_WRAP_UP_TIME),
        reject_delay_time=r.seconds("reject-delay-time", defaults.AGENT_REJECT_DELAY_TIME),
        busy_delay_time=r.seconds("busy-delay-time", defaults.AGENT_BUSY_DELAY_TIME),
        no_answer_delay_time=r.seconds("no-answer-delay-time",
                                       defaults.AGENT_NO_ANSWER_DELAY_TIME),
        ring_timeout=r.seconds("ring-timeout", defaults.AGENT_RING_TIMEOUT, positive=True),
        skills=_skill_map(r, "skills", "proficiency"))


def _skill_map(r, name, what):
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


def _contact(r):
    value = r.raw("contact", None)
    if value is None:
        r.fail("contact", "required: a FreeSWITCH dial string such as user/1001")
        return ""
    problem = None
    if isinstance(value, str):
        try:
            parse_contact(value)  # the same check acd applies when it rings the agent
        except UnsafeValue as exc:
            problem = str(exc)
    if not isinstance(value, str) or problem:
        detail = f" ({problem})" if problem and "invalid endpoint" not in problem else ""
        r.fail("contact", "expected a FreeSWITCH dial string without spaces such as user/1001 "
                          "or sofia/gateway/pstn/+4930123456 (optionally led by {name=value,...}), "
                          f"got {shown(value)}{detail}")
        return ""
    return value


def _queues(data, agent_ids, problems):
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
                        **_skill_settings(r))
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
        relax.append(RelaxStep(after, _skill_map(step, "requirements", "minimum proficiency")))
        last = after
    return dict(skill_order=r.choice("skill-order", defaults.QUEUE_SKILL_ORDER, SKILL_ORDERS),
                requirements=_skill_map(r, "requirements", "minimum proficiency"),
                relax=tuple(relax))


def _service_level(r):
    return dict(
        service_level_threshold=r.seconds("service-level-threshold",
                                          defaults.QUEUE_SERVICE_LEVEL_THRESHOLD),
        service_level_count_short_abandons=r.boolean(
            "service-level-count-short-abandons",
            defaults.QUEUE_SERVICE_LEVEL_COUNT_SHORT_ABANDONS))


def _queue_settings(r):
    return dict(
        name=r.token("name", "a queue name", _NAME, _NAME_CHARS),
        strategy=r.choice("strategy", defaults.QUEUE_STRATEGY, STRATEGIES),
        ring_timeout=r.seconds("ring-timeout", defaults.QUEUE_RING_TIMEOUT, positive=True),
        moh_sound=r.text("moh-sound", defaults.QUEUE_MOH_SOUND),
        max_wait_time=r.seconds("max-wait-time", defaults.QUEUE_MAX_WAIT_TIME),
        max_wait_time_with_no_agent=r.seconds("max-wait-time-with-no-agent",
                                              defaults.QUEUE_MAX_WAIT_TIME_WITH_NO_AGENT),
        max_wait_time_with_no_agent_time_reached=r.seconds(
            "max-wait-time-with-no-agent-time-reached",
            defaults.QUEUE_MAX_WAIT_TIME_WITH_NO_AGENT_TIME_REACHED),
        overflow=_action(r, "overflow"),
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
    action = _action(r, "exit-action")
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


def _action(r, name):
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
    return text, None if text and _NAME.match(text) else "expected a queue name"


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
        tier = Tier(agent=t.token("agent", "an agent id", _NAME, _NAME_CHARS),
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


def _warn_unused(agents, queues, problems):
    if not queues:
        problems.warn("queues", "none configured; acd will distribute no calls")
    for i, queue in enumerate(queues):
        if not queue.tiers:
            problems.warn(f"queues[{i}]", f"queue {queue.name!r} has no tiers: "
                                          "no agent will be offered its calls")
    tiered = {tier.agent for queue in queues for tier in queue.tiers}
    for i, agent in enumerate(agents):
        if agent.id not in tiered:
            problems.warn(f"agents[{i}]", f"agent {agent.id!r} is in no queue's tiers")
