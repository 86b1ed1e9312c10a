"""What the daemon shows and lets change through its API: agents, queues, health.

Theory of operation
-------------------
The HTTP layer (``acd.http``) only translates requests into calls on :class:`Service` and its
dicts into JSON; it never reads Redis or the config itself. The Service reads the configuration
(which agents and queues exist, their names, tiers and strategies) and the shared Redis store
(each agent's status, state and counters; the callers waiting in each queue) and merges them
into plain dicts whose keys are the API's JSON keys (docs/api.md is the contract).

Nothing here talks ESL or HTTP. Time comes from ``clock`` (one read per view, so every wait in a
view is measured against the same instant). A status change goes to the store, then to the
``on_agent_change`` observer (the daemon uses it to offer waiting calls to an agent that became
available); a failing observer is logged, never raised to the caller.
"""

import datetime
import json
import logging

import acd.clock
from acd.core.skills import SkillError, check_skill, parse_skills
from acd.core.model import AgentState, AgentStatus

log = logging.getLogger("acd.service")

#: What an agent or an admin chooses; where an agent is in a call (acd/core/model.py).
STATUSES = tuple(status.value for status in AgentStatus)
STATES = tuple(state.value for state in AgentState)


class NotSynced(LookupError):
    """The agent is configured but the daemon has not written it to Redis yet."""


def iso_utc(epoch):
    """Epoch seconds -> ``2027-01-15T08:00:00.000Z`` (None stays None)."""
    if epoch is None:
        return None
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seconds(value):
    """A duration for the API: seconds, rounded to the millisecond."""
    return round(max(float(value), 0.0), 3)


def _epoch(value):
    """A stored timestamp: a positive float, or None (missing, empty, 0)."""
    if value in (None, ""):
        return None
    value = float(value)
    return value if value > 0 else None


