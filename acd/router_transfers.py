"""Transfers of a bridged caller (acd.callcontrol asks, the routing loop carries them out).

Theory of operation
-------------------
Call control marks the call (``call.transfer = (kind, target)``), sets ``park_after_bridge`` on
the caller and hangs up the agent's leg. When the bridge ends (CHANNEL_UNBRIDGE or the agent leg's
CHANNEL_HANGUP, whichever comes first) :meth:`Transfers._transferred` ends the agent's part like
any call (wrap-up, call-ended, the queue call answered) and puts the caller back:

* ``queue``: into that queue, with its data, skills, priority and original arrival time (its wait
  counts from when it first called);
* ``agent``: offered to that agent only (in the original queue when the agent serves it, else in
  the agent's first queue); when that offer fails, or the agent is not reached within its ring
  timeout plus :data:`AGENT_GRACE` seconds, the caller goes back to the original queue;
* ``number``: handed to acd.outbound, which rings the number and bridges it, or puts the caller
  back into the original queue.

The caller parks (``park_after_bridge``); its CHANNEL_PARK is the sign that FreeSWITCH decided
what to do at the end of the bridge, so the variable is cleared only then -- or a later bridge's
end would park the caller again instead of hanging it up.
"""

import gevent

from acd.core.model import CallState, Result
from acd.esl import commands as cmd

#: Seconds beyond the ring timeout an agent transfer waits for its agent before falling back.
AGENT_GRACE = 2.0


class Transfers:
    """Mixed into :class:`acd.router.Router`."""

    def _transferred(self, call, now):
        kind, target = call.transfer
        agent, original = call.agent, call.queue
        self.legs.pop(call.agent_leg, None)
        self.leg_causes.pop(call.agent_leg, None)
        _, state, _ = self.store.release(agent, call.uuid, "ended", now)
        self._decide("call-ended", call, agent, why="transferred",
                     talk=round(now - (call.answered_at or now), 3), agent_state=state)
        self._finish(call, Result.ANSWERED, now)
        self.dispatch(self._queues_of(agent))
        if kind == "number" and self.outbound is not None:
            self.outbound.transfer(call, target, original)
            return
        queue, only = (target, None) if kind == "queue" else (self._queue_for(target, original),
                                                              target)
        self.requeue(call, queue, only_agent=only, fallback=original if only else None)

    def requeue(self, old, queue, only_agent=None, fallback=None):
        """The caller of a call that ended (transferred) waits again, keeping what it had."""
        new = self.enqueue(old.uuid, queue, old.priority, old.caller_number, old.caller_name,
                           skills=old.skills or None, agent=only_agent, data=old.data,
                           enqueued_at=old.enqueued_at)
        if new is None:
            return None
        new.after_transfer = True
        if fallback is not None:
            new.fallback_queue = fallback
            ring = self._ring_timeout(self.config.queue(queue), [only_agent])
            gevent.spawn_later(ring + AGENT_GRACE, self.post, self._agent_not_reached,
                               new.uuid, new.queue_since)
        return new

    def _queue_for(self, agent_id, preferred):
        queues = self._queues_of(agent_id)
        return preferred if preferred in queues or not queues else queues[0]

    def _agent_not_reached(self, uuid, since):
        call = self.calls.get(uuid)
        if call is not None and call.queue_since == since and call.state is CallState.WAITING:
            self._fall_back(call, "not reached")

    def _fall_back(self, call, why):
        """An agent transfer that did not reach its agent: back to the original queue."""
        queue, call.fallback_queue = call.fallback_queue, None
        if queue is None or not call.only_agent:
            return
        agent, call.only_agent = call.only_agent, None
        self.store.update_call(call.uuid, only_agent="")
        self._decide("transfer-fallback", call, agent, why=why.replace(" ", "-"), to=queue)
        if queue != call.queue:
            self._move(call, queue, self.clock())
        self.dispatch([queue])

    def on_transferred_park(self, call):
        """The caller parked at the end of a transferred bridge: clear park_after_bridge."""
        call.after_transfer = False
        self._fire(cmd.uuid_unsetvar(call.uuid, "park_after_bridge"))
