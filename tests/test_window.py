"""The originate window (acd.core.window): back-pressure for a slow switch, time as an argument."""

import pytest

from acd.core.window import BUCKET, CUT_EVERY, FLOOR, OriginateWindow


def run(window, seconds, now, inflight, command=None, lag=None, step=0.25):
    """Feed samples every ``step`` s for ``seconds``, ticking; returns the time reached."""
    end = now + seconds
    while now < end:
        if command is not None:
            window.command("uuid_bridge", command, now)
        if lag is not None:
            window.event(lag, now)
        window.tick(now, inflight)
        now += step
    return now


def test_a_fixed_window_never_moves():
    window = OriginateWindow(50, adaptive=False)
    run(window, 10, 0.0, inflight=50, command=0.01)
    now = run(window, 10, 10.0, inflight=50, command=9.0, lag=20.0)
    assert window.size == 50 and window.allows(49) and not window.allows(50)
    assert now > 10


def test_latency_growth_shrinks_the_window_to_the_floor_and_health_grows_it_back():
    window = OriginateWindow(100)
    now = run(window, 5, 0.0, inflight=30, command=0.02)        # healthy: 20 ms bridges
    assert window.size == 100
    now = run(window, 30, now, inflight=30, command=5.0)         # the switch slows down
    assert window.size == FLOOR and window.allows(FLOOR - 1) and not window.allows(FLOOR)
    grown_from = window.size
    now = run(window, 10, now, inflight=200, command=0.02)       # recovered, and in use
    assert window.size == grown_from + 40                        # one leg per tick
    run(window, 30, now, inflight=0, command=0.02)               # recovered but idle
    assert window.size == grown_from + 40                        # grows only when in use


def test_cuts_come_at_most_once_per_second_and_by_a_quarter():
    window = OriginateWindow(100)
    window.command("uuid_bridge", 0.01, 0.0)
    for tick in range(4):                                        # four ticks within 1 s
        window.command("uuid_bridge", 3.0, 0.1 + tick * 0.2)
        window.tick(0.1 + tick * 0.2, 50)
    assert window.size == 75
    window.command("uuid_bridge", 3.0, 0.1 + CUT_EVERY)
    window.tick(0.1 + CUT_EVERY, 50)
    assert window.size == 56


def test_a_constant_delay_is_not_congestion():
    """A command that is always slow, or a clock offset between the hosts, is the baseline."""
    window = OriginateWindow(100)
    run(window, 60, 0.0, inflight=100, command=2.0, lag=3.5)
    assert window.size == 100


def test_event_lag_growth_shrinks_the_window():
    window = OriginateWindow(100)
    now = run(window, 5, 0.0, inflight=10, lag=0.003)
    run(window, 3, now, inflight=10, lag=2.0)
    assert window.size < 100


def test_the_baseline_forgets_after_five_minutes():
    """A switch that stays slow long enough makes that its new normal: the window recovers."""
    window = OriginateWindow(100)
    now = run(window, 5, 0.0, inflight=100, command=0.01)
    now = run(window, 10, now, inflight=100, command=4.0)
    assert window.size == FLOOR
    run(window, 6 * BUCKET + 60, now, inflight=100, command=4.0, step=1.0)
    assert window.size > 50


def test_limits():
    with pytest.raises(ValueError):
        OriginateWindow(0)
    small = OriginateWindow(2)
    run(small, 5, 0.0, inflight=2, command=0.01)
    run(small, 5, 5.0, inflight=2, command=9.0)
    assert small.size == 2          # never above the limit, even at the floor
