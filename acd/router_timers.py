"""Leaving a queue and the per-caller timers: overflow and exit actions, max-wait, the wait with
no agent logged in, announcements and ring-progressively (a mixin of :class:`acd.router.Router`).

Theory of operation: :meth:`QueueTimers._call_timers` runs for every waiting or offering caller at
each tick (``now`` from the router's clock) and applies the queue's limits in mod_callcenter's
order; a caller that leaves goes through :meth:`QueueTimers._leave` -- another queue (the caller
keeps its arrival time and restarts its music), a transfer, or a hangup.
"""

from acd.core.model import CallState, Result, max_level
from acd.esl import commands as cmd


class QueueTimers:
    """Mixed into :class:`acd.router.Router`."""

    def _leave(self, call, action, result, now):
        """Run an overflow / exit action: another queue, a transfer or a hangup."""
        self._cancel_offers(call)
        if action is None:
            return
        if action.kind == "queue":
            old = self._move(call, action.target, now)
            self._decide("overflow", call, from_queue=old, result=result.value)
            self.dispatch([action.target])
            return
        if action.kind == "transfer":
            self._transfer(call.uuid, action.target)
        else:
            self._fire(cmd.uuid_kill(call.uuid, action.target or "NORMAL_CLEARING"))
        self._finish(call, result, now)

    def _move(self, call, queue, now):
        """The caller waits in ``queue`` from now on (its music restarts); returns the old one."""
        self._fire(cmd.uuid_break(call.uuid, all_=True))
        old = call.queue
        self.store.move_call(call.uuid, old, queue, now, call.priority)
        call.queue, call.queue_since, call.tried = queue, now, set()
        call.no_agent_since = None
        if not call.offers:
            call.state = CallState.WAITING
            self.ready_again(call)
        self._schedule_announcements(call, now)
        self._schedule_relax(call, now)
        self._moh(call)
        return old

    def _call_timers(self, call, now):
        if call.state not in (CallState.WAITING, CallState.OFFERING):
            return
        queue = self.config.queue(call.queue)
        waited = now - call.queue_since
        if queue.max_wait_time and waited >= queue.max_wait_time:
            self._decide("max-wait", call, waited=round(waited, 1))
            self._leave(call, queue.overflow, Result.OVERFLOWED if queue.overflow else Result.TIMED_OUT,
                        now)
            if queue.overflow is None:
                self._fire(cmd.uuid_kill(call.uuid, "NORMAL_CLEARING"))
                self._finish(call, Result.TIMED_OUT, now)
            return
        if queue.max_wait_time_with_no_agent and self._no_agent_timeout(call, queue, now):
            return
        if call.next_announce and now >= call.next_announce and queue.announce_sound:
            call.next_announce = now + queue.announce_frequency
            self._announce(call, [queue.announce_sound])
        if call.next_position and now >= call.next_position:
            call.next_position = now + queue.announce_position
            position = self.store.position(call.uuid, call.queue) or 1
            self._announce(call, ["ivr/ivr-you_are_number.wav", f"digits/{position}.wav"])
        if (call.next_progressive and call.state is CallState.OFFERING
                and now >= call.next_progressive):
            call.next_progressive = now + queue.ring_timeout
            choice = self.selection.reserve_next(call, queue, max_level(
                queue.tier_rules_apply, queue.tier_rule_wait_second, waited), now)
            if choice:
                self._originate(call, queue, [choice], now)

    def _no_agent_timeout(self, call, queue, now):
        """max-wait-time-with-no-agent: no agent of the queue is logged in as available. Once a
        caller was sent away for it, later callers only wait ...-time-reached seconds until an
        agent shows up again (as mod_callcenter)."""
        if self.store.any_available(t.agent for t in queue.tiers):
            call.no_agent_since = None
            self.unstaffed_queues.discard(queue.name)
            return False
        if call.no_agent_since is None:
            call.no_agent_since = now
        limit = (queue.max_wait_time_with_no_agent_time_reached
                 if queue.name in self.unstaffed_queues else queue.max_wait_time_with_no_agent)
        if now - call.no_agent_since < limit:
            return False
        self.unstaffed_queues.add(queue.name)
        self._decide("no-agent", call, waited=round(now - call.no_agent_since, 1))
        if queue.overflow is not None:
            self._leave(call, queue.overflow, Result.OVERFLOWED, now)
        else:
            self._fire(cmd.uuid_kill(call.uuid, "NORMAL_CLEARING"))
            self._finish(call, Result.TIMED_OUT, now)
        return True

    def _announce(self, call, sounds):
        if call.state is not CallState.WAITING:
            return
        self._fire(cmd.uuid_break(call.uuid, all_=True))
        for sound in sounds:
            self._sendmsg(cmd.sendmsg_execute(call.uuid, "playback", sound))
        self._moh(call)
