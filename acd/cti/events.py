"""The live event stream's writer: routing decisions become CTI events in one Redis stream.

Theory of operation
-------------------
:class:`EventPublisher` is a router observer, like the metrics: the router calls it with every
decision (``observer(what, call, agent, details)``) and :data:`DECISIONS` says which event each
becomes -- ``enqueue`` is ``call.queued``, ``offer`` is ``call.offered`` plus ``agent.status``,
and so on (docs/cti.md lists them). Each event names the agents it concerns and its queue, so
the hub (acd.cti.hub) can show an agent only its own.

Events are appended to the stream in batches: one pipelined round trip for everything decided
in one turn of the daemon's loop, written by a greenlet spawned for the batch -- except
``call.offered``, whose batch is written before the observer returns: the router sends the
originate after its observers, so the desktop has the caller's card before the phone rings
(the screen pop). A batch keeps the order its events were decided in. ``agent.status`` events
carry what the decision determined (the state after an offer, a bridge, a release) and, for the
rest, the agent's status, reason and ready_at as Redis holds them when the batch is written
(read by ``publish.lua`` in the same step, merged in by the hub: :func:`merge_agent`).

A failed write is logged and the batch dropped; routing never waits for or fails on events.
Call control adds its events with one line: an entry in :data:`DECISIONS` for its decision
(e.g. ``"hold": "call.held"``), or :meth:`EventPublisher.call_event` directly.
"""

import json
import logging

import gevent
import gevent.lock
import redis

from acd.core.skills import parse_skills
from acd.service import iso_utc

log = logging.getLogger("acd.cti.events")

#: Every event type of the stream (docs/cti.md).
CALL_QUEUED, CALL_OFFERED, CALL_ANSWERED = "call.queued", "call.offered", "call.answered"
CALL_HELD, CALL_UNHELD, CALL_TRANSFERRED = "call.held", "call.unheld", "call.transferred"
CALL_ENDED, CALL_ABANDONED = "call.ended", "call.abandoned"
AGENT_STATUS, QUEUE_STATS = "agent.status", "queue.stats"
CALL_UPDATED, CALL_WRAP_UP = "call.updated", "call.wrap-up"    # the CRM card; acd.crm, acd.wrapup
#: Recording with consent (acd.recording, docs/recording.md).
RECORDING_EVENTS = ("recording.started", "recording.paused", "recording.resumed",
                    "recording.stopped", "recording.deleted")
#: Run-time administration and reloads (acd.reconfigure): an agent, a queue or a tier changed.
AGENT_UPDATED, QUEUE_UPDATED = "agent.updated", "queue.updated"
EVENT_TYPES = (CALL_QUEUED, CALL_OFFERED, CALL_ANSWERED, CALL_HELD, CALL_UNHELD,
               CALL_TRANSFERRED, CALL_ENDED, CALL_ABANDONED, AGENT_STATUS, QUEUE_STATS,
               CALL_UPDATED, CALL_WRAP_UP, AGENT_UPDATED, QUEUE_UPDATED) + RECORDING_EVENTS

#: Router decision -> the call event it makes (None: only the agent's status changes).
#: Call control: add e.g. "hold": CALL_HELD, "unhold": CALL_UNHELD, "transfer": CALL_TRANSFERRED.
DECISIONS = {
    "enqueue": CALL_QUEUED, "overflow": CALL_QUEUED, "offer": CALL_OFFERED,
    "bridge": CALL_ANSWERED, "call-ended": CALL_ENDED, "done": None,
    "offer-failed": None, "answered-too-late": None, "lease-expired": None,
    "released-after-restart": None, "gone-while-away": None, "agent-ready": None,
    "offer-withdrawn": None, "agent-status": None, "held": CALL_HELD, "unheld": CALL_UNHELD,
    "transfer": CALL_TRANSFERRED, "dial": None, "dial-answered": None, "dial-connected": None,
    "dial-ended": None,
    **{"recording-" + kind.split(".")[1]: kind for kind in RECORDING_EVENTS},
}
#: Decisions after which the agent's status or state has changed.
AGENT_CHANGES = {"offer", "bridge", "call-ended", "offer-failed", "answered-too-late",
                 "lease-expired", "released-after-restart", "gone-while-away", "agent-ready",
                 "offer-withdrawn", "agent-status", "dial", "dial-answered", "dial-connected",
                 "dial-ended"}


