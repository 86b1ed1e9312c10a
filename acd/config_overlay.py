"""Run-time changes to agents, tiers and queues: an overlay on ``acd.yaml`` (docs/config.md).

Theory of operation
-------------------
The file seeds; the admin API changes. A change made over the API is one *entry* of the overlay
(kept in Redis by acd.store.admin, shared by every daemon), named by what it changes:

* ``agent:ID`` -- ``{"fields": {yaml key: value}}`` (a PATCH: those keys win over the file's),
  ``{"fields": {...}, "replace": true}`` (a POST: the whole agent) or ``{"deleted": true}``;
* ``tier:QUEUE:AGENT`` -- ``{"fields": {"level": .., "position": ..}}`` or ``{"deleted": true}``;
* ``queue:NAME`` -- ``{"fields": {yaml key: value}}`` (queue parameters).

A null in a change over the API drops that key from the entry: the file's value counts again.

:func:`merge` applies the entries to the file's YAML-shaped mapping, and the daemon's effective
configuration is ``acd.config.parse_config`` of the result: a run-time change obeys literally the
file's rules, and ``acd export-config`` prints the same mapping as YAML. An entry whose target
left the file (a patch of an agent the file no longer has, a tier of a queue that is gone) is
ignored, so editing the file never makes the overlay fail. Nothing here touches Redis.
"""

import copy
import json

import yaml

from acd.config import parse_config
from acd.config_reader import _Int

#: Agent keys the API takes (the file's, with ``password`` instead of ``password-hash``).
AGENT_PASSWORD = "password"
#: Queue keys the API does not change here (the name; tiers have their own endpoints).
QUEUE_FIXED = ("name", "tiers")
SEPARATOR = ":"      # ids and names never hold a colon (acd.config_queues.NAME)
TIER = "tier"


def agent_entry(agent_id):
    return f"agent{SEPARATOR}{agent_id}"


def tier_entry(queue, agent_id):
    return f"{TIER}{SEPARATOR}{queue}{SEPARATOR}{agent_id}"


def queue_entry(name):
    return f"queue{SEPARATOR}{name}"


def decode(raw):
    """The overlay from Redis' {entry: JSON} (a bad entry is skipped)."""
    found = {}
    for name, text in raw.items():
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            found[name] = value
    return found


def encode(entry):
    return json.dumps(entry, sort_keys=True, separators=(",", ":"))


def merge(data, overlay):
    """The file's mapping (not changed) with the overlay's entries applied."""
    merged = copy.deepcopy(data) if isinstance(data, dict) else {}
    if not overlay:
        return merged
    agents = [a for a in merged.get("agents") or [] if isinstance(a, dict)]
    queues = [q for q in merged.get("queues") or [] if isinstance(q, dict)]
    merged["agents"] = _merge_agents(agents, overlay)
    ids = {str(_plain(a.get("id"))) for a in merged["agents"]}
    for queue in queues:
        _merge_queue(queue, overlay, ids)
    if queues or "queues" in merged:
        merged["queues"] = queues
    return merged


def _merge_agents(agents, overlay):
    by_id = {str(_plain(a.get("id"))): i for i, a in enumerate(agents)}
    result = list(agents)
    for name, entry in sorted(overlay.items()):
        kind, _, agent_id = name.partition(SEPARATOR)
        if kind != "agent":
            continue
        at = by_id.get(agent_id)
        if entry.get("deleted"):
            if at is not None:
                result[at] = None
            continue
        fields = {k: v for k, v in (entry.get("fields") or {}).items() if v is not None}
        if entry.get("replace"):
            item = dict(fields, id=agent_id)
        elif at is not None and result[at] is not None:
            item = dict(result[at], **fields)
        else:
            continue          # a patch of an agent the file no longer has
        if at is None:
            by_id[agent_id] = len(result)
            result.append(item)
        else:
            result[at] = item
    return [a for a in result if a is not None]


def _merge_queue(queue, overlay, agent_ids):
    name = str(_plain(queue.get("name")))
    fields = (overlay.get(queue_entry(name)) or {}).get("fields") or {}
    queue.update({k: v for k, v in fields.items() if k not in QUEUE_FIXED and v is not None})
    tiers = [t for t in queue.get("tiers") or [] if isinstance(t, dict)]
    tiers = [t for t in tiers if str(_plain(t.get("agent"))) in agent_ids]
    at = {str(_plain(t.get("agent"))): i for i, t in enumerate(tiers)}
    prefix = tier_entry(name, "")
    for entry_name, entry in sorted(overlay.items()):
        if not entry_name.startswith(prefix):
            continue
        agent_id = entry_name[len(prefix):]
        i = at.get(agent_id)
        if entry.get("deleted"):
            if i is not None:
                tiers[i] = None
        elif agent_id in agent_ids:
            tier = dict(tiers[i] if i is not None and tiers[i] else {},
                        **(entry.get("fields") or {}), agent=agent_id)
            if i is None:
                at[agent_id] = len(tiers)
                tiers.append(tier)
            else:
                tiers[i] = tier
    if tiers or "tiers" in queue:
        queue["tiers"] = [t for t in tiers if t is not None]


def effective(data, overlay, source, env):
    """The Config of the file's mapping with the overlay; ConfigError with every problem."""
    label = f"{source} (with run-time changes)" if overlay else source
    return parse_config(merge(data, overlay), label, env)


def _plain(value):
    """A YAML integer as it was written (``id: 0123`` is "0123"), anything else as it is."""
    if isinstance(value, _Int):
        return value.text if value.text != str(int(value)) else int(value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_yaml(data):
    """The mapping as YAML text that ``acd check-config`` reads back to the same config."""
    return yaml.safe_dump(_plain(data), sort_keys=False, allow_unicode=True,
                          default_flow_style=False)
