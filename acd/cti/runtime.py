"""The CTI parts of a running daemon, wired in one place (acd.daemon asks for them).

* :attr:`Cti.observers` -- the router observers: the event publisher and today's counts;
* :meth:`Cti.start` -- with the HTTP API: the event hub (one stream reader) and the
  ``queue.stats`` publisher; returns the :class:`acd.http.server.Desk` the API serves;
* :meth:`Cti.agent_status` -- a status set over the API, as a routing decision
  (``agent-status``), so the stream, the decision log and any other observer see it like
  every other change.
"""

from acd.cti.events import EventPublisher
from acd.cti.hub import EventHub
from acd.cti.stats import DayStats, QueueStats
from acd.cti.views import Views
from acd.store.cti import CtiStore


class Cti:
    """``config()`` -> the current Config; ``store``: the daemon's acd.store.Store."""

    def __init__(self, config, store, clock, owner):
        self.config, self.clock, self.owner = config, clock, owner
        self.main_store = store
        self.store = CtiStore.of(store)
        self.events = EventPublisher(config, self.store, clock, store.keys.agent)
        self.day_stats = DayStats(config(), self.store, self.events, clock)
        self.hub = self.queue_stats = None

    @property
    def observers(self):
        return [self.events, self.day_stats]

    def start(self, service, admin_token, control=None):
        from acd.http.server import Desk   # the core never imports the HTTP layer; this does

        views = Views(service, self.store)
        self.hub = EventHub(self.store, views.queues_of, heartbeat=self.config().cti.heartbeat)
        self.queue_stats = QueueStats(views, self.events, self._lease, self.clock).start(self.hub)
        return Desk(service, admin_token, hub=self.hub, store=self.store, control=control)

    def _lease(self, seconds):
        return self.main_store.hold_lease(self.store.keys.stats_publisher, self.owner, seconds)

    def agent_status(self, router, agent_id, details):
        """A status set over the API: a decision like any other (log line, observers)."""
        router._decide("agent-status", None, agent_id, **details)

    def stop(self):
        for part in (self.queue_stats, self.hub):
            if part is not None:
                part.stop()
        self.events.flush()
