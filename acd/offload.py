"""Blocking network calls (requests, redis-py's blocking reads) kept off the daemon's loop.

Theory of operation
-------------------
acd runs as one gevent process. Its own sockets (ESL) are gevent's; requests and redis-py use
the ``socket`` module, which is gevent's only when the process is monkey-patched (``acd run``,
``acd demo``, ``acd bench`` always are: acd.cli).

* **Monkey-patched**: those libraries' sockets yield by themselves, so the call runs in a
  greenlet of the daemon's own loop (:class:`gevent.pool.Pool`, the same bound on how many run
  at once). It must *not* go to a native thread: a patched socket made in a thread belongs to
  that thread's own hub, and whatever closes it later from another thread edits that hub's libev
  loop from the wrong thread. The garbage collector runs finalizers in whichever thread it
  happens to be in, and urllib3's pools and redis-py's connections close their sockets from
  finalizers: the test suite caught one ("operation on destroyed loop" from a urllib3 pool
  finalizer in the main thread), and a libev loop edited from the wrong thread can assert and
  abort the whole process ("Fatal Python error: Aborted" in the hub).
* **Not patched** (an embedding program, the unpatched half of the tests): the call runs in a
  native thread of a :class:`gevent.threadpool.ThreadPool`, where a plain blocking socket
  blocks only that thread.

CPU-bound work without sockets (password hashing, acd.cti.passwords) uses a thread pool either
way: that is what threads are for.
"""

import gevent.event
import gevent.monkey
import gevent.pool
import gevent.threadpool


def patched():
    """True when gevent monkey-patched ``socket``: the libraries' sockets yield."""
    return gevent.monkey.is_module_patched("socket")


class Offload:
    """At most ``size`` blocking calls at once, in greenlets (patched) or native threads."""

    def __init__(self, size):
        self.size = size
        self._pool = None

    def _get(self):
        if self._pool is None:
            self._pool = (gevent.pool.Pool(self.size) if patched()
                          else gevent.threadpool.ThreadPool(self.size))
        return self._pool

    def spawn(self, fn, *args, **kwargs):
        """Start ``fn(*args, **kwargs)``; a :class:`gevent.event.AsyncResult` of it (waits for
        a free place when ``size`` calls run already)."""
        pool = self._get()
        if isinstance(pool, gevent.threadpool.ThreadPool):
            return pool.spawn(fn, *args, **kwargs)
        result = gevent.event.AsyncResult()
        pool.spawn(fn, *args, **kwargs).link(result)
        return result

    def apply(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``, waited for; its exception is raised here."""
        return self._get().apply(fn, args, kwargs)

    def kill(self):
        """Stop: greenlets are killed, threads end after their current call."""
        pool, self._pool = self._pool, None
        if isinstance(pool, gevent.threadpool.ThreadPool):
            pool.kill()
        elif pool is not None:
            pool.kill(block=False)