class Event:
    __slots__ = ("kind", "data", "agents", "queue", "agent_of")

    def __init__(self, kind, data, agents=(), queue="", agent_of=None):
        self.kind, self.data, self.agents, self.queue = kind, data, tuple(agents), queue or ""
        self.agent_of = agent_of     # agent whose stored status/state fill data when written


class EventPublisher:
    """``config()`` -> the current Config; ``store``: an acd.store.cti.CtiStore."""

    def __init__(self, config, store, clock, agent_key):
        self.config, self.store, self.clock = config, store, clock
        self.agent_key = agent_key          # agent id -> its Redis hash key
        self.batch = []
        self.extra = []                     # fn(pipe) to run with the next batch (day counts)
        self._lock = gevent.lock.Semaphore()
        self._flusher = None
        self.written = self.dropped = 0
        self.taps = []                      # fn(pipe, batch): more writes with each batch

    # -- the observer -------------------------------------------------------------------------

    def __call__(self, what, call, agent, details):
        if what not in DECISIONS:
            return
        kind, now = DECISIONS[what], self.clock()
        agent = None if agent in (None, "-", "") else agent
        if what == "done":
            self._done(call, agent, details, now)
        elif kind is not None and call is not None:
            self.call_event(kind, call, agent, now=now, **self._extra(what, call, details))
        if what in AGENT_CHANGES and agent is not None:
            self.agent_event(agent, what, details, call)
        if what == "offer":
            self.flush()     # before the originate goes out: the screen pop
        else:
            self._flush_soon()

    def _extra(self, what, call, details):
        if what == "offer":
            req = details.get("req", "-")
            return {"leg": details.get("leg", ""), "ring_timeout": details.get("ring_timeout"),
                    "skills": {} if req in ("-", "", None) else parse_skills(req)}
        if what == "bridge":
            return {"leg": details.get("leg", ""), "answered_at": iso_utc(call.answered_at),
                    "answered_at_epoch": call.answered_at}
        if what == "call-ended":
            return {"result": "answered", "talk_time": details.get("talk", 0.0),
                    "cause": details.get("cause", ""), "why": details.get("why", "")}
        if what == "overflow":
            return {"from_queue": details.get("from_queue", "")}
        if what == "transfer":
            kind, _, target = str(details.get("to", ":")).partition(":")
            return {"to": {kind: target}}
        if what.startswith("recording-"):
            return {"file": details.get("path", ""), "purpose": details.get("purpose", ""),
                    **{k: str(details[k]) for k in ("reason", "by", "how") if details.get(k)}}
        return {}

    def _done(self, call, agent, details, now):
        """A call left acd: abandoned, or over without an agent (answered ones ended already)."""
        result = details.get("result", "")
        if call is None or result == "answered":
            return
        offered = sorted(set(call.offers.values()))
        if result == "abandoned":
            self.call_event(CALL_ABANDONED, call, None, agents=offered, now=now)
        else:
            self.call_event(CALL_ENDED, call, None, agents=offered, now=now, result=result,
                            talk_time=0.0, cause="", why=result)

    # -- events ---------------------------------------------------------------------------------

    def call_event(self, kind, call, agent=None, agents=None, now=None, **extra):
        """Queue a call event built from a QueueCall; ``agents``: who sees it (default: the
        agent, or the only agent the call asked for)."""
        now = self.clock() if now is None else now
        data = {"call": call.uuid, "queue": call.queue, "agent": agent,
                "caller_number": call.caller_number, "caller_name": call.caller_name,
                "wait": round(max(now - call.enqueued_at, 0.0), 3),
                "enqueued_at": iso_utc(call.enqueued_at), "enqueued_at_epoch": call.enqueued_at,
                "priority": call.priority, **self._call_data(call), "time": iso_utc(now)}
        if "skills" not in extra:
            data["skills"] = self._requirements(call)
        if getattr(call, "crm", None) is not None:
            data["crm"] = call.crm              # the CRM card (acd.crm)
        data.update(extra)
        if agents is None:
            agents = [a for a in (agent, call.only_agent) if a]
        self.emit(kind, data, agents, call.queue)

    def agent_event(self, agent_id, change, details=None, call=None):
        """Queue an agent.status event. What the decision says for sure (the state after an
        offer, a bridge, a release) is taken from it; the rest (status, reason, ready_at) is
        read from Redis when the batch is written."""
        details = details or {}
        data = {"agent": agent_id, "change": change, "time": iso_utc(self.clock())}
        for name in ("outcome", "by"):
            if details.get(name) not in (None, ""):
                data[name] = details[name]
        data.update(_known(change, details, call))
        queue = call.queue if call is not None else ""
        complete = all(name in data for name in ("status", "state", "call", "reason", "ready_at"))
        self.batch.append(Event(AGENT_STATUS, data, [agent_id], queue,
                                agent_of=None if complete else agent_id))

    def emit(self, kind, data, agents=(), queue=""):
        """Queue any event (``data``: JSON-ready) for the next batch."""
        self.batch.append(Event(kind, data, agents, queue))

    @staticmethod
    def _call_data(call):
        data = dict(call.data or {})
        path = data.get("ivr_path", "")
        return {"ivr_path": path if isinstance(path, str) else json.dumps(path),
                "digits": {k: v for k, v in data.items() if k != "ivr_path"}, "data": data}

    def _requirements(self, call):
        config = self.config()
        needs = dict(config.queue(call.queue).requirements) if config.has_queue(call.queue) else {}
        for name, level in parse_skills(call.skills or "").items():
            needs[name] = max(level, needs.get(name, 0))
        return needs

    # -- writing --------------------------------------------------------------------------------

    def later(self, fn):
        """Run ``fn(pipe)`` with the next batch (e.g. today's counts)."""
        self.extra.append(fn)
        self._flush_soon()

    def _flush_soon(self):
        if (self.batch or self.extra) and self._flusher is None:
            self._flusher = gevent.spawn(self._flush_later)

    def _flush_later(self):
        try:
            while self.batch or self.extra:   # events queued while a write was on its way
                self.flush()
        finally:
            self._flusher = None

    def flush(self):
        """Write every queued event, in order, in one round trip (two with agent events)."""
        with self._lock:
            batch, extra = self.batch, self.extra
            self.batch, self.extra = [], []
            if not batch and not extra:
                return
            try:
                try:
                    self._write(batch, extra)
                except redis.exceptions.NoScriptError:   # Redis restarted: load, once more
                    self.store.load_scripts()               # (the counts went through)
                    self._write(batch, [], taps=False)   # the taps' writes went too
                self.written += len(batch)
            except redis.RedisError as exc:
                self.dropped += len(batch)
                log.warning("%d CTI event(s) lost: cannot write to redis: %s", len(batch), exc)

    def _write(self, batch, extra, taps=True):
        cti = self.config().cti
        pipe = self.store.redis.pipeline(transaction=False)
        for tap in self.taps if taps else ():   # e.g. the webhooks' stream (acd.webhooks)
            tap(pipe, batch)
        for event in batch:
            self.store.publish(pipe, event.kind, json.dumps(event.data), event.agents,
                               event.queue, cti.event_max_length, cti.event_retention,
                               event.agent_of)
        for fn in extra:
            fn(pipe)
        pipe.execute()


