"""The one module that reads clocks.

Everything else is handed ``now`` (wall clock, seconds) or measures intervals with
``monotonic()``; tests pass their own times.
"""

import time


def now() -> float:
    """Wall-clock time in seconds since the epoch."""
    return time.time()


def monotonic() -> float:
    """A clock for intervals and timeouts; never jumps."""
    return time.monotonic()
