"""What every fuzz target shares: a time budget, a hang alarm and a memory bound per example.

A target is a hypothesis test (``@given``); :func:`run_for` runs it in rounds of examples until
its budget is spent. Each example runs under :func:`guarded`: a SIGALRM after ``hang`` seconds
raises :class:`Hang` inside the example (a loop that never ends becomes a failure hypothesis
shrinks), and tracemalloc's peak over the example must stay under ``memory`` bytes.
"""

import contextlib
import signal
import time
import tracemalloc

import hypothesis
from hypothesis import HealthCheck, Phase

#: Examples per round: the budget is checked between rounds.
ROUND = 200


class Hang(Exception):
    """An example ran longer than its hang limit."""


class TooMuchMemory(AssertionError):
    """An example's peak allocation was above its bound."""


@contextlib.contextmanager
def guarded(hang=5.0, memory=64 * 1024 * 1024):
    def alarm(signum, frame):
        raise Hang(f"example still running after {hang} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, hang)
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
        if peak > memory:
            raise TooMuchMemory(f"peak allocation {peak} bytes > {memory}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        tracemalloc.stop()


def run_for(test, seconds, seed=None):
    """Run the hypothesis test ``test`` for about ``seconds``; returns the examples run.
    A failure raises (hypothesis prints the shrunk example). ``seed``: the same inputs again."""
    settings = hypothesis.settings(
        max_examples=ROUND, deadline=None, database=None, derandomize=False,
        phases=(Phase.generate, Phase.target, Phase.shrink),
        suppress_health_check=list(HealthCheck), print_blob=True)
    runner = settings(test)
    if seed is not None:
        runner = hypothesis.seed(seed)(runner)
    ran = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        runner()
        ran += ROUND
    return ran
