"""Queue statistics for wallboards: today's counts, and ``queue.stats`` events on change.

Theory of operation
-------------------
:class:`DayStats` is a router observer: it follows each caller's stay in a queue
(acd.records.QueueCalls) and counts, per queue and per day of ``cti.timezone``, the calls
offered, answered, abandoned, timed out, exited and overflowed, and those that met the queue's
service level (as the metrics count them: answered within ``service-level-threshold``). Every
daemon adds its own calls to the same Redis hashes, so the counts are the whole center's.

:class:`QueueStats` publishes ``queue.stats``. It follows the event stream (every daemon's
events, through the hub) and marks the queues an event touches -- its queue, the queues of the
agents it names -- as changed. Once a second it recomputes the changed queues and publishes
those whose numbers differ from what it published last: at most one event per queue per second,
none while nothing changes. Only one daemon publishes: the holder of the
``Keys.stats_publisher`` lease, renewed each second (another takes over when it dies).
"""

import datetime
import json
import logging
import zoneinfo

import gevent

from acd.cti.events import QUEUE_STATS
from acd.records import QueueCalls, service_level_met, wrap_up_lookup

log = logging.getLogger("acd.cti.stats")

#: Seconds the publisher lease lasts (renewed every INTERVAL).
LEASE = 5.0
INTERVAL = 1.0
#: Every queue is recomputed this often anyway (midnight, waits that only grow).
FULL_EVERY = 60.0
#: Fields of a queue's day counts.
COUNTS = ("offered", "answered", "abandoned", "timed_out", "exited", "overflowed",
          "sl_met", "sl_counted")


def day_of(epoch, timezone):
    """The ISO date (2027-01-15) of ``epoch`` in ``timezone``."""
    zone = zoneinfo.ZoneInfo(timezone)
    return datetime.datetime.fromtimestamp(epoch, zone).date().isoformat()


class DayStats:
    """Router observer counting each queue call into today's counts (via ``publisher.later``:
    written with the next batch of events)."""

    def __init__(self, config, store, publisher, clock):
        self.config, self.store, self.publisher, self.clock = config, store, publisher, clock
        self.calls = QueueCalls(wrap_up_lookup(config), clock, self._answered, self._ended)

    def __call__(self, what, call, agent, details):
        self.calls(what, call, agent, details)

    def _answered(self, qc):
        self._count(qc, "answered")

    def _ended(self, qc):
        if qc.result != "answered":
            self._count(qc, qc.result)

    def _count(self, qc, result):
        counts = {"offered": 1}
        if result in COUNTS:
            counts[result] = 1
        if self.config.has_queue(qc.queue):
            queue = self.config.queue(qc.queue)
            met = service_level_met(result, qc.wait, queue.service_level_threshold,
                                    queue.service_level_count_short_abandons)
            if met is not None:
                counts.update(sl_counted=1, sl_met=int(met))
        day = day_of(self.clock(), self.config.cti.timezone)
        self.publisher.later(lambda pipe: self.store.count_day(pipe, day, qc.queue, counts))


class QueueStats:
    """Publishes ``queue.stats`` (see the module's docstring). ``views``: acd.cti.views.Views;
    ``lease(seconds)`` -> True while this daemon holds the publisher lease."""

    def __init__(self, views, publisher, lease, clock):
        self.views, self.publisher, self.lease, self.clock = views, publisher, lease, clock
        self.dirty = set()
        self.published = {}
        self.leader = False
        self.next_full = 0.0
        self.greenlet = None

    def on_event(self, event):
        """The hub's handler: mark what the event touched."""
        if event.kind == QUEUE_STATS:
            return
        if event.queue:
            self.dirty.add(event.queue)
        for agent in event.agents:
            self.dirty.update(self.views.queues_of(agent))

    def start(self, hub):
        hub.listen(self.on_event)
        self.greenlet = gevent.spawn(self._run)
        return self

    def stop(self):
        if self.greenlet is not None:
            self.greenlet.kill(block=False)

    def _run(self):
        while True:
            gevent.sleep(INTERVAL)
            try:
                self.tick()
            except Exception:   # redis away: try again next second
                log.exception("queue.stats: tick failed")

    def tick(self):
        leader = self.lease(LEASE)
        now = self.clock()
        if leader and (not self.leader or now >= self.next_full):
            self.dirty.update(self.views.queue_names())
            self.next_full = now + FULL_EVERY
            if not self.leader:
                self.published = {}
        self.leader = leader
        if not leader or not self.dirty:
            return 0
        names, self.dirty = sorted(self.dirty), set()
        sent = 0
        for stats in self.views.queue_stats(names):
            shown = json.dumps({k: v for k, v in stats.items()
                                if k not in ("longest_wait", "time")}, sort_keys=True)
            if self.published.get(stats["queue"]) != shown:
                self.published[stats["queue"]] = shown
                self.publisher.emit(QUEUE_STATS, stats, (), stats["queue"])
                sent += 1
        if sent:
            self.publisher.flush()
        return sent
