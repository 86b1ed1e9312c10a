"""The daemon's config file (acd.yaml): values, defaults, every kind of error, env vars, and
``acd check-config``. Real files in tmp_path, the real CLI in a subprocess; no mocks."""

import dataclasses
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest
import yaml

from acd import defaults
from acd.config import (STRATEGIES, Action, ConfigError, Tier, load_config, parse_config)

#: The issue's example, completed with the "sales" queue its overflow names.
EXAMPLE = """\
freeswitch: {host: 10.0.0.5, port: 8022, password: s3cret-esl, command-timeout: 7}
redis: {url: "redis://127.0.0.1:6379/2", prefix: acd-test}
http: {listen: "0.0.0.0:9090", admin-token: s3cret-token}
agents:
  - id: "1001"
    name: Anna
    contact: user/1001
    status: available
    max-no-answer: 3
    wrap-up-time: 10
    reject-delay-time: 10
    busy-delay-time: 60
    no-answer-delay-time: 0
    ring-timeout: 15
  - id: 1002
    contact: "{origination_caller_id_number=5000}sofia/gateway/pstn/+4930123456"
    status: on-break
queues:
  - name: support
    strategy: longest-idle-agent
    ring-timeout: 15
    moh-sound: local_stream://moh
    max-wait-time: 300
    max-wait-time-with-no-agent: 60
    max-wait-time-with-no-agent-time-reached: 5
    overflow: {queue: sales}
    announce-sound: queue/still-waiting.wav
    announce-frequency: 60
    announce-position: 30
    exit-key: "0"
    exit-action: {transfer: "voicemail-support XML default"}
    tier-rules-apply: false
    tier-rule-wait-second: 30
    discard-abandoned-after: 60
    abandoned-resume-allowed: false
    tiers:
      - {agent: "1001", level: 1, position: 1}
      - {agent: 1002, level: 2, position: 3}
  - name: sales
    strategy: ring-all
    overflow: {hangup: }
    tiers:
      - {agent: "1002"}
"""

MINIMAL = """\
agents: [{id: "1001", contact: user/1001}]
queues: [{name: support, tiers: [{agent: "1001"}]}]
"""


