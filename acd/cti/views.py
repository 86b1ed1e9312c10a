"""What the CTI endpoints show: the wallboard, queue statistics, an agent's calls, one call, who
a call belongs to, and "who am I".

Theory of operation
-------------------
Like :class:`acd.service.Service` (whose agent view is reused as it is), :class:`Views` reads the
configuration and the shared Redis state and returns plain dicts whose keys are the API's JSON
keys (docs/cti.md is the contract). Each view reads the clock once. Reads are pipelined: a
queue's statistics cost two round trips for any number of queues.

:meth:`Views.call_agents` is the authorization helper for everything done to a call: the agents
a call belongs to, from the call's hash (``agent``: the agent talking to it) and the asking
agent's hash (``call``: the call it is reserved for, ringing for or talking on).
"""

import json

from acd.cti.stats import day_of
from acd.service import STATES, STATUSES, _epoch, _seconds, iso_utc
from acd.store.crm import CrmStore

#: Most recent calls GET /api/v1/agents/{id}/calls returns.
MAX_CALLS = 50
_AGENT_FIELDS = ("status", "state")


class Views:
    def __init__(self, service, cti_store):
        self.service, self.store = service, cti_store
        self._crm_store = None     # wrap-up codes of recent calls (acd.wrapup)

    @property
    def config(self):
        return self.service.config

    def queue_names(self):
        return [queue.name for queue in self.config.queues]

    def queues_of(self, agent_id):
        return [queue.name for queue, _ in self.config.queues_of(agent_id)]

    # -- queues ---------------------------------------------------------------------------------

    def queue_stats(self, names):
        """The statistics of each configured queue in ``names`` (docs/cti.md, queue.stats)."""
        queues = [self.config.queue(n) for n in names if self.config.has_queue(n)]
        now = self.service.clock()
        day = day_of(now, self.config.cti.timezone)
        redis, keys = self.store.redis, self.store.keys
        pipe = redis.pipeline(transaction=False)
        for queue in queues:
            pipe.zrange(keys.callers(queue.name), 0, -1)
            pipe.zcard(keys.avail(queue.name))
            pipe.hgetall(keys.day_stats(day, queue.name))
            for tier in queue.tiers:
                pipe.hmget(keys.agent(tier.agent), *_AGENT_FIELDS)
        found = iter(pipe.execute())
        rows = []
        for queue in queues:
            callers, available, counts = next(found), next(found), next(found)
            agents = [next(found) for _ in queue.tiers]
            rows.append((queue, callers, available, counts, agents))
        pipe = redis.pipeline(transaction=False)
        for _, callers, _, _, _ in rows:
            for uuid in callers:
                pipe.hget(keys.call(uuid), "enqueued_at")
        since = iter(pipe.execute())
        return [self._queue_stats(queue, [next(since) for _ in callers], available, counts,
                                  agents, now)
                for queue, callers, available, counts, agents in rows]

    def _queue_stats(self, queue, enqueued, available, counts, agents, now):
        waits = [float(e) for e in enqueued if e]          # a caller that just left: skipped
        oldest = min(waits) if waits else None
        by_state, by_status = dict.fromkeys(STATES, 0), dict.fromkeys(STATUSES, 0)
        for tier, (status, state) in zip(queue.tiers, agents):
            status = status or self.config.agent(tier.agent).status
            by_state[state or "waiting"] = by_state.get(state or "waiting", 0) + 1
            by_status[status] = by_status.get(status, 0) + 1
        counts = {name: int(counts.get(name, 0)) for name in
                  ("offered", "answered", "abandoned", "timed_out", "exited", "overflowed",
                   "sl_met", "sl_counted")}
        met, counted = counts.pop("sl_met"), counts.pop("sl_counted")
        return {
            "queue": queue.name, "strategy": queue.strategy, "waiting": len(waits),
            "longest_wait": _seconds(now - oldest) if oldest is not None else 0.0,
            "oldest_enqueued_at": iso_utc(oldest), "oldest_enqueued_at_epoch": oldest,
            "agents": {"total": len(queue.tiers), "available": available,
                       "by_state": by_state, "by_status": by_status},
            "today": dict(counts, service_level=round(met / counted, 4) if counted else None,
                          service_level_threshold=queue.service_level_threshold),
            "time": iso_utc(now),
        }

    # -- the wallboard ------------------------------------------------------------------------

    def wallboard(self):
        """Every queue's statistics and every agent's status, state and current call."""
        now = self.service.clock()
        stored = {agent["id"]: agent for agent in self.service.store.agents() if "id" in agent}
        return {"time": iso_utc(now), "time_epoch": now,
                "queues": self.queue_stats(self.queue_names()),
                "agents": [self._board_agent(conf, stored.get(conf.id) or {}, now)
                           for conf in self.config.agents]}

    def _board_agent(self, conf, stored, now):
        state = stored.get("state", "waiting")
        since = _state_since(state, stored, now)
        status_since = _epoch(stored.get("status_since"))
        return {"id": conf.id, "name": conf.name, "status": stored.get("status", conf.status),
                "reason": stored.get("status_reason", ""), "state": state,
                "call": stored.get("call") or None,
                "since": iso_utc(since), "since_epoch": since,
                "status_since": iso_utc(status_since), "status_since_epoch": status_since,
                "calls_answered": stored.get("calls_answered", 0),
                "queues": self.queues_of(conf.id)}

    # -- one agent ------------------------------------------------------------------------------

    def me(self, principal):
        """GET /api/v1/me: the token's role and agent (the agent's view as GET /agents/{id})."""
        agent = self.service.agent_view(principal.agent) if principal.agent else None
        reason = ""
        if agent is not None:
            reason = self.service.store.redis.hget(
                self.service.store.keys.agent(principal.agent), "status_reason") or ""
        return {"role": principal.role, "agent_id": principal.agent, "agent": agent,
                "status_reason": reason, "kind": principal.kind, "name": principal.name,
                "expires_at": iso_utc(principal.expires_at),
                "expires_at_epoch": principal.expires_at,
                "break_reasons": list(self.config.cti.break_reasons),
                "softphone": self._softphone(principal.agent),
                "wrap_up_codes": {q.name: list(q.wrap_up_codes) for q, _ in (
                    self.config.queues_of(principal.agent) if principal.agent else ())
                    if q.wrap_up_codes}}

    def _softphone(self, agent_id):
        """Where the agent's softphone registers (never a password: the agent types it)."""
        phone = self.config.cti.softphone
        if phone is None or not agent_id:
            return None
        return {"ws_url": phone.ws_url, "domain": phone.domain,
                "uri": f"sip:{agent_id}@{phone.domain}"}

    def agent_calls(self, agent_id, limit):
        """The agent's current call (or None) and its latest calls from the call records."""
        now = self.service.clock()
        agent = self.service.store.agent(agent_id) or {}
        current = None
        if agent.get("call"):
            call = self.service.store.call(agent["call"])
            current = self._current(agent["call"], agent, call or {}, now)
        recent = [self._record(agent_id, entry_id, fields)
                  for entry_id, fields in self.store.recent_records(agent_id, limit)]
        codes = self._crm().wrap_up_codes_of([call["call"] for call in recent])
        for call in recent:
            call["wrap_up_code"], call["wrap_up_note"] = codes.get(call["call"], (None, None))
        return {"agent": agent_id, "current": current, "recent": recent}

    def _crm(self):
        if self._crm_store is None:
            self._crm_store = CrmStore.of(self.service.store)
        return self._crm_store

    def _current(self, uuid, agent, call, now):
        enqueued = _epoch(call.get("enqueued_at"))
        answered = _epoch(agent.get("answered_at")) if agent.get("state") == "in-call" else None
        data = _json_object(call.get("data"))
        return {"call": uuid, "state": agent.get("state"), "queue": call.get("queue"),
                "direction": agent.get("direction") or call.get("direction") or "inbound",
                "caller_number": call.get("caller_number") or agent.get("dialed", ""),
                "caller_name": call.get("caller_name", ""),
                "enqueued_at": iso_utc(enqueued), "enqueued_at_epoch": enqueued,
                "answered_at": iso_utc(answered), "answered_at_epoch": answered,
                "wait": _seconds((answered or now) - enqueued) if enqueued else 0.0,
                "ivr_path": data.get("ivr_path", ""), "data": data}

    @staticmethod
    def _record(agent_id, entry_id, fields):
        times = {name: _number(fields.get(name)) for name in
                 ("enqueued_at", "answered_at", "ended_at")}
        view = {"call": fields.get("uuid", ""), "record_id": entry_id,
                "queue": fields.get("queue", ""), "direction": fields.get("direction") or "inbound",
                "caller_number": fields.get("caller_number", ""),
                "caller_name": fields.get("caller_name", ""),
                "ivr_path": fields.get("ivr_path", ""), "result": fields.get("result", ""),
                "agent": fields.get("agent") or None,
                "answered": fields.get("result") == "answered" and fields.get("agent") == agent_id,
                "wait": _number(fields.get("wait")) or 0.0,
                "talk": _number(fields.get("talk")) or 0.0,
                "wrap_up": _number(fields.get("wrap_up")) or 0.0}
        for name, value in times.items():
            view[name], view[f"{name}_epoch"] = iso_utc(value), value
        return view

    # -- one call -------------------------------------------------------------------------------

    def call_agents(self, uuid, agent_id=None):
        """The agents ``uuid`` belongs to: the agent talking to it (the call's ``agent``) and,
        if ``agent_id`` is given, that agent when its ``call`` is this one (reserved, ringing,
        in a call). Empty when the call is unknown."""
        keys = self.store.keys
        try:
            call_key = keys.call(uuid)
        except ValueError:
            return set()
        pipe = self.store.redis.pipeline(transaction=False)
        pipe.hget(call_key, "agent")
        if agent_id:
            pipe.hget(keys.agent(agent_id), "call")
        found = pipe.execute()
        owners = {found[0]} if found[0] else set()
        if agent_id and len(found) > 1 and found[1] == uuid:
            owners.add(agent_id)
        return owners

    def call(self, uuid):
        """GET /api/v1/calls/{uuid}: the call as acd holds it, or None."""
        try:
            stored = self.service.store.call(uuid)
        except ValueError:
            return None
        if stored is None:
            return None
        now = self.service.clock()
        enqueued = _epoch(stored.get("enqueued_at"))
        answered = _epoch(stored.get("answered_at"))
        data = _json_object(stored.get("data"))
        return {"call": uuid, "queue": stored.get("queue", ""),
                "state": stored.get("state", "waiting"),
                "direction": stored.get("direction") or "inbound",
                "caller_number": stored.get("caller_number", ""),
                "caller_name": stored.get("caller_name", ""),
                "agent": stored.get("agent") or None, "priority": stored.get("priority", 0.0),
                "enqueued_at": iso_utc(enqueued), "enqueued_at_epoch": enqueued,
                "answered_at": iso_utc(answered), "answered_at_epoch": answered,
                "wait": _seconds((answered or now) - enqueued) if enqueued else 0.0,
                "ivr_path": data.get("ivr_path", ""),
                "digits": {k: v for k, v in data.items() if k != "ivr_path"}, "data": data,
                "crm": _json_object(stored.get("crm")) or None}


def _state_since(state, stored, now):
    """Since when the agent has been in its state (None when the store does not know)."""
    if state in ("reserved", "ringing"):
        return _epoch(stored.get("offered_at"))
    if state == "in-call":
        return _epoch(stored.get("answered_at"))
    if state == "wrap-up":
        return _epoch(stored.get("last_call_end"))
    moments = [m for m in (_epoch(stored.get("ready_at")), _epoch(stored.get("idle_since")))
               if m is not None and m <= now]
    return max(moments) if moments else None


def _number(text):
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _json_object(text):
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


__all__ = ["Views", "MAX_CALLS"]
