"""``acd import-callcenter``: mod_callcenter's callcenter.conf.xml as acd.yaml.

The contract: queues, agents, tiers and every parameter with the same meaning mapped by name;
what cannot be mapped listed on stderr with the reason; the result passes ``acd check-config``.
Checked on the stock sample's settings (tests/data/callcenter/stock*.conf.xml) and on a larger
realistic file with odd values (center.conf.xml), through the real ``acd`` command line.
"""

import pathlib
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from acd.callcenter_import import (CallcenterError, Notes, convert, parse_callcenter,
                                   read_callcenter, to_yaml)
from acd.config import parse_config
from acd.config_reader import read_yaml

DATA = pathlib.Path(__file__).resolve().parent / "data" / "callcenter"
STOCK, STOCK_EXAMPLES, CENTER = (DATA / "stock.conf.xml", DATA / "stock_examples.conf.xml",
                                 DATA / "center.conf.xml")
ENV = {"ACD_ESL_PASSWORD": "not-ClueCon", "ACD_ADMIN_TOKEN": "t"}


def acd(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "acd", *map(str, args)], capture_output=True,
                          text=True, timeout=60, cwd=cwd, env={**_environ(), **ENV})


def _environ():
    import os
    return dict(os.environ)


def imported(path, tmp_path, *extra):
    """(acd.yaml path, its Config, the stderr lines) after the real CLI round trip."""
    done = acd("import-callcenter", *extra, path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "acd.yaml"
    out.write_text(done.stdout)
    checked = acd("check-config", out)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"{out}: OK")
    return out, parse_config(read_yaml(out), str(out), ENV), done.stderr.splitlines()


def notes_about(lines, where):
    return [line for line in lines if f": {where}: " in line]


def test_the_stock_sample_imports_and_passes_check_config(tmp_path):
    _, config, lines = imported(STOCK, tmp_path)
    [queue] = config.queues
    assert queue.name == "support@default"          # mod_callcenter's name@domain works as is
    assert queue.strategy == "longest-idle-agent" and not queue.tier_rules_apply
    assert (queue.max_wait_time, queue.max_wait_time_with_no_agent,
            queue.max_wait_time_with_no_agent_time_reached) == (0, 0, 5)
    assert queue.discard_abandoned_after == 60 and not queue.abandoned_resume_allowed
    assert queue.tier_rule_wait_second == 300
    assert config.agents == () and queue.tiers == ()
    where = "queue 'support@default'"
    assert any("moh-sound: not mapped" in n and "hold_music" in n and "--var" in n
               for n in notes_about(lines, where))
    assert any("time-base-score: not mapped: 'system'" in n for n in notes_about(lines, where))
    assert lines[-1].startswith("acd import-callcenter: 0 agent(s), 1 queue(s), 0 tier(s)")
    assert all(line.startswith(f"{STOCK}: ") for line in lines[:-1])


def test_the_stock_samples_example_agent_and_tier(tmp_path):
    _, config, lines = imported(STOCK_EXAMPLES, tmp_path, "--var",
                                "hold_music=local_stream://moh")
    [agent] = config.agents
    assert agent.id == "1000@default"
    assert agent.contact == "user/1000@default" and agent.ring_timeout == 10  # [leg_timeout=10]
    assert (agent.status, agent.max_no_answer, agent.wrap_up_time, agent.reject_delay_time,
            agent.busy_delay_time, agent.no_answer_delay_time) == ("available", 3, 10, 10, 60, 0)
    [queue] = config.queues
    assert queue.moh_sound == "local_stream://moh"  # $${hold_music} given with --var
    assert [(t.agent, t.level, t.position) for t in queue.tiers] == [("1000@default", 1, 1)]
    assert not any("moh-sound" in line for line in lines)


# -- the larger, realistic file -----------------------------------------------------------------

@pytest.fixture(scope="module")
def center(tmp_path_factory):
    return imported(CENTER, tmp_path_factory.mktemp("center"))


