"""A running daemon's configuration over time: the file, the run-time overlay, reloads.

Theory of operation
-------------------
The daemon always holds one immutable :class:`acd.config.Config`, the *effective* one:
``parse_config(merge(file mapping, overlay))`` (acd.config_overlay). Three things make a new one,
and all three go through :meth:`Reconfigure.apply`, on the daemon's loop (so never in the middle
of a routing step):

* a run-time change over the admin API (acd.admin), on this daemon or another: the overlay's
  version in Redis moved, :meth:`Reconfigure.tick` notices and rebuilds;
* ``acd reload`` / SIGHUP: :meth:`Reconfigure.reload` reads the file again; a file that does not
  validate (with the overlay on top) changes nothing and says why;
* the start: the overlay found in Redis is applied before the agents are synced.

``apply`` swaps the Config in every part that holds it, syncs the agents into Redis (added ones
appear, removed ones are logged out and leave their queues' avail sets, changed tiers and queue
strategies are scored again) and offers waiting calls again. Calls in progress keep their state:
a waiting caller keeps its place and wait (the callers' zsets are not touched), an agent in a
call finishes it (its tiers only decide what it is offered next). What only a restart can change
(FreeSWITCH, Redis, HTTP, instance, metrics, records, CRM, webhooks) keeps its old value with a
warning. A reload that removes a queue which still has calls is refused.
"""

import dataclasses
import logging
import os

from acd import config_overlay
from acd.config import ConfigError
from acd.config_reader import read_yaml
from acd.cti.events import AGENT_UPDATED, QUEUE_UPDATED
from acd.records import QueueCalls, wrap_up_lookup
from acd.service import iso_utc
from acd.store.admin import AdminStore

log = logging.getLogger("acd.reconfigure")

#: Config parts a reload cannot change in a running daemon (acd.yaml keys).
RESTART_ONLY = {"freeswitch": "freeswitch", "redis": "redis", "http": "http",
                "instance": "instance", "metrics": "metrics", "records": "records",
                "crm": "crm", "webhooks": "webhooks"}


class Reconfigure:
    """``daemon``: an acd.daemon.Daemon; ``path``: its acd.yaml (None: reload unavailable);
    ``data``: the file's mapping (None: read from ``path``; no run-time changes without it)."""

    def __init__(self, daemon, path=None, data=None, env=os.environ):
        self.daemon, self.path, self.env = daemon, path, env
        self.data = data if data is not None or path is None else read_yaml(path)
        self.admin = AdminStore.of(daemon.store)
        self.version, self.overlay = 0, {}

    @property
    def source(self):
        return str(self.path) if self.path else self.daemon.config.source

    def build(self, overlay, data=None):
        """The effective Config of the file (or ``data``) with ``overlay``; ConfigError."""
        return config_overlay.effective(self.data if data is None else data, overlay,
                                        self.source, self.env)

    # -- on the daemon's loop ---------------------------------------------------------------------

    def start(self):
        """Before the first sync: the run-time changes Redis holds."""
        if self.data is None:
            return
        self.version, self.overlay = self.admin.read()
        if not self.overlay:
            return
        try:
            config = self.build(self.overlay)
        except ConfigError as exc:
            log.error("run-time changes not applied (the file alone counts): %s", exc)
            return
        self._swap(self._keep_restart_only(self.daemon.config, config))

    def tick(self):
        """Rebuild when another daemon (or the API here) changed the overlay."""
        if self.data is not None and self.admin.version() != self.version:
            self.refresh()

    def refresh(self):
        """Apply the overlay as Redis holds it now; the changes made."""
        version, overlay = self.admin.read()
        if version == self.version:
            return []
        self.version = version
        try:
            config = self.build(overlay)
        except ConfigError as exc:
            log.error("run-time changes (version %d) not applied: %s", version, exc)
            return []
        self.overlay = overlay
        return self.apply(config)

    def reload(self):
        """Read the file again and apply it; ConfigError (nothing changed) when it does not
        validate. The changes made."""
        if self.path is None:
            raise ConfigError([f"{self.source}: not started from a config file: nothing to "
                               "reload"])
        data = read_yaml(self.path)
        version, overlay = self.admin.read()
        config = self.build(overlay, data)
        self._check_removed_queues(config)
        self.data, self.version, self.overlay = data, version, overlay
        changes = self.apply(config)
        log.info("reloaded %s: %s", self.source,
                 "; ".join(describe(c) for c in changes) or "no changes")
        return changes

    def apply(self, config):
        """Make ``config`` the daemon's; the changes as dicts (see :func:`diff`)."""
        old = self.daemon.config
        config = self._keep_restart_only(old, config)
        changes = diff(old, config)
        self._swap(config)
        self._subscribe(old, config)
        self.daemon.sync_agents()
        self.daemon.router.dispatch([queue.name for queue in config.queues])
        return changes

    def _swap(self, new):
        daemon, old = self.daemon, self.daemon.config
        daemon.config = new
        holders = [daemon.router, daemon.router.selection, daemon.outbound, daemon.control,
                   daemon.ivr, daemon.recordings, daemon.metrics, daemon.cti.day_stats,
                   getattr(daemon.metrics, "service_level", None), *daemon.router.observers]
        for holder in holders:
            if holder is None:
                continue
            if getattr(holder, "config", None) is old:
                holder.config = new
            calls = getattr(holder, "calls", None)
            if isinstance(calls, QueueCalls):
                calls.wrap_up_of = wrap_up_lookup(new)
        daemon.service.config = new

    def _subscribe(self, old, new):
        """The IVR's events when the new config is the first to have menus or schedules."""
        from acd.daemon import events_for
        added = [name for name in events_for(new) if name not in events_for(old)]
        for name in added:
            self.daemon.esl.register_handle(name, self.daemon._on_event)
        if added:
            self.daemon.esl.subscribe(*added)

    def _keep_restart_only(self, old, new):
        kept = {}
        for attr, key in RESTART_ONLY.items():
            if getattr(old, attr) != getattr(new, attr):
                log.warning("%s: %s changed: takes effect at the next restart", self.source, key)
            kept[attr] = getattr(old, attr)
        return dataclasses.replace(new, **kept)

    def _check_removed_queues(self, new):
        router, problems = self.daemon.router, []
        for queue in self.daemon.config.queues:
            if new.has_queue(queue.name):
                continue
            here = sum(1 for call in router.calls.values() if call.queue == queue.name)
            waiting = self.daemon.store.waiting_count(queue.name)
            if here or waiting:
                problems.append(f"{self.source}: queues: queue {queue.name!r} is removed but "
                                f"still has calls ({max(here, waiting)}); remove it once they "
                                "are over")
        if problems:
            raise ConfigError(problems)

    # -- the event stream -----------------------------------------------------------------------

    def publish(self, changes, by):
        """agent.updated / queue.updated for each change (docs/cti.md)."""
        events = self.daemon.cti.events
        now = iso_utc(self.daemon.clock())
        for change in changes:
            data = dict(change, by=by, time=now)
            if "queue" in change:
                agents = [change["agent"]] if change.get("agent") else []
                events.emit(QUEUE_UPDATED, data, agents, change["queue"])
            else:
                events.emit(AGENT_UPDATED, data, [change["agent"]])
        if changes:
            events.flush()


