"""The router's part in one queue order across FreeSWITCH hosts (docs/redis.md, "One queue order
across FreeSWITCH hosts"): which queues keep it, a caller back among those who may take any agent,
waking the daemon whose caller is first, and being woken. The order itself is kept in Redis
(``reserve.lua``, ``wake.lua``, ``ready.lua``); the wake-ups arrive through acd/wakeups.py.
A mixin of :class:`acd.router.Router`."""


class OneOrder:
    def ordered(self, queue_name):
        """The queue keeps one order across daemons (acd.core.model.one_order)."""
        return self.selection.ordered(self.config.queue(queue_name))

    def ready_again(self, call):
        """``call`` holds no offer any more: it may hold other daemons' callers back again."""
        if not (call.skills or call.only_agent) and self.ordered(call.queue):
            self.store.ready_again(call.uuid, call.queue, self.owner)

    def wake(self, queues):
        """An agent may be free in ``queues``: if another daemon's caller is first in one of
        them, that daemon is woken to offer it (global order; else it would wait for its tick)."""
        queues = [q for q in queues if self.ordered(q)]
        if queues:
            self.store.wake(queues, self.owner, self.clock())

    def woken(self, queue_name):
        """Another daemon found an agent free while our caller is first in ``queue_name``."""
        if self.config.has_queue(queue_name):
            self.dispatch([queue_name])

