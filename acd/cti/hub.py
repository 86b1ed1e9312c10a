"""The live event stream's reader: one Redis reader per daemon, fanned out to every client.

Theory of operation
-------------------
Hundreds of desktops are connected to a daemon; none of them holds a Redis connection. One
reader greenlet per daemon waits on the stream with ``XREAD BLOCK`` (through acd.offload: a
daemon without gevent's monkey-patching blocks only a thread of its own) and hands each entry
to the subscriptions that may see it, through in-memory queues:

* supervisors and admins see every event;
* an agent sees the events that name it (its offers, calls and status) and the
  ``queue.stats`` of the queues it serves.

:meth:`EventHub.stream` is one client's stream as Server-Sent Events: it subscribes first, then
(with ``Last-Event-ID``) replays what the client missed from the stream with ``XRANGE``, then
passes on live events, skipping any it already sent, so nothing is lost or repeated across a
reconnect. The ``id:`` of each event is its stream entry id. When nothing is sent for
``cti.heartbeat`` seconds a comment line keeps proxies from closing the connection; at least
that often, busy or not, the client's credential is checked again (a logged-out session, a
revoked token or a removed agent ends its stream). A client that
falls ``CTI_CLIENT_BACKLOG`` events behind is disconnected; it reconnects and replays.

Other parts of the daemon subscribe too (:meth:`EventHub.listen`): the queue statistics follow
the stream to know which queues changed, whichever daemon made the change.
"""

import collections
import json
import logging
import time

import gevent
import gevent.queue
import redis

from acd import defaults
from acd.cti.auth import may_read_everything
from acd.cti.events import QUEUE_STATS, merge_agent
from acd.offload import Offload
from acd.store.connect import clone
from acd.store.cti import agent_fields, stream_id

log = logging.getLogger("acd.cti.hub")

#: Milliseconds one XREAD waits for new entries before it asks again.
BLOCK_MS = 2000
REPLAY_BATCH = 500
_OVERFLOW = object()


class Event:
    """One stream entry: ``frame`` is its SSE text, made once for every client."""

    __slots__ = ("id", "key", "kind", "agents", "queue", "data", "_fields", "_frame")

    def __init__(self, entry_id, fields):
        self.id, self.key = entry_id, stream_id(entry_id)
        self.kind, self.data = fields.get("type", ""), fields.get("data", "{}")
        self.agents = tuple(a for a in fields.get("agents", "").split(",") if a)
        self.queue = fields.get("queue", "")
        self._fields, self._frame = fields, None

    @property
    def frame(self):
        """The SSE text, made when a client first needs it (once for all of them)."""
        if self._frame is None:
            stored = agent_fields(self._fields)
            if stored:   # an agent.status: complete it with the agent as it was stored
                data = merge_agent(json.loads(self.data), stored, stream_id(self.id)[0] / 1000)
                self.data = json.dumps(data)
            self._frame = f"id: {self.id}\nevent: {self.kind}\ndata: {self.data}\n\n".encode()
        return self._frame


class Subscription:
    """One client's (or, with ``handler``, one part of the daemon's) share of the events."""

    def __init__(self, principal, queues, backlog, handler=None):
        self.principal = principal
        self.everything = principal is None or may_read_everything(principal)
        self.agent = None if principal is None else principal.agent
        self.queues = frozenset(queues)
        self.inbox = gevent.queue.Queue(maxsize=backlog)
        self.handler = handler
        self.cut = False

    def sees(self, event):
        if self.everything:
            return True
        if event.kind == QUEUE_STATS:
            return event.queue in self.queues
        return self.agent is not None and self.agent in event.agents

    def put(self, event):
        if self.handler is not None:
            self.handler(event)
            return
        if self.cut:
            return
        try:
            self.inbox.put_nowait(event)
        except gevent.queue.Full:   # drop the backlog and end the stream: the client replays
            self.cut = True
            while not self.inbox.empty():
                self.inbox.get_nowait()
            self.inbox.put_nowait(_OVERFLOW)