def test_a_realistic_center_imports_and_passes_check_config(center):
    out, config, lines = center
    assert len(config.agents) == 22 and len(config.queues) == 5
    queues = {q.name: q for q in config.queues}
    assert set(queues) == {"sales@acme", "support@acme", "billing@acme", "tech-escalation",
                           "vip@acme"}
    support = queues["support@acme"]
    assert [(t.agent, t.level, t.position) for t in support.tiers][:2] == [
        ("2001@acme.example", 1, 2), ("2002@acme.example", 1, 3)]
    assert {t.level for t in support.tiers} == {1, 2, 3}
    assert support.tier_rules_apply and support.tier_rule_wait_second == 60
    sales = queues["sales@acme"]
    assert sales.strategy == "top-down" and [t.position for t in sales.tiers] == [1, 2, 3, 4, 5, 6]
    assert (sales.announce_sound, sales.announce_frequency) == (
        "/usr/share/freeswitch/sounds/acme/sales-busy.wav", 45)
    assert sales.abandoned_resume_allowed and sales.discard_abandoned_after == 900
    assert queues["tech-escalation"].discard_abandoned_after == 180   # the last of two wins
    billing = queues["billing@acme"]
    assert billing.tier_rules_apply and billing.tier_rule_wait_second == 0  # mod_callcenter's 0
    agents = {a.id: a for a in config.agents}
    home = agents["3001@acme.example"]
    assert home.contact == ("{origination_caller_id_number=+4930555000}"
                            "sofia/gateway/pstn/+491701234500")
    assert (home.ring_timeout, home.status, home.busy_delay_time) == (30, "on-break", 120)
    assert agents["2001@acme.example"].contact == "{ignore_early_media=true}user/2001@acme.example"
    assert agents["2001@acme.example"].status == "logged-out"
    assert agents["4001@acme.example"].contact == "user/4001@acme.example"   # sofia_contact
    assert "Maria-Lopez" in agents and "standby@acme.example" not in agents


def test_agents_keep_mod_callcenters_defaults_not_acds(center):
    """mod_callcenter's agent defaults are 0 (and Logged Out); acd's differ (10 s wrap-up...):
    an attribute left out must keep mod_callcenter's meaning."""
    _, config, _ = center
    agents = {a.id: a for a in config.agents}
    plain = agents["4005@acme.example"]          # only a contact in the XML
    assert (plain.status, plain.max_no_answer, plain.wrap_up_time, plain.reject_delay_time,
            plain.busy_delay_time, plain.no_answer_delay_time) == ("logged-out", 0, 0, 0, 0, 0)


def test_every_parameter_is_mapped_with_its_meaning_or_listed(center):
    """For every <param> of every queue and every agent attribute in the file: the imported
    config has the same value under the same name, or stderr has a line about it."""
    _, config, lines = center
    root = ElementTree.parse(CENTER).getroot()
    queues = {q.name: q for q in config.queues}
    renamed = {"tech escalation": "tech-escalation"}
    seen = set()
    for element in root.iter("queue"):
        name = element.get("name")
        queue = queues[renamed.get(name, name)]
        said = notes_about(lines, f"queue {name!r}")
        if name in seen:
            assert any("defined twice" in line for line in said)
            continue
        seen.add(name)
        values = {}
        for param in element.findall("param"):
            values[param.get("name")] = param.get("value")
        for key, value in values.items():
            if any(f"'{name}': {key}:" in line for line in said) or BUILT_IN.get(key) == value:
                continue
            mapped = getattr(queue, key.replace("-", "_"), None)
            assert mapped is not None, f"{name}: {key} neither mapped nor listed on stderr"
            assert _same(mapped, value), f"{name}: {key}: {value!r} became {mapped!r}"
    agents = {a.id: a for a in config.agents}
    for element in root.iter("agent"):
        name = element.get("name")
        said = notes_about(lines, f"agent {name!r}")
        agent = agents.get(name) or agents.get(name.replace(" ", "-"))
        if agent is None or any("defined twice" in line for line in said):
            assert any("skipped" in line for line in said), f"agent {name} dropped silently"
            continue
        for key, value in element.attrib.items():
            if key in ("name", "type", "contact") or any(f"{key}:" in line for line in said):
                continue
            mapped = getattr(agent, key.replace("-", "_"), None)
            assert mapped is not None, f"agent {name}: {key} neither mapped nor listed"
            assert _same(mapped, value), f"agent {name}: {key}: {value!r} became {mapped!r}"


#: mod_callcenter values that are simply how acd behaves (nothing to write).
BUILT_IN = {"time-base-score": "queue", "agent-no-answer-status": "On Break",
            "tier-rule-no-agent-no-wait": "false"}


def _same(mapped, value):
    if isinstance(mapped, bool):
        return mapped == (value.lower() in ("true", "yes", "on"))
    if isinstance(mapped, (int, float)):
        return float(mapped) == float(value)
    return str(mapped).lower().replace(" ", "-") == value.lower().replace(" ", "-")