def write(tmp_path, text, name="acd.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors(tmp_path, text, env=None):
    """The problem lines of a config that must fail, without the file name."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    prefix = f"{path}: "
    assert all(line.startswith(prefix) for line in info.value.problems), info.value.problems
    assert str(info.value) == "\n".join(info.value.problems)
    return [line[len(prefix):] for line in info.value.problems]


def test_the_example_parses_with_its_values(tmp_path):
    config = load_config(write(tmp_path, EXAMPLE), env={})
    assert (config.freeswitch.host, config.freeswitch.port) == ("10.0.0.5", 8022)
    assert config.freeswitch.password == "s3cret-esl" and config.freeswitch.command_timeout == 7
    assert (config.redis.url, config.redis.prefix) == ("redis://127.0.0.1:6379/2", "acd-test")
    assert config.redis.mode == "url"
    assert (config.http.listen_host, config.http.listen_port) == ("0.0.0.0", 9090)
    assert config.http.admin_token == "s3cret-token"
    anna = config.agent("1001")
    assert (anna.name, anna.contact, anna.status) == ("Anna", "user/1001", "available")
    assert (anna.max_no_answer, anna.wrap_up_time, anna.reject_delay_time) == (3, 10, 10)
    assert (anna.busy_delay_time, anna.no_answer_delay_time, anna.ring_timeout) == (60, 0, 15)
    home = config.agent(1002)
    assert home.id == "1002" and home.name == "1002" and home.status == "on-break"
    assert home.contact.endswith("sofia/gateway/pstn/+4930123456")
    support = config.queue("support")
    assert support.strategy == "longest-idle-agent" and support.ring_timeout == 15
    assert support.moh_sound == "local_stream://moh" and support.max_wait_time == 300
    assert support.max_wait_time_with_no_agent == 60
    assert support.max_wait_time_with_no_agent_time_reached == 5
    assert support.overflow == Action("queue", "sales")
    assert support.announce_sound == "queue/still-waiting.wav"
    assert (support.announce_frequency, support.announce_position) == (60, 30)
    assert support.exit_key == "0"
    assert support.exit_action == Action("transfer", "voicemail-support XML default")
    assert support.tier_rules_apply is False and support.tier_rule_wait_second == 30
    assert support.discard_abandoned_after == 60 and support.abandoned_resume_allowed is False
    assert support.tiers == (Tier("1001", 1, 1), Tier("1002", 2, 3))
    sales = config.queue("sales")
    assert sales.strategy == "ring-all" and sales.overflow == Action("hangup", "NORMAL_CLEARING")
    assert config.source == str(tmp_path / "acd.yaml") and config.warnings == ()


def test_the_documented_example_is_valid(tmp_path):
    doc = (pathlib.Path(__file__).parent.parent / "docs" / "config.md").read_text()
    example = doc.split("## Example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    config = load_config(write(tmp_path, example), env={"ACD_ESL_PASSWORD": "x",
                                                        "ACD_ADMIN_TOKEN": "y"})
    assert [a.id for a in config.agents] == ["1001", "1002"] and config.warnings == ()
    assert config.agent("1001").ring_timeout == 20 and config.queue("sales").strategy == "ring-all"
    billing = config.queue("billing")
    assert billing.requirements == (("billing", 5),) and billing.relax[1].requirements == ()
    assert dict(config.agent("1002").skills) == {"english": 9, "billing": 6}


def test_the_skills_doc_example_is_valid(tmp_path):
    doc = (pathlib.Path(__file__).parent.parent / "docs" / "skills.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = load_config(write(tmp_path, example), env={})
    support = config.queue("support")
    assert support.strategy == "skills" and support.skill_order == "best-match"
    assert [(s.after, s.requirements) for s in support.relax] == [(30, (("german", 1),)), (90, ())]
    assert dict(config.agent("1001").skills) == {"german": 5, "english": 3, "billing": 4}


def test_lookups_and_frozen(tmp_path):
    config = load_config(write(tmp_path, EXAMPLE), env={})
    assert [(q.name, t) for q, t in config.queues_of("1002")] == [
        ("support", Tier("1002", 2, 3)), ("sales", Tier("1002", 1, 1))]
    assert config.queues_of("nobody") == []
    with pytest.raises(KeyError):
        config.agent("9999")
    with pytest.raises(KeyError):
        config.queue("billing")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.agents[0].status = "logged-out"
    assert "s3cret" not in repr(config)


def test_defaults(tmp_path):
    config = load_config(write(tmp_path, MINIMAL), env={})
    assert config.freeswitch.host == defaults.ESL_HOST == "127.0.0.1"
    assert config.freeswitch.port == 8021 and config.freeswitch.password == "ClueCon"
    assert config.freeswitch.command_timeout == 5
    assert config.redis.url == "redis://127.0.0.1:6379/0" and config.redis.prefix == "acd"
    assert (config.http.listen_host, config.http.listen_port) == ("127.0.0.1", 8080)
    assert config.http.admin_token is None
    agent = config.agent("1001")
    assert (agent.name, agent.status, agent.max_no_answer) == ("1001", "available", 3)
    assert (agent.wrap_up_time, agent.reject_delay_time, agent.busy_delay_time) == (10, 10, 60)
    assert agent.no_answer_delay_time == 0 and agent.ring_timeout is None
    queue = config.queue("support")
    assert (queue.strategy, queue.ring_timeout) == ("longest-idle-agent", 15)
    assert queue.moh_sound == "local_stream://moh"
    assert (queue.max_wait_time, queue.max_wait_time_with_no_agent) == (0, 0)
    assert queue.max_wait_time_with_no_agent_time_reached == 5
    assert queue.overflow is None and queue.exit_key is None and queue.exit_action is None
    assert queue.announce_sound is None
    assert (queue.announce_frequency, queue.announce_position) == (0, 0)
    assert (queue.tier_rules_apply, queue.tier_rule_wait_second) == (False, 30)
    assert (queue.discard_abandoned_after, queue.abandoned_resume_allowed) == (60, False)
    assert queue.tiers == (Tier("1001", 1, 1),)


def test_an_empty_file_is_all_defaults(tmp_path):
    config = load_config(write(tmp_path, ""), env={})
    assert config.agents == () and config.queues == ()


def test_yaml_integers_keep_their_text(tmp_path):
    config = load_config(write(tmp_path, """\
        agents: [{id: 0123, contact: user/0123}, {id: 7, contact: user/7}]
        queues: [{name: 42, exit-key: 5, exit-action: {transfer: 1999},
                  tiers: [{agent: 0123}, {agent: 7}]}]
        """), env={})
    assert [agent.id for agent in config.agents] == ["0123", "7"]
    queue = config.queue("42")
    assert queue.exit_key == "5" and queue.exit_action == Action("transfer", "1999")
    assert [tier.agent for tier in queue.tiers] == ["0123", "7"]


def test_null_means_unset_where_unset_is_allowed(tmp_path):
    config = load_config(write(tmp_path, """\
        agents: [{id: "1001", contact: user/1001, ring-timeout: , name: }]
        queues: [{name: support, overflow: , announce-sound: , tiers: }]
        """), env={})
    assert config.agent("1001").ring_timeout is None and config.agent("1001").name == "1001"
    queue = config.queue("support")
    assert queue.overflow is None and queue.announce_sound is None and queue.tiers == ()


def test_parse_config_takes_a_mapping():
    config = parse_config({"agents": [{"id": 1001, "contact": "user/1001"}]}, env={})
    assert config.agent("1001").contact == "user/1001" and config.source == "<string>"
    with pytest.raises(ConfigError, match=r"^src: agents\[0\]\.contact: required"):
        parse_config({"agents": [{"id": "1"}]}, source="src", env={})


CONTACT_PROBLEM = ("agents[0].contact: expected a FreeSWITCH dial string without spaces such as "
                   "user/1001 or sofia/gateway/pstn/+4930123456 (optionally led by "
                   "{name=value,...}), ")
AGENT = {"id": '"1001"', "contact": "user/1001"}
QUEUE = {"name": "support", "tiers": '[{agent: "1001"}]'}


def _flow(base, settings):
    """A YAML flow mapping: ``base`` (key -> YAML text) overridden by ``settings`` (YAML text)."""
    overridden = yaml.safe_load("{" + settings + "}")
    kept = [f"{key}: {value}" for key, value in base.items() if key not in overridden]
    return "{" + ", ".join(kept + ([settings] if settings else [])) + "}"


def agent_with(settings):
    return f"agents: [{_flow(AGENT, settings)}]\nqueues: [{_flow(QUEUE, '')}]\n"


def queue_with(settings):
    return f"agents: [{_flow(AGENT, '')}]\nqueues: [{_flow(QUEUE, settings)}]\n"


ERRORS = [
    # unknown keys, at every level
    ("colour: blue\n",
     "colour: unknown key (allowed: instance, unknown-queue, freeswitch, redis, http, agents, "
     "queues, ivr, schedules, metrics, records, cti, crm, webhooks)"),
    ("freeswitch: {command-connections: 0}\n", "freeswitch.command-connections: expected a "
     "whole number >= 1"),
    ("freeswitch: {command-connections: 65}\n", "freeswitch.command-connections: expected at "
     "most 64 connections, got 65"),
    ("freeswitch: {max-inflight-originates: lots}\n", "freeswitch.max-inflight-originates: "
     "expected adaptive, {adaptive: N} or a whole number N >= 1 of agent legs, got 'lots'"),
    ("freeswitch: {max-inflight-originates: {adaptive: 0}}\n",
     "freeswitch.max-inflight-originates: expected adaptive"),
    ("instance: 'a b'\n", "instance: expected a deployment name of letters, digits and _ . @ + - "
     "only, got 'a b'"),
    ("unknown-queue: {queue: support}\n", "unknown-queue: expected hangup, {hangup: CAUSE} or "
     "{transfer: \"DEST [DIALPLAN [CONTEXT]]\"}; a call for an unknown queue cannot be sent to a "
     "queue"),
    ("unknown-queue: {transfer: ''}\n", "unknown-queue.transfer: expected \"DEST [DIALPLAN "
     "[CONTEXT]]\" such as \"1999 XML default\""),
    ("unknown-queue: {hangup: later}\n", "unknown-queue.hangup: expected a hangup cause in "
     "capitals"),
    ("freeswitch: {hots: x}\n", "freeswitch.hots: unknown key; did you mean host?"),
    ("redis: {database: 1}\n", "redis.database: unknown key (allowed: url, prefix, sentinels, "
     "service, cluster, password, sentinel-password, db)"),
    ("http: {token: x}\n", "http.token: unknown key; did you mean admin-token?"),
    (agent_with("wrap_up_time: 5"), "agents[0].wrap_up_time: unknown key; did you mean "
                                    "wrap-up-time?"),
    (queue_with("max-wait: 5"), "queues[0].max-wait: unknown key; did you mean max-wait-time?"),
    (queue_with("tiers: [{agent: '1001', prio: 1}]"),
     "queues[0].tiers[0].prio: unknown key (allowed: agent, level, position)"),
    # types
    ("freeswitch: {port: '8021'}\n", "freeswitch.port: expected a whole number >= 1, got '8021'"),
    ("freeswitch: {port: 80210}\n", "freeswitch.port: expected a port number up to 65535, "
                                    "got 80210"),
    ("freeswitch: {command-timeout: 0}\n",
     "freeswitch.command-timeout: expected a number of seconds > 0, got 0"),
    ("freeswitch: {heartbeat-timeout: 0}\n",
     "freeswitch.heartbeat-timeout: expected a number of seconds > 0, got 0"),
    ("freeswitch: {heartbeat-timeout: soon}\n",
     "freeswitch.heartbeat-timeout: expected a number of seconds > 0, got 'soon'"),
    (agent_with("wrap-up-time: '10'"),
     "agents[0].wrap-up-time: expected a number of seconds >= 0, got '10'"),
    (agent_with("max-no-answer: 1.5"),
     "agents[0].max-no-answer: expected a whole number >= 0, got 1.5"),
    (agent_with("busy-delay-time: true"),
     "agents[0].busy-delay-time: expected a number of seconds >= 0, got true"),
    (queue_with("tier-rules-apply: 'false'"),
     "queues[0].tier-rules-apply: expected true or false, got 'false'"),
    (queue_with("abandoned-resume-allowed: 1"),
     "queues[0].abandoned-resume-allowed: expected true or false, got 1"),
    (queue_with("moh-sound: "), "queues[0].moh-sound: expected a non-empty string, got nothing"),
    (agent_with("wrap-up-time: "),
     "agents[0].wrap-up-time: expected a number of seconds >= 0, got nothing"),
    ("agents: {id: 1}\n", "agents: expected a list, got a mapping"),
    ("agents: [1001]\n", "agents[0]: expected a mapping, got 1001"),
    (queue_with("tiers: ['1001']"), "queues[0].tiers[0]: expected a mapping, got '1001'"),
    # negative and zero times
    (agent_with("reject-delay-time: -1"),
     "agents[0].reject-delay-time: expected a number of seconds >= 0, got -1"),
    (agent_with("ring-timeout: 0"),
     "agents[0].ring-timeout: expected a number of seconds > 0, got 0"),
    (queue_with("max-wait-time: -300"),
     "queues[0].max-wait-time: expected a number of seconds >= 0, got -300"),
    (queue_with("ring-timeout: .inf"),
     "queues[0].ring-timeout: expected a number of seconds > 0, got inf"),
    (queue_with("tiers: [{agent: '1001', level: 0}]"),
     "queues[0].tiers[0].level: expected a whole number >= 1, got 0"),
    # duplicates and required keys
    ("agents: [{id: '1001', contact: user/1}, {id: 1001, contact: user/2}]\n",
     "agents[1].id: duplicate agent id '1001' (also agents[0])"),
    ("queues: [{name: support}, {name: support}]\n",
     "queues[1].name: duplicate queue name 'support' (also queues[0])"),
    ("agents: [{contact: user/1}]\n", "agents[0].id: required (an agent id)"),
    ("agents: [{id: '1'}]\n",
     "agents[0].contact: required: a FreeSWITCH dial string such as user/1001"),
    ("queues: [{strategy: random}]\n", "queues[0].name: required (a queue name)"),
    ("agents: [{id: 'anna smith', contact: user/1}]\n",
     "agents[0].id: expected an agent id of letters, digits and _ . @ + - only, "
     "got 'anna smith'"),
    # choices
    (queue_with("strategy: fastest"), "queues[0].strategy: expected one of "
     + ", ".join(STRATEGIES) + "; got 'fastest'"),
    (agent_with("status: Available"), "agents[0].status: expected one of logged-out, "
                                      "available, on-break; got 'Available'"),
    # cross-references
    (queue_with("tiers: [{agent: '2002'}]"),
     "queues[0].tiers[0].agent: unknown agent '2002' (not in agents)"),
    (queue_with("tiers: [{agent: '1001'}, {agent: 1001, level: 2}]"),
     "queues[0].tiers[1].agent: agent '1001' has a tier in this queue already "
     "(queues[0].tiers[0])"),
    (queue_with("overflow: {queue: sales}"),
     "queues[0].overflow.queue: unknown queue 'sales' (queues: support)"),
    (queue_with("exit-key: '9', exit-action: {queue: billing}"),
     "queues[0].exit-action.queue: unknown queue 'billing' (queues: support)"),
    (queue_with("exit-key: '9', exit-action: {queue: support}"),
     "queues[0].exit-action.queue: a queue's exit-action cannot lead back into itself"),
    # actions
    (queue_with("overflow: {hangup: normal_clearing}"),
     "queues[0].overflow.hangup: expected a hangup cause in capitals such as NORMAL_CLEARING "
     "or USER_BUSY, got 'normal_clearing'"),
    (queue_with("overflow: {voicemail: x}"),
     "queues[0].overflow.voicemail: unknown key (allowed: queue, transfer, hangup)"),
    (queue_with("overflow: {queue: sales, hangup: }"),
     'queues[0].overflow: expected exactly one of {queue: NAME}, {transfer: "DEST [DIALPLAN '
     '[CONTEXT]]"}, {hangup: CAUSE}; got a mapping'),
    (queue_with("overflow: {transfer: '1999 XML default extra'}"),
     'queues[0].overflow.transfer: expected "DEST [DIALPLAN [CONTEXT]]" such as '
     '"1999 XML default", got \'1999 XML default extra\''),
    # exit key
    (queue_with("exit-key: '00', exit-action: {hangup: }"),
     "queues[0].exit-key: expected one DTMF key 0-9, * or #, got '00'"),
    (queue_with("exit-key: a, exit-action: {hangup: }"),
     "queues[0].exit-key: expected one DTMF key 0-9, * or #, got 'a'"),
    ("queues:\n  - name: support\n    exit-key: #\n    exit-action: {hangup: }\n",
     'queues[0].exit-key: expected one DTMF key 0-9, * or # (write "#" in quotes: a bare # '
     'starts a YAML comment), got nothing'),
    (queue_with("exit-key: '*'"),
     "queues[0].exit-action: required with exit-key: where a caller who presses it goes"),
    (queue_with("exit-action: {hangup: }"), "queues[0].exit-action: only meaningful with exit-key"),
    (queue_with("announce-frequency: 30"),
     "queues[0].announce-frequency: needs announce-sound (the file to play)"),
    # contact, listen, redis
    (agent_with("contact: 'user/1001 x'"), CONTACT_PROBLEM + "got 'user/1001 x'"),
    (agent_with("contact: '1001'"), CONTACT_PROBLEM + "got '1001'"),
    (agent_with('contact: "user/1001\\nuser/1002"'), CONTACT_PROBLEM + "got 'user/1001\\nuser/1002'"),
    (agent_with("contact: '{x=a b}user/1001'"),
     CONTACT_PROBLEM + "got '{x=a b}user/1001' (invalid value of x in a contact: 'a b')"),
    ("http: {listen: '8080'}\n",
     "http.listen: expected HOST:PORT such as 127.0.0.1:8080, got '8080'"),
    ("http: {listen: 'localhost:99999'}\n",
     "http.listen: expected HOST:PORT such as 127.0.0.1:8080, got 'localhost:99999'"),
    ("redis: {prefix: 'acd:prod'}\n",
     "redis.prefix: expected letters, digits and _ . - only, got 'acd:prod'"),
    # redis: sentinel, cluster
    ("redis: {url: 'redis://h:6379/0', sentinels: ['h:26379'], service: acd}\n",
     "redis.sentinels: choose one of url, sentinels and cluster, not url and sentinels"),
    ("redis: {sentinels: ['h:26379'], service: acd, cluster: ['h:7000']}\n",
     "redis.cluster: choose one of url, sentinels and cluster, not sentinels and cluster"),
    ("redis: {sentinels: ['h:26379']}\n", "redis.service: required with sentinels"),
    ("redis: {service: acd}\n", "redis.service: only meaningful with sentinels"),
    ("redis: {sentinels: ['h'], service: acd}\n",
     "redis.sentinels[0]: expected \"host:port\", got 'h'"),
    ("redis: {cluster: 'h:7000'}\n", "redis.cluster: expected a list of \"host:port\", got 'h:7000'"),
    ("redis: {cluster: ['h:7000'], db: 2}\n", "redis.db: only with sentinels"),
    ("redis: {url: 'redis://h:6379/0', password: x}\n",
     "redis.password: only with sentinels or cluster (a url carries its password"),
    # the file itself
    ("- agents\n", "expected a mapping at the top level, got a list"),
    ("agents:\n  - id: '1'\n    id: '2'\n", "line 3, column 5: invalid YAML: duplicate key 'id'"),
    ("agents: [{id: '1', contact: user/1}\n",
     "line 2, column 1: invalid YAML: while parsing a flow sequence: "),  # + libyaml's words
]


@pytest.mark.parametrize("text, problem", ERRORS, ids=[p.split(":")[0] for _, p in ERRORS])
def test_each_problem_names_file_key_and_what_was_expected(tmp_path, text, problem):
    assert any(e.startswith(problem) for e in errors(tmp_path, text)), errors(tmp_path, text)


def test_overflow_loops_are_reported_with_their_path(tmp_path):
    problems = errors(tmp_path, """\
        queues:
          - {name: support, overflow: {queue: sales}}
          - {name: sales, overflow: {queue: billing}}
          - {name: billing, overflow: {queue: support}}
          - {name: night, overflow: {queue: sales}}
          - {name: lonely, overflow: {queue: lonely}}
        """)
    assert problems == [
        "queues[0].overflow.queue: overflow loop: support -> sales -> billing -> support",
        "queues[4].overflow.queue: overflow loop: lonely -> lonely"]


def test_a_chain_without_a_loop_is_fine(tmp_path):
    config = load_config(write(tmp_path, """\
        queues:
          - {name: support, overflow: {queue: sales}}
          - {name: sales, overflow: {transfer: "1999 XML default"}}
          - {name: night, overflow: {queue: support}}
        """), env={})
    assert config.queue("night").overflow == Action("queue", "support")


def test_every_problem_is_reported_at_once(tmp_path):
    problems = errors(tmp_path, """\
        freeswitch: {port: 0}
        agents:
          - {id: "1001", contact: user/1001, wrap-up-time: -5, status: busy}
          - {id: "1001", contact: "user 1002"}
        queues:
          - name: support
            strategy: fastest
            overflow: {queue: nowhere}
            tiers: [{agent: "1003"}]
        """)
    assert problems == [
        "freeswitch.port: expected a whole number >= 1, got 0",
        "agents[0].status: expected one of logged-out, available, on-break; got 'busy'",
        "agents[0].wrap-up-time: expected a number of seconds >= 0, got -5",
        "agents[1].contact: expected a FreeSWITCH dial string without spaces such as user/1001 "
        "or sofia/gateway/pstn/+4930123456 (optionally led by {name=value,...}), got 'user 1002'",
        "agents[1].id: duplicate agent id '1001' (also agents[0])",
        "queues[0].strategy: expected one of " + ", ".join(STRATEGIES) + "; got 'fastest'",
        "queues[0].tiers[0].agent: unknown agent '1003' (not in agents)",
        "queues[0].overflow.queue: unknown queue 'nowhere' (queues: support)",
    ]


def test_missing_file_and_directory(tmp_path):
    for path, reason in ((tmp_path / "nope.yaml", "No such file or directory"),
                         (tmp_path, "Is a directory")):
        with pytest.raises(ConfigError) as info:
            load_config(path, env={})
        assert str(info.value) == f"{path}: cannot read: {reason}"


def test_secrets_are_never_shown(tmp_path):
    problems = errors(tmp_path, """\
        freeswitch: {password: 12345678}
        redis: {url: "http://:hunter2@db:6379/0"}
        http: {admin-token: ["hunter3"]}
        """)
    assert problems == [
        "freeswitch.password: expected a non-empty string, got a number",
        "redis.url: expected a URL starting with redis://, rediss://, unix://",
        "http.admin-token: expected a non-empty string, got a list",
    ]


def test_yaml_merge_keys_may_be_overridden(tmp_path):
    config = load_config(write(tmp_path, """\
        agents:
          - &anna {id: "1001", contact: user/1001, wrap-up-time: 5}
          - {<<: *anna, id: "1002", contact: user/1002}
        """), env={})
    assert [(a.id, a.wrap_up_time) for a in config.agents] == [("1001", 5), ("1002", 5)]


# --- environment ----------------------------------------------------------------------------

def test_env_fills_password_and_token(tmp_path):
    env = {"ACD_ESL_PASSWORD": "from-env", "ACD_ADMIN_TOKEN": "token-env"}
    config = load_config(write(tmp_path, MINIMAL), env=env)
    assert config.freeswitch.password == "from-env" and config.http.admin_token == "token-env"
    assert config.warnings == ()


def test_the_file_wins_over_env_with_a_warning(tmp_path):
    path = write(tmp_path, MINIMAL + "freeswitch: {password: file-pw}\n"
                                     "http: {admin-token: file-token}\n")
    config = load_config(path, env={"ACD_ESL_PASSWORD": "env-pw", "ACD_ADMIN_TOKEN": "env-tok"})
    assert config.freeswitch.password == "file-pw" and config.http.admin_token == "file-token"
    assert config.warnings == (
        f"{path}: warning: freeswitch.password: differs from ACD_ESL_PASSWORD; "
        "the file's value is used",
        f"{path}: warning: http.admin-token: differs from ACD_ADMIN_TOKEN; "
        "the file's value is used")


def test_warnings(tmp_path):
    path = write(tmp_path, """\
        agents: [{id: "1001", contact: user/1001}, {id: "1002", contact: user/1002}]
        queues:
          - {name: support, tiers: [{agent: "1001"}], announce-sound: hold.wav}
          - {name: empty}
        """)
    assert load_config(path, env={}).warnings == (
        f"{path}: warning: freeswitch.password: FreeSWITCH's stock password; change it (here, "
        "in ACD_ESL_PASSWORD and in event_socket.conf.xml) for production",
        f"{path}: warning: http.admin-token: not set (here or in ACD_ADMIN_TOKEN); "
        "`acd run` refuses to start without one",
        f"{path}: warning: queues[0].announce-sound: never played: announce-frequency is 0 (off)",
        f"{path}: warning: queues[1]: queue 'empty' has no tiers: no agent will be offered "
        "its calls",
        f"{path}: warning: agents[1]: agent '1002' is in no queue's tiers")


def test_heartbeat_timeout_defaults_to_two_heartbeats_and_a_margin_and_warns_below(tmp_path):
    assert load_config(write(tmp_path, "agents: []\n"), env={}).freeswitch.heartbeat_timeout == 45
    path = write(tmp_path, "freeswitch: {heartbeat-timeout: 10}\n")
    config = load_config(path, env={})
    assert config.freeswitch.heartbeat_timeout == 10
    assert any("freeswitch.heartbeat-timeout: 10 s is less than two of FreeSWITCH's heartbeats"
               in w for w in config.warnings)


# --- acd check-config -----------------------------------------------------------------------

def check_config(*args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
    return subprocess.run([sys.executable, "-m", "acd", "check-config", *args],
                          capture_output=True, text=True, timeout=60, env={**clean, **env})


def test_check_config_ok(tmp_path):
    path = write(tmp_path, EXAMPLE)
    result = check_config(str(path))
    assert (result.returncode, result.stdout, result.stderr) == (
        0, f"{path}: OK (2 agents, 2 queues)\n", "")


def test_check_config_warnings_do_not_fail(tmp_path):
    path = write(tmp_path, MINIMAL)
    result = check_config(str(path), ACD_ESL_PASSWORD="pw")
    assert result.returncode == 0 and result.stdout == f"{path}: OK (1 agent, 1 queue)\n"
    assert result.stderr == (f"{path}: warning: http.admin-token: not set (here or in "
                             "ACD_ADMIN_TOKEN); `acd run` refuses to start without one\n")


def test_check_config_reports_every_problem(tmp_path):
    path = write(tmp_path, "freeswitch: {password: hunter2, port: x}\n"
                           "agents: [{id: '1', contact: nope}]\n")
    result = check_config(str(path))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}: freeswitch.port: expected a whole number >= 1, got 'x'",
        f"{path}: {CONTACT_PROBLEM}got 'nope'"]
    assert "hunter2" not in result.stderr


def test_check_config_file_from_env_and_usage_errors(tmp_path):
    path = write(tmp_path, EXAMPLE)
    result = check_config(ACD_CONFIG=str(path))
    assert result.returncode == 0 and result.stdout == f"{path}: OK (2 agents, 2 queues)\n"
    result = check_config()
    assert result.returncode == 2 and "no config file given" in result.stderr
    assert check_config("a.yaml", "b.yaml").returncode == 2
    result = check_config(str(tmp_path / "missing.yaml"))
    assert result.returncode == 1
    assert result.stderr == f"{tmp_path / 'missing.yaml'}: cannot read: No such file or directory\n"


def test_instance_and_unknown_queue():
    config = parse_config(yaml.safe_load(EXAMPLE))
    assert config.instance is None and config.unknown_queue == Action("hangup", "NO_ROUTE_DESTINATION")
    assert config.serves(None) and config.serves("") and not config.serves("tenant-a")
    config = parse_config(dict(yaml.safe_load(EXAMPLE), instance="tenant-a",
                               **{"unknown-queue": {"transfer": "1999 XML default"}}))
    assert config.instance == "tenant-a" and config.unknown_queue == Action("transfer", "1999 XML default")
    assert config.serves("tenant-a") and not config.serves(None) and not config.serves("tenant-b")
    config = parse_config(dict(yaml.safe_load(EXAMPLE), **{"unknown-queue": {"hangup": "USER_BUSY"}}))
    assert config.unknown_queue == Action("hangup", "USER_BUSY")


def test_freeswitch_connections_and_originate_window():
    fs = parse_config(yaml.safe_load(EXAMPLE)).freeswitch
    assert fs.command_connections == defaults.ESL_COMMAND_CONNECTIONS
    assert (fs.max_inflight_originates, fs.adaptive_originates) == (
        defaults.MAX_INFLIGHT_ORIGINATES, True)
    for value, expected in (("adaptive", (defaults.MAX_INFLIGHT_ORIGINATES, True)),
                            ({"adaptive": 60}, (60, True)), (25, (25, False))):
        data = yaml.safe_load(EXAMPLE)
        data["freeswitch"].update({"max-inflight-originates": value, "command-connections": 8})
        fs = parse_config(data).freeswitch
        assert (fs.max_inflight_originates, fs.adaptive_originates) == expected
        assert fs.command_connections == 8


def test_redis_sentinel_and_cluster():
    config = parse_config({"redis": {"sentinels": ["10.0.0.1:26379", "[::1]:26380"],
                                     "service": "acd", "db": 2, "sentinel-password": "s"}},
                          env={"ACD_REDIS_PASSWORD": "p"})
    r = config.redis
    assert (r.mode, r.sentinels, r.service, r.db) == (
        "sentinel", (("10.0.0.1", 26379), ("::1", 26380)), "acd", 2)
    assert (r.password, r.sentinel_password) == ("p", "s")
    assert "'p'" not in repr(r) and "'s'" not in repr(r)
    r = parse_config({"redis": {"cluster": ["h1:7000", "h2:7001"], "prefix": "x"}}, env={}).redis
    assert (r.mode, r.cluster, r.prefix, r.password) == ("cluster", (("h1", 7000), ("h2", 7001)),
                                                         "x", None)
