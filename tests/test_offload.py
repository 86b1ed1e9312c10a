"""acd.offload: where the daemon's blocking library calls (requests, redis-py) run.

Under gevent's monkey-patching (``acd run``; tests/run_patched.py) they must run in greenlets of
the daemon's own thread: a patched socket made in a native thread belongs to that thread's hub,
and closing it later from another thread (the garbage collector does) breaks that hub's libev
loop -- the suite aborted with "Fatal Python error: Aborted" about one run in three before.
Unpatched, a native thread is the only way not to block the loop."""

import socket
import threading
import time

import gevent
import gevent.monkey
import pytest

from acd.offload import Offload, patched

real_ident = gevent.monkey.get_original("_thread", "get_ident")


def test_calls_run_in_this_thread_when_patched_else_in_a_native_thread_of_their_own():
    pool = Offload(2)
    try:
        ident = pool.apply(real_ident)
        if patched():
            assert ident == real_ident()
            assert socket.socket is gevent.socket.socket
        else:
            assert ident != real_ident()
        assert pool.spawn(lambda a, b=0: a + b, 2, b=3).get(timeout=5) == 5
    finally:
        pool.kill()


def test_an_exception_comes_back_to_the_caller():
    pool = Offload(1)
    try:
        with pytest.raises(ZeroDivisionError):
            pool.apply(lambda: 1 / 0)
        job = pool.spawn(lambda: 1 / 0)
        job.wait(5)
        assert job.ready() and isinstance(job.exception, ZeroDivisionError)
    finally:
        pool.kill()


def test_at_most_size_calls_run_at_once_and_the_loop_goes_on_meanwhile():
    pool, running, most, lock = Offload(2), [0], [0], threading.Lock()
    ticks = []
    ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.01)) for _ in range(1000)])

    def work():
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.1)               # blocks: the thread, or (patched) yields to the loop
        with lock:
            running[0] -= 1
        return True

    try:
        jobs = [pool.spawn(work) for _ in range(5)]
        assert all(job.get(timeout=5) for job in jobs)
        assert most[0] == 2
        assert len(ticks) >= 10       # the loop ran while the calls blocked
    finally:
        ticker.kill()
        pool.kill()
