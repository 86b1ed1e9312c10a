"""The event bus: who wants which events, and handing fired events to them.

Theory of operation: listeners (ESL connections) register here. Before building an event the
switch asks ``wants(name, subclass)``; when nobody listens the event is never built, which is
what keeps a 300 calls/s load cheap. ``publish`` offers the built event to every listener,
which applies its own subscription and filters and queues it (no copies: listeners share it).
A failing listener is logged and dropped, never allowed to break the switch.
"""

import logging

log = logging.getLogger("acd.sim.bus")


class EventBus:
    def __init__(self):
        self._listeners = []

    def add(self, listener):
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove(self, listener):
        if listener in self._listeners:
            self._listeners.remove(listener)

    def listeners(self):
        return list(self._listeners)

    def wants(self, name, subclass=None):
        for listener in self._listeners:
            if listener.wants(name, subclass):
                return True
        return False

    def publish(self, event):
        for listener in list(self._listeners):
            try:
                listener.offer(event)
            except Exception:  # noqa: BLE001 - a broken listener must not break the switch
                log.exception("listener %r failed; dropping it", listener)
                self.remove(listener)
