"""One worker greenlet per ESL event handler (acd.esl.client): the reader never runs handler
code, a slow handler delays nobody else, and one handler sees its events in order."""

import logging

import gevent
import gevent.queue

log = logging.getLogger("acd.esl")

#: Backlog of one handler's queue above which we warn (the handler cannot keep up).
BACKLOG_WARNING = 10_000


class Worker:
    """Runs one handler over its own queue of events, in order."""

    def __init__(self, handler):
        self.handler = handler
        self.name = getattr(handler, "__qualname__", repr(handler))
        self.queue = gevent.queue.Queue()
        self.warned = False
        self.greenlet = gevent.spawn(self._run)

    def put(self, event):
        self.queue.put(event)
        backlog = self.queue.qsize()
        if backlog > BACKLOG_WARNING and not self.warned:
            self.warned = True
            log.warning("ESL handler %s is %d events behind", self.name, backlog)
        elif backlog < BACKLOG_WARNING // 2:
            self.warned = False

    def _run(self):
        for event in self.queue:
            try:
                self.handler(event)
            except Exception:
                log.exception("ESL handler %s failed on %r", self.name, event)

    def stop(self):
        self.greenlet.kill(block=False)
