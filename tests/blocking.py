"""A blocking client call from a test (http.client, Selenium) while the daemon under test runs
in this process's greenlets."""

import gevent

from acd.offload import patched


def blocking(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``: directly under gevent's monkey-patching (tests/run_patched.py),
    where its sockets yield by themselves -- never in a native thread, whose sockets would belong
    to that thread's hub (acd.offload says why that is unsafe); else in a native thread of the hub's
    pool, so the daemon goes on while it blocks."""
    if patched():
        return fn(*args, **kwargs)
    return gevent.get_hub().threadpool.apply(fn, args, kwargs)