def merge_agent(data, stored, now):
    """An agent.status event's data completed with the agent's stored fields (those the
    decision did not determine): what the hub sends."""
    ready = float(stored["ready_at"]) if stored.get("ready_at") else None
    ready = ready if ready is not None and ready > now else None
    found = dict(status=stored.get("status") or None, state=stored.get("state") or None,
                 call=stored.get("call") or None, reason=stored.get("status_reason") or "",
                 ready_at=iso_utc(ready), ready_at_epoch=ready)
    data.update({k: v for k, v in found.items() if k not in data})
    return data

#: The agent's state after a decision, where the decision says it for sure.
_STATE_AFTER = {"offer": "ringing", "bridge": "in-call", "agent-ready": "waiting",
                "offer-failed": "waiting", "answered-too-late": "waiting",
                "lease-expired": "waiting"}
#: Decisions after which the agent has no call (released, or ready again).
_NO_CALL = {"call-ended", "offer-failed", "answered-too-late", "lease-expired",
            "released-after-restart", "gone-while-away", "agent-ready"}


def _known(change, details, call):
    """The agent.status fields a decision determines."""
    known = {}
    if change in _STATE_AFTER:
        known["state"] = _STATE_AFTER[change]
    if change == "call-ended" and details.get("agent_state"):
        known["state"] = details["agent_state"]
    if change in ("offer", "bridge") and call is not None:
        known["call"] = call.uuid
    elif change in _NO_CALL:
        known["call"] = None
    if change == "offer":   # only an available, idle agent is offered a call
        known.update(status="available", reason="", ready_at=None, ready_at_epoch=None)
    if change == "offer-failed" and details.get("agent_status"):
        known["status"] = details["agent_status"]
    if change == "agent-status":
        known.update(status=details.get("status"), reason=details.get("reason", ""))
    return known
