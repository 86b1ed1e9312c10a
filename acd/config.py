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

from acd.core.skills import match_sets
from acd.esl.commands import UnsafeValue, parse_contact
from acd.schedule import Schedule

from acd import config_crm, config_cti, defaults
from acd import config_redis, ivr_config
from acd.config_redis import RedisConfig
from acd.config_queues import (ACTION_KINDS, NAME, NAME_CHARS, STRATEGIES, Action, QueueConfig,
                               RelaxStep, Tier, check_queues, read_action, read_queues, skill_map)
from acd.config_reader import (ConfigError, Problems, Reader, items, key_path, read_yaml, shown)

__all__ = ["ConfigError", "load_config", "parse_config", "Config", "FreeswitchConfig",
           "RedisConfig", "HttpConfig", "AgentConfig", "QueueConfig", "Tier", "Action", "RelaxStep",
           "STRATEGIES", "AGENT_STATUSES", "ACTION_KINDS"]
__all__ += ["MetricsConfig", "RecordsConfig"]

AGENT_STATUSES = ("logged-out", "available", "on-break")
ENV_ESL_PASSWORD = "ACD_ESL_PASSWORD"
ENV_ADMIN_TOKEN = "ACD_ADMIN_TOKEN"

_TOP_KEYS = ("instance", "unknown-queue", "freeswitch", "redis", "http", "agents", "queues", "ivr",
             "schedules", "metrics", "records", "cti", "crm", "webhooks")  # crm, webhooks: config_crm   # ivr, schedules: acd/ivr_config.py; cti: config_cti
_FREESWITCH_KEYS = ("host", "port", "password", "command-timeout", "command-connections",
                    "max-inflight-originates", "heartbeat-timeout")
_HTTP_KEYS = ("listen", "admin-token") + config_cti.HTTP_KEYS
_AGENT_KEYS = ("id", "name", "contact", "status", "max-no-answer", "wrap-up-time",
               "reject-delay-time", "busy-delay-time", "no-answer-delay-time", "ring-timeout",
               "skills", "auto-answer") + config_cti.AGENT_KEYS
_METRICS_KEYS = ("per-agent", "service-level-window")
_RECORDS_KEYS = ("max-length", "retention")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])\Z")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}



@dataclass(frozen=True)
class FreeswitchConfig:
    host: str = defaults.ESL_HOST
    port: int = defaults.ESL_PORT
    password: str = field(default=defaults.ESL_PASSWORD, repr=False)
    command_timeout: float = defaults.FREESWITCH_COMMAND_TIMEOUT
    #: silence after which an ESL connection is declared dead and reconnected (acd.esl.watchdog)
    heartbeat_timeout: float = defaults.FREESWITCH_HEARTBEAT_TIMEOUT
    #: ESL connections for inline commands beside the event connection (acd/esl/switch.py)
    command_connections: int = defaults.ESL_COMMAND_CONNECTIONS
    #: agent legs in flight at most (acd/core/window.py); adaptive: a ceiling the window
    #: shrinks below while FreeSWITCH's commands or events slow down
    max_inflight_originates: int = defaults.MAX_INFLIGHT_ORIGINATES
    adaptive_originates: bool = True


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
    #: acd's calls carry the auto-answer signalling to this agent's phone (docs/config.md)
    auto_answer: bool = defaults.AGENT_AUTO_ANSWER


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
    #: This deployment's name: it handles only calls whose ``acd_instance`` equals it (None:
    #: only calls without ``acd_instance``), so several deployments can share one FreeSWITCH.
    instance: "str | None" = None
    #: What a call meant for this deployment gets when it names a queue that does not exist.
    unknown_queue: Action = Action("hangup", defaults.UNKNOWN_QUEUE_CAUSE)
    #: logins, tokens, the event stream (acd/config_cti.py, docs/cti.md)
    cti: config_cti.CtiConfig = field(default_factory=config_cti.CtiConfig)
    #: the CRM lookup (None: none) and the webhooks (acd/config_crm.py, docs/crm.md)
    crm: "config_crm.CrmConfig | None" = None
    webhooks: "tuple[config_crm.Webhook, ...]" = ()

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

    def has_agent(self, agent_id):
        return str(agent_id) in self._agents

    def queue(self, name):
        """The queue with this name; KeyError if there is none."""
        try:
            return self._queues[str(name)]
        except KeyError:
            raise KeyError(f"no queue {name!r} in {self.source}") from None

    def has_queue(self, name):
        return str(name) in self._queues

    def serves(self, call_instance):
        """Whether a call whose ``acd_instance`` is ``call_instance`` (None or "" when it has
        none) is meant for this deployment."""
        return (call_instance or None) == self.instance

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
    deployment = dict(instance=top.token("instance", "a deployment name", NAME, NAME_CHARS,
                                         required=False) or None,
                      unknown_queue=_unknown_queue(top))
    freeswitch = _freeswitch(top.raw("freeswitch"), env, problems)
    redis = config_redis.read(top.raw("redis"), env, problems)
    http = _http(top.raw("http"), env, problems)
    agents = _agents(top.raw("agents"), problems)
    queues = read_queues(top.raw("queues"), {agent.id for agent in agents}, problems)
    observability = dict(metrics=_metrics(top.raw("metrics"), problems),
                         records=_records(top.raw("records"), problems))
    check_queues(queues, problems)
    ivrs, schedules, queues = ivr_config.read(top, queues, [a.id for a in agents], problems)
    cti = config_cti.read(top, problems)
    crm, webhooks = config_crm.read(top, env, problems)
    if problems.errors:
        raise ConfigError(problems.errors)
    _warn_unused(agents, queues, problems)
    return Config(freeswitch, redis, http, tuple(agents), tuple(queues), source,
                  tuple(problems.warnings), ivrs=ivrs, schedules=schedules,
                  cti=cti, crm=crm, webhooks=webhooks, **observability, **deployment)