def test_what_cannot_be_mapped_is_listed_with_the_reason(center):
    _, _, lines = center
    text = "\n".join(lines)
    expected = [
        ("settings.odbc-dsn", "not mapped: acd keeps its state in Redis"),
        ("queue 'sales@acme'", "record-template: not mapped: acd records a call only with the "
                               "consent"),
        ("queue 'sales@acme'", "max-wait-time: partly mapped"),
        ("queue 'sales@acme'", "defined twice"),
        ("queue 'support@acme'", "skip-agents-with-external-calls: not mapped"),
        ("queue 'support@acme'", "tier-rule-wait-multiply-level: partly mapped"),
        ("queue 'billing@acme'", "max-wait-time: not mapped: '30s'"),
        ("queue 'billing@acme'", "agent-no-answer-status: not mapped: 'Logged Out'"),
        ("queue 'billing@acme'", "tier-rule-no-agent-no-wait: not mapped"),
        ("queue 'billing@acme'", "announce-frequency: not mapped: no announce-sound"),
        ("queue 'tech escalation'", "renamed to 'tech-escalation'"),
        ("queue 'tech escalation'", "ring-progressively-delay: not mapped"),
        ("queue 'vip@acme'", "strategy: not mapped: 'fewest-calls'"),
        ("queue 'vip@acme'", "max-wait-time-with-no-agent: not mapped: '90000'"),
        ("queue 'vip@acme'", "calls-per-agent-interval: not mapped"),
        ("agent 'standby@acme.example'", "skipped: no contact"),
        ("agent '4004@acme.example'", "skipped: contact"),
        ("agent '4001@acme.example'", "defined twice"),
        ("agent '4001@acme.example'", "status: partly mapped: 'Available (On Demand)'"),
        ("agent 'Maria Lopez'", "renamed to 'Maria-Lopez'"),
        ("agent 'Maria Lopez'", "wrap-up-time: not mapped: '-5'"),
        ("agent '4003@acme.example'", "status: not mapped: 'Away'"),
        ("agent '4005@acme.example'", "skills: not mapped"),
        ("agents", "ring-timeout: 4 agent(s)"),
        ("tier '1001@acme.example' in 'vip@acme'", "level: '0'"),
        ("tier 'Maria Lopez' in 'vip@acme'", "state: not mapped"),
        ("tier '2001@acme.example' in 'support@acme'", "given twice"),
        ("tier '9999@acme.example' in 'sales@acme'", "skipped: no such agent"),
        ("tier '1001@acme.example' in 'closed@acme'", "skipped: no such queue"),
    ]
    for where, what in expected:
        assert f"{CENTER}: {where}: {what}" in text, f"no note {where}: {what}\n{text}"
    assert "S3cretDbPw" not in text and "hostaddr" not in text   # settings are never echoed


def test_the_output_is_stable_and_commented(center, tmp_path):
    out, _, _ = center
    again = acd("import-callcenter", CENTER)
    assert again.stdout == out.read_text()
    assert out.read_text().startswith("# acd.yaml imported from")


# -- reading the XML ------------------------------------------------------------------------------

@pytest.mark.parametrize("data, problem", [
    (b"<configuration name='callcenter.conf'><queues>", "not well-formed XML"),
    (b"<configuration name='switch.conf'/>", "no <configuration name=\"callcenter.conf\">"),
    (b"<!DOCTYPE c [<!ENTITY a 'aaaa'>]><configuration name='callcenter.conf'>&a;"
     b"</configuration>", "DOCTYPE"),
])
def test_a_file_acd_cannot_read_is_refused(data, problem):
    with pytest.raises(CallcenterError, match=problem):
        parse_callcenter(data, "cc.xml")


def test_cli_exit_status_for_unreadable_files(tmp_path):
    bad = tmp_path / "cc.xml"
    bad.write_text("<configuration name='callcenter.conf'><queues>")
    done = acd("import-callcenter", bad)
    assert done.returncode == 1 and done.stdout == ""
    assert "not well-formed XML" in done.stderr
    assert acd("import-callcenter", tmp_path / "missing.xml").returncode == 1
    assert acd("import-callcenter", "--var", "novalue", STOCK).returncode == 2


def test_a_whole_freeswitch_xml_and_pre_processor_lines():
    data = b"""<document type="freeswitch/xml">
      <X-PRE-PROCESS cmd="include" data="vars.xml"/>
      <section name="configuration">
        <configuration name="callcenter.conf">
          <queues><queue name="q1"><param name="strategy" value="ring-all"/></queue></queues>
          <agents><agent name="a1" contact="user/a1" status="Available"/></agents>
          <tiers><tier agent="a1" queue="q1" level="2" position="3"/></tiers>
        </configuration>
      </section></document>"""
    notes = Notes("fs.xml")
    document = convert(parse_callcenter(data), notes)
    assert document["queues"] == [{"name": "q1", "strategy": "ring-all",
                                   "tiers": [{"agent": "a1", "level": 2, "position": 3}]}]
    config = parse_config(read_yaml_text(to_yaml(document, "fs.xml")), "x.yaml", ENV)
    assert config.agents[0].status == "available" and config.agents[0].wrap_up_time == 0


def read_yaml_text(text):
    import yaml
    return yaml.safe_load(text)


def test_read_callcenter_reads_a_path():
    assert read_callcenter(STOCK).get("name") == "callcenter.conf"
