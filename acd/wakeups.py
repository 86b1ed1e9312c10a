"""Wake-ups between daemons for one queue order across FreeSWITCH hosts.

When a daemon cannot reserve a free agent because another daemon's caller is first in the queue
(``reserve.lua``), or an agent became free in a queue whose first caller is another daemon's
(``wake.lua``), Redis publishes the queue's name on ``<prefix>:wake:<owner>`` of the daemon owning
that caller. This listener hands each name to the daemon's inbox, which dispatches the queue at
once instead of at its next tick. Pub/sub may lose a message (a reconnect): the tick (0.25 s)
is the safety net, so a lost wake-up costs latency, never a caller.

The subscription is read on a connection of its own through acd.offload, as the CTI event reader
does: a daemon not monkey-patched by gevent blocks only a thread of its own.
"""

import logging

import gevent
import redis

from acd.offload import Offload
from acd.store.connect import clone

log = logging.getLogger("acd.wakeups")

#: Seconds one read waits for a message (the stop is noticed within this).
POLL = 1.0


class Wakeups:
    def __init__(self, store, owner, on_wake):
        self.store, self.channel, self.on_wake = store, store.keys.wake + owner, on_wake
        self.received = 0
        self._pool = self._reader = self._pubsub = None

    def start(self):
        if self._reader is None:
            self._pool = Offload(1)
            self._reader = gevent.spawn(self._read)
        return self

    def stop(self):
        if self._reader is not None:
            self._reader.kill(block=False)
            self._reader = None
        if self._pool is not None:
            self._pool.kill()
            self._pool = None
        # not closed here: the reader (a thread, unpatched) may still be in a read on it;
        # dropped, it closes when that read returns
        self._pubsub = None

    def _subscribe(self):
        """On a connection of its own, made where it is read (acd.offload)."""
        pubsub = clone(self.store.redis).pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.channel)
        return pubsub

    def _close(self):
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
            self._pubsub = None

    def _read(self):
        # the pool is held here: stop() may run while this greenlet is already scheduled to
        # resume from a read, before its kill is delivered; it then ends at the loop's check
        me, pool = gevent.getcurrent(), self._pool
        while self._reader is me:
            try:
                if self._pubsub is None:
                    pubsub = pool.apply(self._subscribe)
                    if self._reader is not me:   # stopped meanwhile: dropped, never kept
                        return
                    self._pubsub = pubsub
                message = pool.apply(self._pubsub.get_message, timeout=POLL)
            except (redis.RedisError, OSError) as exc:
                log.warning("wake-ups: cannot read %s: %s (retrying)", self.channel, exc)
                self._close()
                gevent.sleep(1.0)
                continue
            if self._reader is not me:
                return
            if message and message.get("type") == "message":
                self.received += 1
                self.on_wake(message["data"])
