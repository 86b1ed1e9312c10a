"""Wrap-up codes (dispositions): what the agent says a call was, after it (docs/crm.md).

Theory of operation
-------------------
A queue lists its codes (``wrap-up-codes``); with ``wrap-up-code-required`` the agent is asked
for one after each answered call. :class:`WrapUps` is a router observer:

* at ``bridge`` it notes in Redis who answered the call in which queue (``Keys.wrap_up_target``,
  kept a day): the agent -- or a supervisor, an admin -- may give the code from then on, on any
  daemon;
* at ``call-ended``, for a queue whose code is required and wins (``wrap-up-code-wins: true``),
  it holds the agent in wrap-up (``wrap_up_hold.lua``: its ready_at moved out by at most
  ``WRAP_UP_CODE_HOLD`` seconds) until the code is given; the code then lets it go at its
  wrap-up-time's end, or at once if that has passed. With ``wrap-up-code-wins: false`` (the
  default) wrap-up-time ends the wrap-up with or without a code.
* the ``wrap-up`` decision (a code given, :func:`give`) becomes the ``call.wrap-up`` event (the
  CTI stream, the webhooks) and ``acd_wrap_up_codes_total{queue,code}`` (acd.metrics).

Each code given is appended to the ``wrap-ups`` stream; ``acd report`` counts them by queue
and code (:func:`count_codes`).
"""

import logging
import re

from acd.config_reader import shown
from acd.service import iso_utc

log = logging.getLogger("acd.wrapup")

#: Seconds an agent is held in wrap-up at most, waiting for a required code.
WRAP_UP_CODE_HOLD = 3600.0
#: Seconds after the answer a call's wrap-up code may be given.
WRAP_UP_WINDOW = 86400
MAX_NOTE = 1000
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z")
CALL_WRAP_UP = "call.wrap-up"


def read_codes(r):
    """The queue's wrap-up keys (acd.config_queues hands its Reader)."""
    codes = r.raw("wrap-up-codes", [])
    if not isinstance(codes, list) or not all(isinstance(c, str) and _CODE.match(c)
                                              for c in codes):
        r.fail("wrap-up-codes", f"expected a list of codes (letters, digits, _ . -), got "
                                f"{shown(codes)}")
        codes = []
    required = r.boolean("wrap-up-code-required", False)
    if required and not codes:
        r.fail("wrap-up-code-required", "needs wrap-up-codes to choose from")
    return dict(wrap_up_codes=tuple(codes), wrap_up_code_required=required,
                wrap_up_code_wins=r.boolean("wrap-up-code-wins", False))


class WrapUpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def give(config, store, principal, uuid, body, now):
    """A code (and note) for call ``uuid``: ``(answer, decision details)``. WrapUpError 403:
    not the agent's call (or no such call, for an agent), 404, 422: a bad code or note."""
    target = store.wrap_up_target(uuid)
    staff = principal.role in ("supervisor", "admin")
    if not staff and (target is None or target.get("agent") != principal.agent):
        raise WrapUpError(403, "forbidden: an agent gives the wrap-up code of its own calls")
    if target is None:
        raise WrapUpError(404, f"no answered call {uuid!r} to wrap up")
    queue = config.queue(target["queue"]) if config.has_queue(target["queue"]) else None
    codes = queue.wrap_up_codes if queue is not None else ()
    code, note = body.get("code"), body.get("note", "")
    if (not isinstance(code, str) or code not in codes or not isinstance(note, str)
            or len(note) > MAX_NOTE or set(body) - {"code", "note"}):
        raise WrapUpError(422, f'expected {{"code": one of {", ".join(codes) or "(none)"}, '
                               f'"note": text up to {MAX_NOTE} characters}}')
    agent = target["agent"]
    by = principal.agent or principal.role
    store.add_wrap_up({"call": uuid, "queue": target["queue"], "agent": agent, "code": code,
                       "note": note, "at": now, "by": by}, config.records.max_length)
    store.keep_wrap_up_code(uuid, code, note)
    if queue.wrap_up_code_required and queue.wrap_up_code_wins:
        store.hold_wrap_up("release", agent, now, 0)
    log.info("wrap-up code %s for call %s (queue %s, agent %s) by %s", code, uuid,
             target["queue"], agent, by)
    answer = {"call": uuid, "queue": target["queue"], "agent": agent, "code": code,
              "note": note, "at": iso_utc(now), "at_epoch": now}
    return answer, {"call": uuid, "queue": target["queue"], "code": code, "note": note,
                    "by": by}


class WrapUps:
    """The observer. ``events``: the CTI EventPublisher; ``store``: an acd.store.crm.CrmStore."""

    def __init__(self, config, store, events, clock):
        self.config, self.store, self.events, self.clock = config, store, events, clock

    def __call__(self, what, call, agent, details):
        if what == "bridge" and call is not None and agent not in (None, "-"):
            self.store.note_wrap_up_target(call.uuid, agent, call.queue, WRAP_UP_WINDOW)
        elif what == "call-ended" and call is not None and agent not in (None, "-"):
            queue = self._queue(call.queue)
            if queue.wrap_up_code_required and queue.wrap_up_code_wins:
                self.store.hold_wrap_up("hold", agent, self.clock(), WRAP_UP_CODE_HOLD)
        elif what == "wrap-up":
            now = self.clock()
            data = dict(details, agent=agent, time=iso_utc(now))
            self.events.emit(CALL_WRAP_UP, data, [agent], details.get("queue", ""))
            self.events.flush()

    def _queue(self, name):
        config = self.config
        return config.queue(name) if config.has_queue(name) else _NO_QUEUE


class _NoQueue:
    wrap_up_codes, wrap_up_code_required, wrap_up_code_wins = (), False, False


_NO_QUEUE = _NoQueue()


def count_codes(client, key, start, end, queue=None):
    """``[{"queue", "code", "calls"}]`` of the codes given in ``[start, end)``."""
    counts = {}
    low, high = int(max(start - 120, 0) * 1000), int((end + 120) * 1000)
    for _, fields in client.xrange(key, min=str(low), max=str(high)):
        at = float(fields.get("at") or 0)
        if start <= at < end and queue in (None, fields.get("queue")):
            name = (fields.get("queue", ""), fields.get("code", ""))
            counts[name] = counts.get(name, 0) + 1
    return [{"queue": q, "code": c, "calls": n} for (q, c), n in sorted(counts.items())]

