"""``make check-watchers``: the gevent half of the suite, failing on any libev I/O watcher left
running on a file descriptor that was closed (or now is another file).

Why: such a watcher does nothing until libev rebuilds its epoll set -- it does when epoll
reports an fd closed here but still open in a forked child (gevent.subprocess's children hold
every fd for a moment) -- and then libev re-adds it and aborts the whole process ("libev: I/O
watcher with invalid fd found in epoll_ctl"). Who leaves one is seldom where the abort happens:
websockets' ``serve_forever`` (tests/test_softphone.py) left one that aborted test_watchdog,
three files later, one run in three.

How: it needs gevent's CFFI loop (``GEVENT_LOOP=libev-cffi``; the default Cython loop cannot be
instrumented), whose watchers are Python objects. Every I/O watcher made in the main thread is
recorded with the stack that made and last started it; after each loop iteration's callbacks
and before each poll (a check watcher) the running ones are compared with their fd's
(device, inode) at start. A finding is printed at once and fails the session at its end.
Several times slower than ``make test-gevent``; not part of ``make test``.
"""

import os
import sys
import traceback

import gevent
import gevent._ffi.watcher
import gevent.monkey
import pytest

_thread_id = gevent.monkey.get_original("_thread", "get_ident")
MAIN = _thread_id()
_watchers = {}        # id(watcher) -> [watcher, fd, file at start, made at, started at]
_found = []           # (test, report)
_current = ["(between tests)"]
_keep = []


def _file(fd):
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _stack():
    return "".join(traceback.format_stack(limit=10)[:-2])


def _entries():
    while True:   # a finalizer run by the GC meanwhile may close (and drop) a watcher
        try:
            return list(_watchers.items())
        except RuntimeError:
            continue


def _check():
    for key, entry in _entries():
        watcher, fd, at_start, made, started = entry
        if watcher._watcher is None:          # closed without close() (finalized)
            _watchers.pop(key, None)
            continue
        if watcher.active and _file(fd) != at_start:
            _watchers.pop(key, None)           # reported once
            report = (f"I/O watcher running on fd {fd}, which was closed (now: "
                      f"{_file(fd) or 'closed'}); callback {watcher.callback!r}\n"
                      f"-- made at:\n{made}-- last started at:\n{started}")
            _found.append((_current[0], report))
            sys.__stderr__.write(f"\nwatchers_guard: {_current[0]}: {report}\n")


def _safe_check():
    try:
        _check()
    except Exception as exc:  # noqa: BLE001 - a diagnostic never breaks the loop
        sys.__stderr__.write(f"watchers_guard: check failed: {exc!r}\n")


def _install(loop_class):
    made_io, started_io = loop_class.io, gevent._ffi.watcher.IoMixin.start
    closed, ran_callbacks = gevent._ffi.watcher.watcher.close, loop_class._run_callbacks

    def io(self, fd, events, *args, **kwargs):
        watcher = made_io(self, fd, events, *args, **kwargs)
        if _thread_id() == MAIN:
            _watchers[id(watcher)] = [watcher, fd, None, _stack(), None]
        return watcher

    def start(self, callback, *args, **kwargs):
        entry = _watchers.get(id(self))
        if entry is not None and entry[0] is self:
            entry[2], entry[4] = _file(entry[1]), _stack()
        return started_io(self, callback, *args, **kwargs)

    def close(self):
        entry = _watchers.get(id(self))
        if entry is not None and entry[0] is self:
            del _watchers[id(self)]
        return closed(self)

    def run_callbacks(self):
        try:
            return ran_callbacks(self)
        finally:
            if _thread_id() == MAIN:
                _safe_check()

    loop_class.io, gevent._ffi.watcher.IoMixin.start = io, start
    gevent._ffi.watcher.watcher.close, loop_class._run_callbacks = close, run_callbacks


def pytest_configure(config):
    loop = gevent.get_hub().loop
    if type(loop).__module__ != "gevent.libev.corecffi":
        raise pytest.UsageError("watchers_guard needs GEVENT_LOOP=libev-cffi "
                                f"(this loop: {type(loop).__module__})")
    _install(type(loop))
    check = loop.check()
    check.start(_safe_check)
    _keep.append(check)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current[0] = item.nodeid
    yield
    _safe_check()
    _current[0] = f"(after {item.nodeid})"


def pytest_sessionfinish(session, exitstatus):
    if _found:
        sys.__stderr__.write(f"\nwatchers_guard: {len(_found)} I/O watcher(s) left running on "
                             "a closed fd:\n" + "".join(f"  {test}\n" for test, _ in _found))
        session.exitstatus = 1