def _unknown_queue(top):
    """unknown-queue: hangup | {hangup: CAUSE} | {transfer: "DEST [DIALPLAN [CONTEXT]]"}."""
    default = Action("hangup", defaults.UNKNOWN_QUEUE_CAUSE)
    value = top.raw("unknown-queue", None)
    if value is None or value == "hangup":
        return default
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) == "queue":
        top.fail("unknown-queue", "expected hangup, {hangup: CAUSE} or {transfer: \"DEST "
                                  "[DIALPLAN [CONTEXT]]\"}; a call for an unknown queue cannot "
                                  "be sent to a queue")
        return default
    return read_action(top, "unknown-queue") or default


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
    heartbeat_timeout = r.seconds("heartbeat-timeout", defaults.FREESWITCH_HEARTBEAT_TIMEOUT,
                                  positive=True)
    if heartbeat_timeout < 2 * defaults.SIM_HEARTBEAT:
        problems.warn("freeswitch.heartbeat-timeout", f"{heartbeat_timeout:g} s is less than two "
                      "of FreeSWITCH's heartbeats (every 20 s unless event-heartbeat-interval "
                      "says otherwise): an idle switch would be declared dead")
    return FreeswitchConfig(
        host=r.text("host", defaults.ESL_HOST),
        port=_port(r, "port", defaults.ESL_PORT, minimum=1),
        password=password,
        command_timeout=r.seconds("command-timeout", defaults.FREESWITCH_COMMAND_TIMEOUT,
                                  positive=True),
        command_connections=_command_connections(r),
        heartbeat_timeout=heartbeat_timeout,
        **_inflight_originates(r))


def _command_connections(r):
    count = r.integer("command-connections", defaults.ESL_COMMAND_CONNECTIONS, 1)
    if count > 64:
        r.fail("command-connections", f"expected at most 64 connections, got {count}")
    return count


def _inflight_originates(r):
    """max-inflight-originates: N (fixed) | adaptive | {adaptive: N} (N: the ceiling)."""
    value = r.raw("max-inflight-originates", "adaptive")
    limit, adaptive = defaults.MAX_INFLIGHT_ORIGINATES, True
    if isinstance(value, dict) and list(value) == ["adaptive"]:
        value = value["adaptive"]
    elif value == "adaptive":
        value = limit
    else:
        adaptive = False
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        r.fail("max-inflight-originates", "expected adaptive, {adaptive: N} or a whole number "
                                          f"N >= 1 of agent legs, got {shown(value)}")
        return dict(max_inflight_originates=limit, adaptive_originates=True)
    return dict(max_inflight_originates=value, adaptive_originates=adaptive)


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
    agent_id = r.token("id", "an agent id", NAME, NAME_CHARS)
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
        skills=skill_map(r, "skills", "proficiency"),
        auto_answer=r.boolean("auto-answer", defaults.AGENT_AUTO_ANSWER))


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
