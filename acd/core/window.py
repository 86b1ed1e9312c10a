"""How many agent legs acd may have in flight at once: back-pressure for a saturated switch.

Theory of operation
-------------------
A FreeSWITCH short of CPU slows down before it fails: commands take longer, events arrive later.
An ACD that keeps originating then buries the switch under new legs while the calls it started
wait for their bridge (measured on a real switch: at 35 calls/s acd bridged fewer than half its
agent legs, while mod_callcenter, one thread per member, bridged them all). The window caps the
agent legs in flight -- originated, without a result yet -- so the switch finishes the calls it
started first. The router stops offering while the window is full and goes on with the
best-scored caller when a leg finishes, so callers keep their order.

``fixed``: the window is ``limit``. ``adaptive`` (AIMD, as TCP's congestion window): it starts at
``limit``; at each :meth:`tick` it looks at the worst *growth* of a command's latency and of the
events' lag seen since the last tick, each over its own baseline -- the smallest value seen in the
last minutes, per command name -- so a constant delay (a remote switch, a clock offset between
hosts, a command that is always slow) is not mistaken for congestion. If either grew by more
than its threshold the window shrinks by a quarter (at most once per :data:`CUT_EVERY` seconds,
never below :data:`FLOOR`); while the switch keeps up and the window is in use it grows by one
leg per tick, up to ``limit``.

Pure: time comes in as ``now`` (seconds); nothing here does I/O.
"""

#: Smallest adaptive window.
FLOOR = 4
#: Growth of a command's latency / of the event lag over its baseline that means congestion.
LATENCY_GROWTH = 1.0
LAG_GROWTH = 0.5
#: Shrink factor and the least time between two cuts.
CUT = 0.75
CUT_EVERY = 1.0
#: The baseline is the minimum over BUCKETS buckets of BUCKET seconds (five minutes).
BUCKET = 50.0
BUCKETS = 6


class Baseline:
    """The smallest value seen in the last ``BUCKET * BUCKETS`` seconds (bucketed minima)."""

    def __init__(self):
        self.buckets = []       # [(bucket start, minimum)], oldest first

    def add(self, value, now):
        start = now - now % BUCKET
        if self.buckets and self.buckets[-1][0] == start:
            if value < self.buckets[-1][1]:
                self.buckets[-1] = (start, value)
        else:
            self.buckets.append((start, value))
            del self.buckets[:-BUCKETS]

    def value(self, now):
        oldest = now - BUCKET * BUCKETS
        return min((m for start, m in self.buckets if start > oldest), default=None)


class OriginateWindow:
    def __init__(self, limit, adaptive=True):
        if limit < 1:
            raise ValueError(f"the originate window needs a limit >= 1, got {limit}")
        self.limit = int(limit)
        self.adaptive = adaptive
        self.size = self.limit
        self.last_cut = float("-inf")
        self._latency = {}      # command name -> Baseline
        self._lag = Baseline()
        self._worst = 0.0       # worst latency growth since the last tick
        self._worst_lag = 0.0   # worst lag growth since the last tick

    def allows(self, inflight):
        """Whether one more agent leg may be originated with ``inflight`` legs in flight."""
        return inflight < self.size

    def command(self, name, seconds, now):
        """A command of ``name`` took ``seconds`` to be answered (or, for a job, to run)."""
        baseline = self._latency.get(name)
        if baseline is None:
            baseline = self._latency[name] = Baseline()
        baseline.add(seconds, now)
        self._worst = max(self._worst, seconds - baseline.value(now))

    def event(self, lag, now):
        """An event arrived ``lag`` seconds after FreeSWITCH stamped it."""
        self._lag.add(lag, now)
        self._worst_lag = max(self._worst_lag, lag - self._lag.value(now))

    @property
    def congested(self):
        return self._worst > LATENCY_GROWTH or self._worst_lag > LAG_GROWTH

    def tick(self, now, inflight):
        """Adjust the window to what was seen since the last tick; returns its size."""
        if self.adaptive:
            if self.congested:
                if now - self.last_cut >= CUT_EVERY:
                    self.size = min(self.limit, max(FLOOR, int(self.size * CUT)))
                    self.last_cut = now
            elif inflight >= self.size and self.size < self.limit:
                self.size += 1
        self._worst = self._worst_lag = 0.0
        return self.size
