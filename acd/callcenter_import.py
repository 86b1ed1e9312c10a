"""``acd import-callcenter``: FreeSWITCH mod_callcenter's ``callcenter.conf.xml`` as acd.yaml.

Theory of operation
-------------------
:func:`read_callcenter` parses the XML (the standard library's expat parser: no external
entities; a DOCTYPE -- FreeSWITCH's own XML never has one -- is refused, so no entity can be
declared at all) and finds ``<configuration name="callcenter.conf">``. :func:`convert` walks its
``<queues>`` (acd/callcenter_queues.py), ``<agents>`` and ``<tiers>`` and maps every parameter
whose meaning acd shares, by name (docs/config.md's "mod_callcenter" column; values are read as
mod_callcenter reads them, acd/callcenter_values.py). A value is written only where acd's own
default would behave differently from mod_callcenter's: an agent without ``wrap-up-time`` had
0 s of wrap-up in mod_callcenter, so it gets ``wrap-up-time: 0``, not acd's 10. What has no
equivalent, or only a partial one, becomes one line in :class:`Notes` with the reason
(``FILE: where: param: reason``), printed on stderr by the CLI; the conversion never stops at
the first. :func:`to_yaml` writes the result, which passes ``acd check-config``.

Values are never taken on trust: ids become acd's id syntax (with a note when changed), times
must be whole seconds 0..86400 (mod_callcenter's own range), contacts pass the same check acd
applies when it rings an agent. The ``<settings>`` are never echoed (``odbc-dsn`` holds a
password).
"""

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field

import yaml

from acd import defaults
from acd.callcenter_queues import read_queue
from acd.callcenter_values import STATUSES, expand, seconds
from acd.config_queues import NAME
from acd.esl.commands import UnsafeValue, parse_contact

#: Contact variables that are the agent's ring timeout (the leg's wins over the call's).
RING_TIMEOUT_VARIABLES = ("leg_timeout", "originate_timeout", "call_timeout")
#: What FreeSWITCH's originate rings for when the contact sets no timeout.
ORIGINATE_DEFAULT_TIMEOUT = 60
_SOFIA_CONTACT = re.compile(r"\$\{sofia_contact\((?:[^/()]*/)?([A-Za-z0-9_.+-]+@[A-Za-z0-9_.-]+)"
                            r"\)\}\Z")


class CallcenterError(ValueError):
    """The file is no callcenter.conf.xml acd can read (not XML, no callcenter configuration)."""


@dataclass
class Notes:
    """What could not be mapped (or only partly): ``FILE: where: text`` lines."""
    source: str
    lines: list = field(default_factory=list)

    def add(self, where, text):
        self.lines.append(f"{self.source}: {where}: {text}")


# -- reading ----------------------------------------------------------------------------------