class EventHub:
    """``store``: an acd.store.cti.CtiStore; ``queues_of(agent_id)`` -> queue names."""

    def __init__(self, store, queues_of, heartbeat=defaults.CTI_HEARTBEAT,
                 backlog=defaults.CTI_CLIENT_BACKLOG):
        self.store, self.queues_of = store, queues_of
        self.heartbeat, self.backlog = heartbeat, backlog
        self.subscriptions = set()
        self.by_agent = collections.defaultdict(set)
        self.staff = set()
        self.cursor = None
        self.reader = None
        self._pool = None
        self._client = None

    # -- subscriptions ----------------------------------------------------------------------

    def subscribe(self, principal, handler=None):
        """A Subscription for ``principal`` (None: every event, for the daemon's own use)."""
        self.start()
        agent = None if principal is None else principal.agent
        sub = Subscription(principal, self.queues_of(agent) if agent else (), self.backlog,
                           handler)
        self.subscriptions.add(sub)
        (self.staff if sub.everything else self.by_agent[sub.agent]).add(sub)
        return sub

    def unsubscribe(self, sub):
        self.subscriptions.discard(sub)
        self.staff.discard(sub)
        if sub.agent in self.by_agent:
            self.by_agent[sub.agent].discard(sub)
            if not self.by_agent[sub.agent]:
                del self.by_agent[sub.agent]

    def listen(self, handler):
        """Call ``handler(event)`` for every event (in the reader's greenlet: keep it quick)."""
        return self.subscribe(None, handler)

    def _fan_out(self, event):
        for sub in list(self.staff):
            sub.put(event)
        if event.kind == QUEUE_STATS:
            for subs in list(self.by_agent.values()):
                for sub in list(subs):
                    if sub.sees(event):
                        sub.put(event)
            return
        for agent in event.agents:
            for sub in list(self.by_agent.get(agent, ())):
                sub.put(event)

    # -- the reader -----------------------------------------------------------------------------

    def start(self):
        if self.reader is None:
            self.cursor = self.store.last_event_id()
            self._pool = Offload(1)
            self._client = clone(self.store.redis)
            self.reader = gevent.spawn(self._read)
        return self

    def stop(self):
        if self.reader is not None:
            self.reader.kill(block=False)
            self.reader = None
        if self._pool is not None:
            self._pool.kill()
            self._pool = None

    def _read(self):
        # the pool is held here: stop() may run while this greenlet is already scheduled to
        # resume from a read, before its kill is delivered; it then ends at the check below
        me, pool = gevent.getcurrent(), self._pool
        while self.reader is me:
            try:
                entries = pool.apply(self._xread, self.cursor)
            except redis.RedisError as exc:
                log.warning("event stream: cannot read from redis: %s (retrying)", exc)
                gevent.sleep(1.0)
                continue
            if self.reader is not me:
                return
            for entry_id, fields in entries:
                self.cursor = entry_id
                try:
                    self._fan_out(Event(entry_id, fields))
                except Exception:   # one bad entry never stops the stream
                    log.exception("event stream: cannot pass on entry %s", entry_id)

    def _xread(self, cursor):
        found = self._client.xread({self.store.keys.events: cursor}, count=1000, block=BLOCK_MS)
        return found[0][1] if found else []

    # -- one client's stream --------------------------------------------------------------------

    def replay(self, last_id):
        """Every event after ``last_id`` still in the stream, oldest first."""
        while True:
            entries = self.store.events_after(last_id, REPLAY_BATCH)
            for entry_id, fields in entries:
                last_id = entry_id
                yield Event(entry_id, fields)
            if len(entries) < REPLAY_BATCH:
                return

    def stream(self, principal, last_id=None, still_valid=lambda: True):
        """The Server-Sent Events of one client (bytes), from after ``last_id`` if given.
        A long replay is read before subscribing (live events would pile up meanwhile), then
        what came in during it is read again once subscribed; ids already sent are skipped."""
        sent, sub = None, None
        try:
            if last_id is None:     # live only: subscribed before the client hears "connected"
                sub = self.subscribe(principal)
            yield b"retry: 2000\n: connected\n\n"
            if last_id is not None:
                sent = yield from self._replay(principal, last_id)
                sub = self.subscribe(principal)
                for event in self.replay(f"{sent[0]}-{sent[1]}"):   # what came meanwhile
                    if sub.sees(event):
                        yield event.frame
                    sent = event.key
            yield from self._live(sub, sent, still_valid)
        finally:
            if sub is not None:
                self.unsubscribe(sub)

    def _replay(self, principal, last_id):
        """Yield the frames after ``last_id`` the principal may see; return the last id."""
        if self.store.lost_since(last_id):
            yield _reset_frame(last_id)
        sent, probe = stream_id(last_id), self._probe(principal)
        for event in self.replay(last_id):
            if probe.sees(event):
                yield event.frame
            sent = event.key
        return sent

    def _probe(self, principal):
        """A subscription that only filters (not fanned out to)."""
        agent = principal.agent if principal is not None else None
        return Subscription(principal, self.queues_of(agent) if agent else (), 1)

    def _live(self, sub, sent, still_valid):
        checked = time.monotonic()
        while True:
            try:
                event = sub.inbox.get(timeout=self.heartbeat)
            except gevent.queue.Empty:
                event = None
            if event is None or time.monotonic() - checked >= self.heartbeat:
                checked = time.monotonic()   # (a busy stream is checked as often as an idle one)
                if not still_valid():
                    yield b": credential ended\n\n"
                    return
            if event is None:
                yield b": heartbeat\n\n"
                continue
            if event is _OVERFLOW:
                log.warning("event stream: a client of %s fell %d events behind: disconnected",
                            sub.agent or "staff", self.backlog)
                return
            if sent is not None and event.key <= sent:
                continue   # replayed already
            sent = event.key
            yield event.frame


def _reset_frame(last_id):
    data = json.dumps({"last_event_id": last_id, "reason": "events after it were trimmed from "
                       "the stream (cti.event-retention); reload the state from the API"})
    return f"event: stream.reset\ndata: {data}\n\n".encode()

