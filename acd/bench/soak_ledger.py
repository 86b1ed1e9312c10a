"""The soak's ledger: what the switches say became of every caller and every agent leg.

Theory of operation
-------------------
Each simulator has a *driver* connection (acd/bench/soak.py) subscribed to CHANNEL_CREATE,
CHANNEL_PARK, CHANNEL_BRIDGE and CHANNEL_HANGUP; its events land here, stamped with the time
they were seen. The ledger never asks acd anything: it is what FreeSWITCH would show.

* A **caller** is the parked ``-b`` leg of an ``originate loopback/...`` the soak sent (its
  ``variable_other_loopback_leg_uuid`` is the originate's result). It ends as ``answered``
  (bridged to an agent), ``abandoned`` (the soak hung it up when its patience ran out, before a
  bridge), ``gone`` (its simulator was killed while it waited) or -- the failure the soak looks
  for -- **lost**: still parked at the end, or hung up by someone else, never bridged.
* An **agent leg** is a channel with ``variable_acd_agent``; bridged from its CHANNEL_BRIDGE to
  its hangup. Two bridged legs of one agent at the same time are a **double offer**.
* **Faults** are noted with their time; :meth:`figures` gives, per fault, the longest wait of
  the callers answered who were waiting at the fault or arrived within ``FAULT_WINDOW`` s after
  it, minus the longest wait before any fault (the *extra* wait the fault added).
"""

import collections
import time

QUEUE = "soak"
#: Callers parked this long after a fault still count as hit by it.
FAULT_WINDOW = 10.0


class Caller:
    __slots__ = ("uuid", "sim", "a_leg", "parked", "bridged", "ended", "abandoned", "gone",
                 "agent")

    def __init__(self, uuid, sim, a_leg, parked):
        self.uuid, self.sim, self.a_leg, self.parked = uuid, sim, a_leg, parked
        self.bridged = self.ended = None
        self.abandoned = self.gone = False
        self.agent = None

    @property
    def waiting(self):
        return self.bridged is None and self.ended is None and not self.gone

    @property
    def outcome(self):
        if self.bridged is not None:
            return "answered"
        if self.abandoned:
            return "abandoned"
        if self.gone:
            return "gone"
        return "lost"


class Leg:
    __slots__ = ("uuid", "sim", "agent", "created", "bridged", "ended")

    def __init__(self, uuid, sim, agent, created):
        self.uuid, self.sim, self.agent, self.created = uuid, sim, agent, created
        self.bridged = self.ended = None


