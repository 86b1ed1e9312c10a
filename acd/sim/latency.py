"""A slow switch: the seconds each command takes, and events delivered late.

Theory of operation
-------------------
On a loaded FreeSWITCH, mod_event_socket runs an inline ``api`` command (and ``sendmsg``) in
the listener thread that also delivers that connection's events: while the command runs, the
connection gets no event and no later command of it is read. Only ``bgapi`` gets a thread of
its own. Events themselves reach a listener late when the core's event dispatch is behind.

The simulator models both, per switch, with a ``Latency`` shared by all its connections:

* ``commands``: command name (any api command, or ``sendmsg``) -> seconds it takes. The
  connection (server.py) sleeps that long *before* running the command: in its reader greenlet
  with its events held for ``api`` and ``sendmsg`` (so the effects, then the reply, then the
  held events come after the latency), in the command's own greenlet for ``bgapi`` (the
  ``+OK Job-UUID`` reply is at once, the connection stays live). For ``originate`` the
  latency comes before the originate starts, on top of the ringing.
* ``event_delay``: seconds added to every event's delivery to every connection. Each
  connection sends its events through a ``DelayLine``, a FIFO that releases an event when it
  is due (the order per connection is kept, even when the delay changes); the event's
  Event-Date-Timestamp stays the time it was fired.

Both come from the config (``command-latency``, ``event-delay``) and can be changed while the
simulator runs with the simulator-only API ``sim_latency`` (``set <json>``, ``show``,
``clear``), so a test or the bench can make a running switch slow.

Cost: with no latency configured a command costs one dictionary lookup and an event one
attribute test; no timer and no greenlet exist.
"""

import collections
import json
import time
import weakref

import gevent

from acd.sim.config import ConfigError, validate_latency
from acd.sim.users import json_object

_LATENCIES = weakref.WeakKeyDictionary()    # switch -> its Latency


class Latency:
    """How slow one switch is; changed in place, so every connection sees a change at once."""

    __slots__ = ("commands", "event_delay")

    def __init__(self, commands=None, event_delay=0.0):
        self.commands = dict(commands or {})
        self.event_delay = event_delay

    def of(self, command):
        """Seconds the command ``command`` takes (0.0 when none is set)."""
        return self.commands.get(command, 0.0) if self.commands else 0.0

    def as_dict(self):
        return {"command-latency": dict(self.commands), "event-delay": self.event_delay}


def of(sw):
    """The switch's Latency, made from its config the first time it is asked for."""
    latency = _LATENCIES.get(sw)
    if latency is None:
        latency = _LATENCIES[sw] = Latency(sw.config.command_latency, sw.config.event_delay)
    return latency


class DelayLine:
    """One connection's events on their way: each is handed to ``deliver`` ``delay`` seconds
    after it was put, in the order they were put. A greenlet runs only while events wait."""

    def __init__(self, deliver, clock=time.monotonic):
        self.deliver = deliver
        self.clock = clock
        self.pending = collections.deque()
        self.runner = None

    def __len__(self):
        return len(self.pending)

    def put(self, event, delay):
        self.pending.append((self.clock() + delay, event))
        if self.runner is None:
            self.runner = gevent.spawn(self._run)

    def _run(self):
        pending = self.pending
        while pending:
            wait = pending[0][0] - self.clock()
            if wait > 0:
                gevent.sleep(wait)
                continue
            self.deliver(pending.popleft()[1])
        self.runner = None

    def clear(self):
        self.pending.clear()

    def stop(self):
        self.pending.clear()
        if self.runner is not None:
            self.runner.kill(block=False)
            self.runner = None


# --- the simulator-only API ------------------------------------------------------------------

USAGE = "-USAGE: sim_latency set <json-object> | show | clear\n"


def api_sim_latency(sw, arg):
    """``sim_latency set <json>`` | ``sim_latency show`` | ``sim_latency clear``."""
    action, _, payload = arg.strip().partition(" ")
    latency = of(sw)
    if action == "show":
        return json.dumps(latency.as_dict(), sort_keys=True) + "\n"
    if action == "clear":
        latency.commands, latency.event_delay = {}, 0.0
        return "+OK latency cleared\n"
    if action != "set":
        return USAGE
    try:
        commands, delay = validate_latency(json_object(payload))
    except (ValueError, ConfigError) as exc:
        return "-ERR %s\n" % str(exc).replace("\n", " ")
    if commands is not None:
        latency.commands = commands
    if delay is not None:
        latency.event_delay = delay
    return "+OK latency set\n"