class Service:
    """``health_checks``: callables returning ``(name, ok, reason)`` (the daemon's ESL check)."""

    def __init__(self, config, store, clock=acd.clock.now, on_agent_change=lambda agent_id: None,
                 health_checks=(), on_agent_status=lambda agent_id, details: None):
        self.store = store
        self.clock = clock
        self.on_agent_change = on_agent_change
        #: told first, with {"status", "reason", "by"}, after a status change (the daemon
        #: makes it a routing decision: the event stream's agent.status)
        self.on_agent_status = on_agent_status
        self.health_checks = tuple(health_checks)
        self.config = config
        self.metrics = None         # acd.metrics.Metrics, set by the daemon (GET /metrics)

    @property
    def config(self):
        return self._config

    @config.setter
    def config(self, config):
        """Set (or reload) the configuration the views are built from."""
        self._config = config
        self._agents = {agent.id: agent for agent in config.agents}
        self._queues = {queue.name: queue for queue in config.queues}
        self._tiers_of = {agent.id: [] for agent in config.agents}
        for queue in config.queues:
            for tier in queue.tiers:
                self._tiers_of.setdefault(tier.agent, []).append((queue, tier))

    # -- health -------------------------------------------------------------------------------

    def checks(self):
        """Every check, Redis first: ``[(name, ok, reason)]``."""
        return [self._redis_check()] + [self._run_check(check) for check in self.health_checks]

    def health(self):
        """``(ok, reasons)``: reasons are ``"name: reason"`` of the failing checks."""
        failed = [f"{name}: {reason}" for name, ok, reason in self.checks() if not ok]
        return not failed, failed

    def _redis_check(self):
        try:
            ok = self.store.ping()
        except Exception as exc:  # any failure to reach Redis is "not healthy", with its reason
            return "redis", False, str(exc) or type(exc).__name__
        return "redis", ok, "" if ok else "PING failed"

    @staticmethod
    def _run_check(check):
        try:
            name, ok, reason = check()
        except Exception as exc:
            log.exception("health check %r raised", check)
            return getattr(check, "__name__", "check"), False, f"check raised: {exc!r}"
        return name, bool(ok), reason or ""

    def metrics_exposition(self, accept=""):
        """``(content_type, bytes)`` for GET /metrics, or None when metrics are off."""
        return None if self.metrics is None else self.metrics.exposition(accept)

    # -- agents -------------------------------------------------------------------------------

    def has_agent(self, agent_id):
        """Whether the agent is configured (no Redis read)."""
        return agent_id in self._agents

    def agent_view(self, agent_id):
        """The agent (docs/api.md, "Agent"), or None if it is not configured."""
        conf = self._agents.get(agent_id)
        if conf is None:
            return None
        view = self._agent_json(conf, self.store.agent(agent_id), self.clock())
        view["recording_consent"] = self.recording_consent(agent_id)
        return view

    def recording_consent(self, agent_id):
        """The agent's consent to recordings (acd.recording) and since when."""
        from acd.store.recording import RecordingStore
        consent, at = RecordingStore.of(self.store).agent_consent(agent_id)
        return {"consent": consent, "at": iso_utc(at), "at_epoch": at}

    def set_recording_consent(self, agent_id, consent, now=None):
        """The agent (itself: acd.http checks) gives or withdraws its consent; audited."""
        from acd.store.recording import RecordingStore
        if agent_id not in self._agents:
            raise KeyError(agent_id)
        RecordingStore.of(self.store).set_agent_consent(
            agent_id, consent, self.clock() if now is None else now, agent_id)
        return {"agent": agent_id, **self.recording_consent(agent_id)}

    def agents_view(self):
        """Every configured agent, in config order."""
        stored, now = self._stored_agents(), self.clock()
        return [self._agent_json(conf, stored.get(conf.id), now) for conf in self._agents.values()]

    def set_agent_status(self, agent_id, status, reason=None, by=None):
        """Set the agent's status in Redis, tell the observers, return the agent's new view.
        ``reason``: why (on-break only; one of cti.break-reasons); ``by``: who asked.
        KeyError: not configured; NotSynced: not in Redis yet; ValueError: not a status or
        not a reason. The observers run before the response goes out: they should hand work
        off, not block."""
        if agent_id not in self._agents:
            raise KeyError(agent_id)
        if status not in STATUSES:
            shown = json.dumps(status, default=repr)[:64]
            raise ValueError(f"invalid status {shown}; valid: {', '.join(STATUSES)}")
        reason = self._check_reason(status, reason)
        try:
            self.store.set_status(agent_id, status, self.clock(), reason)
        except KeyError:
            raise NotSynced(f"agent {agent_id} is configured but not in Redis yet "
                            "(the daemon writes agents at start); try again") from None
        try:
            self.on_agent_status(agent_id, {"status": status, "reason": reason, "by": by or ""})
        except Exception:
            log.exception("on_agent_status(%r) failed", agent_id)
        self._notify(agent_id)
        return self.agent_view(agent_id)

    def _check_reason(self, status, reason):
        """The reason to keep ('' for none); ValueError unless it is a configured break reason
        given with on-break."""
        if reason is None or reason == "":
            return ""
        reasons = getattr(getattr(self._config, "cti", None), "break_reasons", ())
        shown = json.dumps(reason, default=repr)[:64]
        if status != "on-break":
            raise ValueError(f"a reason goes with status on-break only, got {shown} with {status}")
        if reason not in reasons:
            listed = ", ".join(reasons) if reasons else "none are configured (cti.break-reasons)"
            raise ValueError(f"invalid reason {shown}; valid: {listed}")
        return reason

    def set_agent_skills(self, agent_id, skills):
        """Replace the agent's skills at run time ({name: proficiency 1..10}); the next routing
        decision uses them (and they survive restarts until the config's skills change).
        KeyError: not configured; NotSynced: not in Redis yet; ValueError: bad skills."""
        if agent_id not in self._agents:
            raise KeyError(agent_id)
        if not isinstance(skills, dict):
            raise ValueError('expected {"skills": {"name": proficiency 1..10, ...}}')
        try:
            for name, level in skills.items():
                check_skill(name, level)
        except SkillError as exc:
            raise ValueError(str(exc)) from None
        try:
            self.store.set_skills(agent_id, skills, self.clock())
        except KeyError:
            raise NotSynced(f"agent {agent_id} is configured but not in Redis yet "
                            "(the daemon writes agents at start); try again") from None
        self._notify(agent_id)
        return self.agent_view(agent_id)

    def call_routing(self, call_uuid):
        """Every offer made for the call, explained (docs/api.md), or None if none is known."""
        try:
            entries = self.store.routing(call_uuid)
        except ValueError:  # not a valid call id
            return None
        if entries is None:
            return None
        for entry in entries:
            entry["time"] = iso_utc(entry.get("time"))
        return {"call": call_uuid, "offers": entries}

    def _notify(self, agent_id):
        try:
            self.on_agent_change(agent_id)
        except Exception:
            log.exception("on_agent_change(%r) failed", agent_id)

    def _stored_agents(self):
        return {agent["id"]: agent for agent in self.store.agents() if "id" in agent}

    def _agent_json(self, conf, stored, now):
        stored = stored or {}
        idle_since = _epoch(stored.get("idle_since"))
        ready_at = _epoch(stored.get("ready_at"))
        ready_at = ready_at if ready_at is not None and ready_at > now else None
        return {
            "id": conf.id,
            "name": conf.name,
            "status": stored.get("status", conf.status),
            "state": stored.get("state", "waiting"),
            "calls_answered": stored.get("calls_answered", 0),
            "talk_time": _seconds(stored.get("talk_time", 0)),
            "no_answer_count": stored.get("no_answer_count", 0),
            "idle_since": iso_utc(idle_since),
            "idle_since_epoch": idle_since,
            "ready_at": iso_utc(ready_at),
            "ready_at_epoch": ready_at,
            "contact": conf.contact,
            "call": stored.get("call") or None,
            "skills": parse_skills(stored["skills"]) if "skills" in stored else dict(conf.skills),
            "queues": [{"name": queue.name, "level": tier.level, "position": tier.position}
                       for queue, tier in self._tiers_of.get(conf.id, ())],
        }

    # -- queues -------------------------------------------------------------------------------

    def queues_view(self):
        """Every configured queue, in config order (summaries, no callers)."""
        stored, now = self._stored_agents(), self.clock()
        return [self._queue_json(queue, stored, self._callers(queue.name, now))
                for queue in self._queues.values()]

    def queue_view(self, name):
        """One queue with its callers (queue order) and tiers, or None if not configured."""
        queue = self._queues.get(name)
        if queue is None:
            return None
        stored, now = self._stored_agents(), self.clock()
        callers = self._callers(name, now)
        view = self._queue_json(queue, stored, callers)
        view["callers"] = callers
        view["tiers"] = [self._tier_json(tier, stored.get(tier.agent)) for tier in queue.tiers]
        return view

    def _queue_json(self, queue, stored, callers):
        by_state, by_status = dict.fromkeys(STATES, 0), dict.fromkeys(STATUSES, 0)
        for tier in queue.tiers:
            agent = self._tier_json(tier, stored.get(tier.agent))
            by_state[agent["state"]] = by_state.get(agent["state"], 0) + 1
            by_status[agent["status"]] = by_status.get(agent["status"], 0) + 1
        return {
            "name": queue.name,
            "strategy": queue.strategy,
            "waiting": len(callers),
            "longest_wait": max((c["wait"] for c in callers), default=0.0),
            "agents": {"total": len(queue.tiers),
                       "available": self.store.available_count(queue.name),
                       "by_state": by_state, "by_status": by_status},
        }

    def _tier_json(self, tier, stored):
        conf, stored = self._agents[tier.agent], stored or {}  # parse_config checked the tier
        return {
            "id": tier.agent,
            "name": conf.name,
            "status": stored.get("status", conf.status),
            "state": stored.get("state", "waiting"),
            "level": tier.level,
            "position": tier.position,
        }

    def _callers(self, queue, now):
        """The callers waiting in ``queue``, best first, with their waits at ``now``."""
        uuids = [uuid for uuid, _score in self.store.waiting(queue)]
        pipe = self.store.redis.pipeline(transaction=False)
        for uuid in uuids:
            pipe.hgetall(self.store.keys.call(uuid))
        # a call that ended between the two reads has no hash any more: skip it
        calls = [(uuid, call) for uuid, call in zip(uuids, pipe.execute()) if call]
        return [self._caller_json(uuid, call, position, now)
                for position, (uuid, call) in enumerate(calls, 1)]

    @staticmethod
    def _caller_json(uuid, call, position, now):
        enqueued_at = float(call.get("enqueued_at") or now)
        queue_since = _epoch(call.get("queue_since"))
        return {
            "uuid": uuid,
            "position": position,
            "wait": _seconds(now - enqueued_at),
            "caller_number": call.get("caller_number", ""),
            "caller_name": call.get("caller_name", ""),
            "priority": float(call.get("priority") or 0),
            "state": call.get("state", "waiting"),
            "enqueued_at": iso_utc(enqueued_at),
            "queue_since": iso_utc(queue_since),
        }