class Ledger:
    def __init__(self, clock=time.monotonic, wall=time.time):
        self.clock, self.wall = clock, wall
        self.started = clock()
        self.callers = {}        # b-leg uuid -> Caller
        self.by_a_leg = {}       # a-leg uuid -> Caller
        self.legs = {}           # agent leg uuid -> Leg
        self.faults = []         # (time, kind, detail)
        self.originates = collections.Counter()   # "sent" / "failed"
        self.lag_max = 0.0       # the longest an event took from its switch to the soak

    # -- events (one driver connection per simulator) ---------------------------------------

    def on_event(self, sim, event):
        handler = getattr(self, "_" + event.name.lower(), None)
        if handler is not None:
            handler(sim, event, self._when(event))

    def _when(self, event):
        """When the event happened on its switch (its Event-Date-Timestamp), on the ledger's
        clock: the two switches' events come in on two connections that may lag differently,
        and a hangup read late must not make the agent's next call look like a double offer."""
        now = self.clock()
        stamp = event.get("Event-Date-Timestamp", "")
        if not stamp.isdigit():
            return now
        lag = max(0.0, self.wall() - int(stamp) / 1e6)
        self.lag_max = max(self.lag_max, lag)
        return now - lag

    def _channel_park(self, sim, event, now):
        if event.get("variable_acd_queue") != QUEUE or event.uuid in self.callers:
            return
        caller = Caller(event.uuid, sim, event.get("variable_other_loopback_leg_uuid", ""), now)
        self.callers[caller.uuid] = caller
        if caller.a_leg:
            self.by_a_leg[caller.a_leg] = caller

    def _channel_create(self, sim, event, now):
        agent = event.get("variable_acd_agent")
        if agent and event.uuid not in self.legs:
            self.legs[event.uuid] = Leg(event.uuid, sim, agent, now)

    def _channel_bridge(self, sim, event, now):
        a, b = event.get("Bridge-A-Unique-ID", ""), event.get("Bridge-B-Unique-ID", "")
        caller = self.callers.get(a) or self.callers.get(b)
        leg = self.legs.get(b) or self.legs.get(a)
        if caller is not None and caller.bridged is None:
            caller.bridged = now
            caller.agent = leg.agent if leg is not None else None
        if leg is not None and leg.bridged is None:
            leg.bridged = now

    def _channel_hangup(self, sim, event, now):
        caller = self.callers.get(event.uuid) or self.by_a_leg.get(event.uuid)
        if caller is not None and caller.ended is None:
            caller.ended = now
        leg = self.legs.get(event.uuid)
        if leg is not None and leg.ended is None:
            leg.ended = now

    # -- what the soak itself does ------------------------------------------------------------

    def abandon(self, caller):
        """The caller's patience ran out: True when the soak should hang it up now."""
        if not caller.waiting:
            return False
        caller.abandoned = True
        return True

    def switch_gone(self, sim):
        """The simulator ``sim`` was killed: its channels vanish without a hangup."""
        now = self.clock()
        for caller in self.callers.values():
            if caller.sim == sim and caller.ended is None:
                caller.gone = caller.bridged is None
                caller.ended = now
        for leg in self.legs.values():
            if leg.sim == sim and leg.ended is None:
                leg.ended = now

    def fault(self, kind, detail=""):
        self.faults.append((self.clock(), kind, detail))

    def waiting(self):
        return [c for c in self.callers.values() if c.waiting]

    # -- the figures ------------------------------------------------------------------------------

    def figures(self):
        outcomes = collections.Counter(c.outcome for c in self.callers.values())
        lost = [c for c in self.callers.values() if c.outcome == "lost"]
        return {
            "offered": len(self.callers),
            "answered": outcomes["answered"],
            "abandoned": outcomes["abandoned"],
            "gone_with_their_switch": outcomes["gone"],
            "lost": len(lost),
            "lost_examples": [{"uuid": c.uuid, "sim": c.sim, "parked_s": round(c.parked - self.started, 1),
                               "still_parked": c.ended is None} for c in lost[:10]],
            "originates": dict(self.originates),
            "double_offers": self.double_offers(),
            "double_offer_examples": self.double_offer_examples(),
            "wait_s": _spread([c.bridged - c.parked for c in self.callers.values()
                               if c.bridged is not None]),
            "faults": self.fault_figures(),
            "event_lag_max_s": round(self.lag_max, 3),
        }

    def double_offers(self):
        """Pairs of one agent's legs bridged at the same time (on any switch)."""
        return len(self.double_offer_examples(None))

    def double_offer_examples(self, limit=10):
        """The double offers: agent, and each leg's switch, bridge and end (s from the start)."""
        by_agent = collections.defaultdict(list)
        for leg in self.legs.values():
            if leg.bridged is not None:
                by_agent[leg.agent].append((leg.bridged, leg.ended or float("inf"), leg))
        found = []
        for agent, spans in by_agent.items():
            spans.sort(key=lambda span: span[:2])
            latest = None
            for start, stop, leg in spans:
                if latest is not None and start < latest[1]:
                    found.append({"agent": agent, "legs": [self._span(latest[2]), self._span(leg)]})
                if latest is None or stop > latest[1]:
                    latest = (start, stop, leg)
        found.sort(key=lambda d: d["legs"][1]["bridged_s"])
        return found if limit is None else found[:limit]

    def _span(self, leg):
        at = lambda t: None if t is None else round(t - self.started, 2)  # noqa: E731
        return {"sim": leg.sim, "uuid": leg.uuid, "bridged_s": at(leg.bridged),
                "ended_s": at(leg.ended)}

    def fault_figures(self):
        first = self.faults[0][0] if self.faults else self.clock()
        calm = [c.bridged - c.parked for c in self.callers.values()
                if c.bridged is not None and c.bridged < first]
        baseline = max(calm) if calm else 0.0
        rows = []
        for at, kind, detail in self.faults:
            hit = [c.bridged - c.parked for c in self.callers.values() if c.bridged is not None
                   and c.parked <= at + FAULT_WINDOW and c.bridged >= at]
            longest = max(hit) if hit else 0.0
            rows.append({"at_s": round(at - self.started, 1), "fault": kind, "detail": detail,
                         "callers_hit": len(hit), "longest_wait_s": round(longest, 2),
                         "extra_wait_s": round(max(0.0, longest - baseline), 2)})
        return {"baseline_longest_wait_s": round(baseline, 2), "each": rows,
                "longest_extra_wait_s": _longest_by_kind(rows)}


def _longest_by_kind(rows):
    out = {}
    for row in rows:
        out[row["fault"]] = max(out.get(row["fault"], 0.0), row["extra_wait_s"])
    return out


def _spread(values):
    if not values:
        return {"count": 0}
    values = sorted(values)
    pick = lambda q: round(values[min(len(values) - 1, int(q * len(values)))], 3)  # noqa: E731
    return {"count": len(values), "p50": pick(0.5), "p99": pick(0.99), "max": round(values[-1], 3)}