def describe(change):
    """One change as a short text for the log."""
    what = f"queue {change['queue']}" if "queue" in change else f"agent {change['agent']}"
    if "queue" in change and change.get("agent"):
        what += f" agent {change['agent']}"
    fields = f" ({', '.join(change['fields'])})" if change.get("fields") else ""
    return f"{what} {change['change']}{fields}"


def _fields(old, new, skip=()):
    """The acd.yaml keys whose values differ between two dataclasses of the same kind."""
    return [f.name.replace("_", "-") for f in dataclasses.fields(old)
            if f.name not in skip and getattr(old, f.name) != getattr(new, f.name)]


def diff(old, new):
    """What changed from Config ``old`` to ``new``: [{"agent"|"queue": .., "change": ..,
    "fields": [...], ("agent": .. for tier changes)}], agents first."""
    changes = []
    for agent in new.agents:
        if not old.has_agent(agent.id):
            changes.append({"agent": agent.id, "change": "added", "fields": []})
            continue
        fields = _fields(old.agent(agent.id), agent)
        before, after = old.cti.account(agent.id), new.cti.account(agent.id)
        if before.password_hash != after.password_hash:
            fields.append("password")
        if before.role != after.role:
            fields.append("role")
        if fields:
            changes.append({"agent": agent.id, "change": "changed", "fields": fields})
    changes += [{"agent": a.id, "change": "removed", "fields": []}
                for a in old.agents if not new.has_agent(a.id)]
    for queue in new.queues:
        if not old.has_queue(queue.name):
            changes.append({"queue": queue.name, "change": "added", "fields": [], "agent": None})
            continue
        before = old.queue(queue.name)
        fields = _fields(before, queue, skip=("tiers",))
        if fields:
            changes.append({"queue": queue.name, "change": "changed", "fields": fields,
                            "agent": None})
        changes += _tier_changes(queue.name, before.tiers, queue.tiers)
    changes += [{"queue": q.name, "change": "removed", "fields": [], "agent": None}
                for q in old.queues if not new.has_queue(q.name)]
    return changes


def _tier_changes(name, old_tiers, new_tiers):
    old, new = {t.agent: t for t in old_tiers}, {t.agent: t for t in new_tiers}
    changes = []
    for agent_id, tier in new.items():
        if agent_id not in old:
            changes.append({"queue": name, "change": "tier-added", "agent": agent_id,
                            "fields": ["level", "position"]})
        elif old[agent_id] != tier:
            changes.append({"queue": name, "change": "tier-changed", "agent": agent_id,
                            "fields": _fields(old[agent_id], tier)})
    changes += [{"queue": name, "change": "tier-removed", "agent": a, "fields": []}
                for a in old if a not in new]
    return changes
