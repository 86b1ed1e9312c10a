"""Decision-latency tracing: when the switch saw what an ACD reacts to, and its reaction.

Theory of operation
-------------------
A load test measures an ACD's decision latency from outside, on the switch's side:

* a caller's ``CHANNEL_PARK`` (a channel with the variable ``acd_queue``) is emitted  -> ``park``
* an ``originate`` whose dial string carries ``acd_call=<caller uuid>`` arrives        -> ``originate``
* an agent's leg (``acd_role=agent``) fires ``CHANNEL_HANGUP``                         -> ``agent-hangup``
* a caller's leg (``acd_queue``) fires ``CHANNEL_HANGUP``                              -> ``caller-hangup``

and, right after an ``agent-hangup``, what became of that agent leg (from its CHANNEL_HANGUP's
Caller-Channel-Answered-Time and -Bridged-Time): ``agent-bridged`` when it had been bridged,
``agent-dropped`` when it had answered but was never bridged (an agent who picked up for
nothing: the loss a slow switch must not cause).

Each record is ``[kind, time.monotonic(), uuid, caller uuid, queue]`` (the caller uuid is the
channel's own for a caller, its ``acd_call`` for an agent leg or an originate; the queue is the
caller's ``acd_queue`` on a park, else empty). The load tool pairs them into
latencies (``acd.bench.latency``). The simulator-only API command ``sim_trace on|off|dump`` turns
tracing on (clearing what was recorded), off, or returns the records as JSON and clears them.

While tracing is off nothing of this runs: the tracer is not on the event bus and the server only
checks one dictionary per ``api``/``bgapi`` command. While it is on, the tracer is a bus listener
for CHANNEL_PARK and CHANNEL_HANGUP only (events the ACD subscribes to anyway, so no extra event
is built).
"""

import json
import re
import time
import weakref

_TRACERS = weakref.WeakKeyDictionary()    # switch -> its Tracer, while tracing is on
_ACD_CALL = re.compile(r"acd_call=([0-9A-Za-z-]+)")
#: At most this many records are kept between dumps (a forgotten trace cannot eat the memory).
MAX_RECORDS = 2_000_000


class Tracer:
    """A bus listener that records the facts above; ``records`` in arrival order."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.records = []

    # the event bus's listener interface
    def wants(self, name, subclass=None):
        return name == "CHANNEL_PARK" or name == "CHANNEL_HANGUP"

    def offer(self, event):
        """The bus offers every event fired while anyone wants it: keep PARK and HANGUP only."""
        name = event.name
        if name != "CHANNEL_PARK" and name != "CHANNEL_HANGUP":
            return
        queue = event.get("variable_acd_queue")
        if name == "CHANNEL_PARK":
            if queue and event.get("variable_acd_role") != "agent":
                uuid = event.get("Unique-ID")
                self._add("park", uuid, uuid, queue)
        elif event.get("variable_acd_role") == "agent":
            leg, caller = event.get("Unique-ID"), event.get("variable_acd_call")
            self._add("agent-hangup", leg, caller)
            if event.get("Caller-Channel-Bridged-Time", "0") != "0":
                self._add("agent-bridged", leg, caller)
            elif event.get("Caller-Channel-Answered-Time", "0") != "0":
                self._add("agent-dropped", leg, caller)
        elif queue:
            self._add("caller-hangup", event.get("Unique-ID"), event.get("Unique-ID"))

    def command(self, command, arg):
        """An api/bgapi command arrived: note an originate for a caller."""
        if command == "originate":
            found = _ACD_CALL.search(arg)
            if found:
                self._add("originate", "", found.group(1))

    def _add(self, kind, uuid, caller, queue=""):
        if len(self.records) < MAX_RECORDS:
            self.records.append([kind, self.clock(), uuid or "", caller or "", queue])

    def dump(self):
        records, self.records = self.records, []
        return json.dumps(records, separators=(",", ":"))


def active(sw):
    """The switch's tracer while tracing is on, else None."""
    return _TRACERS.get(sw)


def start(sw):
    stop(sw)
    tracer = _TRACERS[sw] = Tracer()
    sw.bus.add(tracer)
    return tracer


def stop(sw):
    tracer = _TRACERS.pop(sw, None)
    if tracer is not None:
        sw.bus.remove(tracer)
    return tracer


def api_sim_trace(sw, arg):
    """``sim_trace on|off|dump``."""
    action = arg.strip().lower()
    if action == "on":
        start(sw)
        return "+OK tracing\n"
    if action == "off":
        stop(sw)
        return "+OK not tracing\n"
    if action == "dump":
        tracer = active(sw)
        return (tracer.dump() if tracer is not None else "[]") + "\n"
    return "-USAGE: sim_trace on|off|dump\n"
