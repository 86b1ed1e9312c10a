"""The event subscriptions and filters of an ESL connection, kept so that a reconnect applies
them again (a mixin of :class:`acd.esl.client.EslClient`).

``subscribe``/``add_filter`` send the command and remember it; commands sent raw through
``send`` (greenswitch style: ``event plain ...``, ``filter ...``, ``nixevent``, ``noevents``) are
remembered from their text by ``_remember`` once FreeSWITCH accepted them. ``_resubscribe`` runs
after every (re)connect. A command connection (``events=False``) never subscribes.
"""

from acd.esl import commands


class Subscriptions:
    """Needs from its host class: ``send``, ``connected``, ``events_enabled``, ``_events``,
    ``_custom``, ``_filters`` and ``event_format``."""

    def subscribe(self, *names, custom=()):
        """Listen for events (``CUSTOM`` subclasses in ``custom``); BACKGROUND_JOB always."""
        if not self.events_enabled:
            raise RuntimeError("a command connection (events=False) does not subscribe to events")
        self._events.update(names)
        self._custom.update(custom)
        if self.connected:
            self.send(commands.event_command(self._events, self._custom, self.event_format))

    def add_filter(self, header, value):
        """Only receive events whose ``header`` equals ``value`` (FreeSWITCH filters: any match
        passes). BACKGROUND_JOB stays allowed so bgapi futures still resolve."""
        self.send(commands.filter_command(header, value))

    def remove_filter(self, header, value=None):
        self.send(commands.filter_command(header, "" if value is None else value, delete=True))

    def _remember(self, command, reply):
        """Keep what must be sent again after a reconnect (also for raw greenswitch-style sends)."""
        if not reply.ok:
            return
        word, _, rest = command.partition(" ")
        words = rest.split()
        if word == "event" and words:
            if words[0] in ("plain", "json", "xml"):
                self.event_format, words = words[0], words[1:]
            names, _, custom = " ".join(words).partition("CUSTOM")
            self._events.update(names.split())
            self._custom.update(custom.split())
        elif word == "nixevent":
            self._events.difference_update(set(words) - {"BACKGROUND_JOB"})
            self._custom.difference_update(words)
        elif word == "noevents":
            self._events, self._custom = {"BACKGROUND_JOB"}, set()
            self.send(commands.event_command(self._events, (), self.event_format))
        elif word == "filter" and words[:2] == ["delete", "all"]:
            self._filters.clear()
        elif word == "filter" and words[:1] == ["delete"] and len(words) > 1:
            value = rest.split(" ", 2)[2] if len(words) > 2 else ""
            self._filters = [f for f in self._filters if f != (words[1], value)]
        elif word == "filter" and len(words) >= 2:
            header, value = words[0], rest.split(" ", 1)[1]
            if not self._filters and (header, value) != ("Event-Name", "BACKGROUND_JOB"):
                self._filters.append(("Event-Name", "BACKGROUND_JOB"))
                self.send(commands.filter_command("Event-Name", "BACKGROUND_JOB"))
            if (header, value) not in self._filters:
                self._filters.append((header, value))

    def _resubscribe(self):
        if not self.events_enabled:
            return
        filters, self._filters = list(self._filters), []
        self.send(commands.event_command(self._events, self._custom, self.event_format))
        for header, value in filters:
            self.send(commands.filter_command(header, value))