def read_callcenter(path):
    """The ``<configuration name="callcenter.conf">`` element of the file at ``path``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise CallcenterError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_callcenter(data, str(path))


def parse_callcenter(data, source="<string>"):
    if re.search(rb"<!DOCTYPE|<!ENTITY", data, re.IGNORECASE):
        raise CallcenterError(f"{source}: a DOCTYPE or ENTITY declaration: FreeSWITCH's XML never "
                           "has one, and acd does not read one")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise CallcenterError(f"{source}: not well-formed XML: {exc}") from None
    found = root if _is_callcenter(root) else next(
        (e for e in root.iter("configuration") if _is_callcenter(e)), None)
    if found is None:
        raise CallcenterError(f"{source}: no <configuration name=\"callcenter.conf\"> in the file")
    return found


def _is_callcenter(element):
    return element.tag == "configuration" and element.get("name", "").lower() in (
        "callcenter.conf", "callcenter")


# -- converting -------------------------------------------------------------------------------

def convert(configuration, notes, variables=None):
    """``{"agents": [...], "queues": [...]}`` for acd.yaml; the unmapped go to ``notes``."""
    variables = dict(variables or {})
    _settings(configuration, notes)
    for element in configuration.iter("X-PRE-PROCESS"):
        notes.add("X-PRE-PROCESS", f"{element.get('cmd', '')} {element.get('data', '')!r}: "
                  "FreeSWITCH's pre-processor is not run; import the expanded file")
    ids = _Ids(notes)
    queues = [read_queue(e, notes, variables, ids) for e in _children(configuration, "queues",
                                                                   "queue")]
    queues = [q for q in queues if q is not None]
    agents = [_agent(e, notes, variables, ids) for e in _children(configuration, "agents",
                                                                   "agent")]
    agents = [a for a in agents if a is not None]
    _timeouts_note(agents, notes)
    _tiers(configuration, queues, {a["id"] for a in agents}, notes, ids)
    for agent in agents:
        agent.pop("_ring_timeout_set", None)
    return {"agents": agents, "queues": queues}


def _children(parent, group, tag):
    for section in parent.findall(group):
        yield from section.findall(tag)


def _settings(configuration, notes):
    for section in configuration.findall("settings"):
        for param in section.findall("param"):
            name = param.get("name", "")
            notes.add(f"settings.{name}", "not mapped: acd keeps its state in Redis "
                                          "(redis.url in acd.yaml), not in a database of its own")


class _Ids:
    """mod_callcenter names -> acd ids (letters, digits, ``_ . @ + -``), unique per kind."""

    def __init__(self, notes):
        self.notes = notes
        self.taken = {"agent": {}, "queue": {}}

    def make(self, kind, name, where):
        if name in self.taken[kind]:
            return None
        made = name if NAME.match(name) else re.sub(r"[^A-Za-z0-9_.@+-]", "-", name) or kind
        base, n = made, 1
        while made in self.taken[kind].values():
            n += 1
            made = f"{base}-{n}"
        if made != name:
            self.notes.add(where, f"renamed to {made!r}: acd {kind} names are made of letters, "
                                  "digits and _ . @ + -" + (" (the dialplan's acd_queue must "
                                                            "use the new name)" if kind == "queue"
                                                            else ""))
        self.taken[kind][name] = made
        return made

    def of(self, kind, name):
        return self.taken[kind].get(name)


# -- agents -----------------------------------------------------------------------------------

_AGENT_SECONDS = ("wrap-up-time", "reject-delay-time", "busy-delay-time", "no-answer-delay-time")
_ACD_AGENT_DEFAULTS = {"status": defaults.AGENT_STATUS,
                       "max-no-answer": defaults.AGENT_MAX_NO_ANSWER,
                       "wrap-up-time": defaults.AGENT_WRAP_UP_TIME,
                       "reject-delay-time": defaults.AGENT_REJECT_DELAY_TIME,
                       "busy-delay-time": defaults.AGENT_BUSY_DELAY_TIME,
                       "no-answer-delay-time": defaults.AGENT_NO_ANSWER_DELAY_TIME}


def _agent(element, notes, variables, ids):
    raw_name = element.get("name", "")
    where = f"agent {raw_name!r}"
    if not raw_name:
        notes.add("agents", "an <agent> without a name: skipped")
        return None
    contact = _agent_contact(element.get("contact"), where, notes, variables)
    if contact is None:
        return None
    agent_id = ids.make("agent", raw_name, where)
    if agent_id is None:
        notes.add(where, "defined twice: the second definition is skipped")
        return None
    endpoint, ring_timeout = contact
    agent = {"id": agent_id, "contact": endpoint}
    if ring_timeout is not None:
        agent["ring-timeout"] = ring_timeout
    # mod_callcenter's defaults: a new agent is Logged Out, every count and delay is 0
    values = {"status": "logged-out", "max-no-answer": 0, **{k: 0 for k in _AGENT_SECONDS}}
    for key, value in element.attrib.items():
        _agent_attribute(key, value, values, where, notes)
    agent.update((k, v) for k, v in values.items() if v != _ACD_AGENT_DEFAULTS[k])
    agent["_ring_timeout_set"] = ring_timeout is not None
    return agent


def _agent_attribute(key, value, values, where, notes):
    if key in ("name", "contact"):
        return
    if key == "type":
        if value.strip().lower() != "callback":
            notes.add(where, f"type: not mapped: {value!r}: acd calls the agent's contact for "
                             "each offer (mod_callcenter's callback); the agent is imported as "
                             "such")
    elif key == "status":
        status = STATUSES.get(value.strip().lower())
        if status is None:
            notes.add(where, f"status: not mapped: {value!r} is not a mod_callcenter status; "
                             "the agent starts logged-out")
        else:
            values["status"] = status
            if value.strip().lower() == "available (on demand)":
                notes.add(where, "status: partly mapped: 'Available (On Demand)' becomes "
                                 "available: acd does not log the agent out after a call")
    elif key == "max-no-answer":
        text = value.strip()
        if text.isdigit():
            values[key] = int(text)
        else:
            notes.add(where, f"max-no-answer: not mapped: {value!r} is not a whole number >= 0; "
                             "0 applies (mod_callcenter's default)")
    elif key in _AGENT_SECONDS:
        parsed = seconds(value, where, key, notes, "0 applies (mod_callcenter's default)")
        if parsed is not None:
            values[key] = parsed
    else:
        notes.add(where, f"{key}: not mapped: not a mod_callcenter agent attribute acd knows")


def _agent_contact(contact, where, notes, variables):
    """(acd contact, ring timeout or None), or None (with a note) when it cannot be used."""
    if not contact:
        notes.add(where, "skipped: no contact (acd rings each agent's contact; a uuid-standby "
                         "agent without one has no acd equivalent); its tiers are dropped")
        return None
    expanded = expand(contact, where, "contact", notes, variables)
    if expanded is None:
        notes.add(where, "skipped: its contact cannot be used; its tiers are dropped")
        return None
    block, endpoint = "", expanded
    if expanded.startswith(("{", "[")):
        close = expanded.find("}" if expanded[0] == "{" else "]")
        block, endpoint = expanded[1:close] if close > 0 else "", expanded[close + 1:]
    sofia = _SOFIA_CONTACT.match(endpoint)
    if sofia:
        endpoint = f"user/{sofia.group(1)}"
        notes.add(where, f"contact: {expanded!r} rings the same registered phone as {endpoint} "
                         "(acd's contacts are plain dial strings)")
    kept, timeouts = [], {}
    for item in filter(None, block.split(",")):
        name, _, value = item.partition("=")
        if name.strip() in RING_TIMEOUT_VARIABLES:
            timeouts[name.strip()] = value.strip()
        else:
            kept.append(item)
    ring_timeout = None
    for name in RING_TIMEOUT_VARIABLES:
        if name in timeouts:
            value = timeouts[name]
            if value.isdigit() and int(value) > 0:
                ring_timeout = int(value)
                break
            notes.add(where, f"contact: {name}={value!r} is not a whole number of seconds > 0: "
                             "the queue's ring-timeout applies")
    acd_contact = (f"{{{','.join(kept)}}}" if kept else "") + endpoint
    try:
        parse_contact(acd_contact)
    except UnsafeValue as exc:
        notes.add(where, f"skipped: contact {contact!r} is no dial string acd can use ({exc}); "
                         "its tiers are dropped")
        return None
    return acd_contact, ring_timeout


def _timeouts_note(agents, notes):
    without = [a["id"] for a in agents if not a["_ring_timeout_set"]]
    if without:
        shown = ", ".join(without[:5]) + (f" and {len(without) - 5} more" if len(without) > 5
                                          else "")
        notes.add("agents", f"ring-timeout: {len(without)} agent(s) ({shown}) had no "
                            "leg_timeout/call_timeout in their contact: FreeSWITCH rang them "
                            f"{ORIGINATE_DEFAULT_TIMEOUT} s, acd rings them for the queue's "
                            f"ring-timeout ({defaults.QUEUE_RING_TIMEOUT:g} s unless set)")


# -- tiers ------------------------------------------------------------------------------------

def _tiers(configuration, queues, agent_ids, notes, ids):
    by_name = {queue["name"]: queue for queue in queues}
    seen = set()
    for element in _children(configuration, "tiers", "tier"):
        agent_name, queue_name = element.get("agent", ""), element.get("queue", "")
        where = f"tier {agent_name!r} in {queue_name!r}"
        agent, queue = ids.of("agent", agent_name), ids.of("queue", queue_name)
        if queue is None or queue not in by_name:
            notes.add(where, "skipped: no such queue")
            continue
        if agent is None or agent not in agent_ids:
            notes.add(where, "skipped: no such agent (or the agent was skipped)")
            continue
        if (agent, queue) in seen:
            notes.add(where, "given twice: the second is skipped (acd has one tier per agent "
                             "and queue)")
            continue
        seen.add((agent, queue))
        tier = {"agent": agent}
        for key in ("level", "position"):
            value = element.get(key)
            if value is None:
                continue
            if value.strip().isdigit() and int(value) >= 1:
                if int(value) != 1:
                    tier[key] = int(value)
            else:
                notes.add(where, f"{key}: {value!r} is not a whole number >= 1: 1 is used "
                                 "(mod_callcenter's default)")
        for key in element.attrib:
            if key not in ("agent", "queue", "level", "position"):
                notes.add(where, f"{key}: not mapped: not a tier attribute acd knows (acd keeps "
                                 "no tier state: an agent's status is its own)")
        by_name[queue]["tiers"].append(tier)


# -- writing ----------------------------------------------------------------------------------

def to_yaml(document, source):
    """acd.yaml's text: a header, then ``agents:`` and ``queues:`` (tiers one per line)."""
    out = [f"# acd.yaml imported from {source} by acd import-callcenter.",
           "# Add freeswitch, redis and http (docs/config.md), then: acd check-config acd.yaml",
           "# What could not be mapped was listed on stderr.", ""]
    out.append("agents:" + (" []" if not document["agents"] else ""))
    for agent in document["agents"]:
        out.append(_block(agent))
    out.append("")
    out.append("queues:" + (" []" if not document["queues"] else ""))
    for queue in document["queues"]:
        tiers = queue["tiers"]
        rest = {k: v for k, v in queue.items() if k != "tiers"}
        out.append(_block(rest))
        out.append("    tiers:" + (" []" if not tiers else ""))
        out.extend(f"      - {_flow(tier)}" for tier in tiers)
    return "\n".join(out) + "\n"


def _block(mapping):
    text = yaml.safe_dump(mapping, sort_keys=False, default_flow_style=False, width=1 << 16,
                          allow_unicode=True).rstrip("\n").split("\n")
    return "\n".join(["  - " + text[0]] + ["    " + line for line in text[1:]])


def _flow(mapping):
    return yaml.safe_dump(mapping, sort_keys=False, default_flow_style=True,
                          width=1 << 16).strip()
