"""What became of an offer: an agent answered (bridge), failed (fall through), or came too late.

Theory of operation
-------------------
The router (acd.router) rings agents with a background originate; this mixin settles each offer
from the *facts* FreeSWITCH reports, in whatever order they arrive, and never from a reply that
is merely late (issue 12: on a loaded switch acd hung up hundreds of agents who had answered,
because a reply came after its timeout or a job result after the caller's hangup):

* An agent answered: the originate's job says ``+OK <leg>``, or -- often first on a busy switch --
  the agent's leg parks (the originate runs ``&park()`` once the phone answers; CHANNEL_PARK with
  ``acd_role=agent``). Whichever comes first starts the bridge; the other is a repeated fact.
* The bridge is a background ``uuid_bridge`` (acd.esl.switch): the event connection never waits
  for it. It is done when CHANNEL_BRIDGE names the pair or the job says ``+OK``. A bridge that
  failed while both legs still live (``uuid_exists`` asked when in doubt) is tried again, up to
  :data:`BRIDGE_ATTEMPTS` times; an agent leg is hung up only when its caller is gone or the
  bridge cannot be made.
* Before the bridge, Redis is asked whether the agent is still ours (``hold.lua``): a failover
  or a Redis restarted from an older snapshot may have lost the reservation and given the agent
  to another caller; then our leg is hung up instead (``offer-withdrawn``; acd.store.daemons).
* A failed leg (the job's ``-ERR <cause>``, the cause its CHANNEL_HANGUP gave) releases the agent
  with mod_callcenter's reading of the cause; the caller falls through to the next agent.

Every agent leg counts against the originate window (acd.core.window) from the originate until
its outcome is known (answered or failed).
"""

import logging

import gevent

from acd.core.model import CallState, classify_cause
from acd.esl import commands as cmd
from acd.esl import CommandError, EslError, NotConnectedError
from acd.store.daemons import HELD, REFUSED

log = logging.getLogger("acd.router")

#: uuid_bridge attempts for one answered agent leg while both legs live.
BRIDGE_ATTEMPTS = 3
#: Seconds before a bridge without any result is checked (a job result should come at once).
BRIDGE_CHECK_AFTER = 30.0


class OfferResults:
    """Mixed into :class:`acd.router.Router` (uses its calls, legs, store, esl, decisions)."""

    # -- the originate's result ---------------------------------------------------------------

    def _await_job(self, job, call_uuid, legs, timeout):
        try:
            result = job.get(timeout=timeout + 60)
        except gevent.Timeout:
            self.post(self.on_job, call_uuid, legs, None, "no job result", True)
        except CommandError as exc:  # FreeSWITCH refused the bgapi: nothing rings
            self.post(self.on_job, call_uuid, legs, None, str(exc), False)
        except Exception as exc:  # connection lost: the resync after reconnect settles it
            self.post(self.on_job, call_uuid, legs, None, str(exc), True)
        else:
            self.post(self.on_job, call_uuid, legs, result, None)

    def on_job(self, call_uuid, legs, result, error=None, sent=False):
        """A background originate finished with ``result`` (a JobResult), or without one
        (``error``): then, if the originate may have reached FreeSWITCH (``sent``), its legs may
        still ring -- they are let go and the resync after the reconnect (or the lease) settles
        their agents; if it cannot have (refused, not connected), the agents are released and
        the next tick retries (no immediate retry: that would spin while FreeSWITCH is away)."""
        now = self.clock()
        call = self.calls.get(call_uuid)
        for leg in legs:
            self.in_flight.discard(leg)
        if result is None:
            for leg, agent_id in legs.items():
                if self.legs.get(leg) != (call_uuid, agent_id):
                    continue
                if sent:
                    self.legs.pop(leg)
                    if call is not None:
                        call.offers.pop(leg, None)
                else:
                    self._settle_offer(call_uuid, call, leg, agent_id, "cancelled", now, error)
            if sent:
                log.warning("originate result for call %s lost (%s): agents %s wait for the "
                            "resync", call_uuid, error, ", ".join(legs.values()))
            self._back_to_waiting(call)
            return
        winner = result.value if result.ok else None
        if winner in legs and self.legs.get(winner) == (call_uuid, legs[winner]):
            self._answered(call_uuid, call, winner, legs[winner], now)
        for leg, agent_id in legs.items():
            if leg == winner or self.legs.get(leg) != (call_uuid, agent_id):
                continue  # the winner, or an offer already settled
            if call is not None and leg in (call.bridging, call.agent_leg):
                continue  # answered (its leg parked) although the job names another winner
            cause = self.leg_causes.pop(leg, None) or ("LOSE_RACE" if winner else result.cause)
            self._settle_offer(call_uuid, call, leg, agent_id, classify_cause(cause), now, cause)
        self._back_to_waiting(call)
        # the caller's queue, and those of agents let go at once (a lost race, a cancel)
        queues = {q for agent_id in legs.values() for q in self._queues_of(agent_id)}
        if call is not None:
            queues.add(call.queue)
        self.dispatch(queues)

    def _back_to_waiting(self, call):
        if call is not None and call.state is CallState.OFFERING and not call.offers:
            call.state = CallState.WAITING
            self.ready_again(call)

    def _settle_offer(self, call_uuid, call, leg, agent_id, outcome, now, cause):
        self.legs.pop(leg, None)
        self.in_flight.discard(leg)
        if call is not None:
            call.offers.pop(leg, None)
            if outcome != "cancelled":
                call.tried.add(agent_id)
        _, _, status = self.store.release(agent_id, call_uuid, outcome, now)
        self._decide("offer-failed", call, agent_id, call_uuid=call_uuid, cause=cause,
                     outcome=outcome, agent_status=status)
        if call is not None and call.fallback_queue and outcome != "cancelled":
            self._fall_back(call, "no answer")

    # -- an agent answered --------------------------------------------------------------------

    def on_agent_park(self, event):
        """An agent's leg parked: its phone answered (the originate runs ``&park()``)."""
        leg = event.uuid
        owner = self.legs.get(leg)
        if owner is None or owner[0] != event.get("variable_acd_call"):
            return  # not a leg of ours, or settled already
        self._answered(owner[0], self.calls.get(owner[0]), leg, owner[1], self.clock())

    def _answered(self, call_uuid, call, leg, agent_id, now):
        """An agent answered: bridge it to the caller (once, whichever fact came first)."""
        self.in_flight.discard(leg)
        if call is not None and leg in (call.bridging, call.agent_leg):
            return  # a repeated fact: its bridge is on its way or made
        if call is None or call.state is not CallState.OFFERING or call.bridging:
            self._too_late(call_uuid, leg, agent_id, now)
            return
        held, other = self.store.hold(agent_id, call_uuid, leg, "ringing", self.owner, now,
                                      self.lease)
        if held == REFUSED:
            self._taken_meanwhile(call, leg, agent_id, other)
            return
        if held != HELD:   # Redis had lost the reservation (a failover, an older snapshot)
            self._decide("reservation-restored", call, agent_id, leg=leg)
        call.bridging, call.bridge_attempts = leg, 0
        self._bridge(call, leg, agent_id)

    def _taken_meanwhile(self, call, leg, agent_id, other):
        """Our offer's agent (answering, or still ringing at a resync) is in another call, says
        Redis: our reservation was lost (a failover, a Redis restarted from an older snapshot)
        and the agent was given to that call, whose daemon holds it. Never two calls at once:
        our leg is hung up and the caller waits for the next agent (the agent is not counted as
        having refused)."""
        self.esl.fire(cmd.uuid_kill(leg, "NORMAL_CLEARING"))
        self.legs.pop(leg, None)
        call.offers.pop(leg, None)
        log.warning("agent %s of an offer for call %s is in call %s, says Redis: offer withdrawn",
                    agent_id, call.uuid, other or "-")
        self._decide("offer-withdrawn", call, agent_id, leg=leg, other_call=other or "-")
        self._back_to_waiting(call)
        self.dispatch([call.queue])

    def _bridge(self, call, leg, agent_id):
        try:
            job = self.esl.job(cmd.uuid_bridge(call.uuid, leg))
        except (EslError, NotConnectedError) as exc:
            # the switch is away (an ESL drop): the agent's leg stays answered and parked, and
            # the resync after the reconnect bridges it (acd.recovery)
            call.bridging = None
            log.warning("cannot bridge call %s to agent %s now (%s): at the resync", call.uuid,
                        agent_id, exc)
            return
        call.bridge_attempts += 1
        gevent.spawn(self._await_bridge, job, call.uuid, leg, agent_id)

    def _await_bridge(self, job, call_uuid, leg, agent_id):
        try:
            reply = job.get(timeout=BRIDGE_CHECK_AFTER).body
        except gevent.Timeout:
            reply = "-ERR no result for uuid_bridge"
        except Exception as exc:  # refused, or the connection dropped
            reply = f"-ERR {exc}"
        self.post(self._bridge_result, call_uuid, leg, agent_id, reply)

    def _too_late(self, call_uuid, leg, agent_id, now):
        """The agent answered a call that no longer wants it (caller gone, another agent won)."""
        self.esl.fire(cmd.uuid_kill(leg, "NORMAL_CLEARING"))
        self.legs.pop(leg, None)
        self.store.release(agent_id, call_uuid, "cancelled", now)
        self._decide("answered-too-late", None, agent_id, call_uuid=call_uuid)

    # -- the bridge's result ------------------------------------------------------------------

    def on_bridge(self, event):
        """CHANNEL_BRIDGE (fired once, on the first uuid_bridge argument: the caller)."""
        call = self.calls.get(event.get("Bridge-A-Unique-ID", ""))
        if call is None and self.outbound is not None:
            self.outbound.on_bridge(event)
            return
        leg = event.get("Bridge-B-Unique-ID", "")
        owner = self.legs.get(leg)
        if call is not None and call.bridging == leg and owner is not None:
            self._bridged(call, leg, owner[1], self.clock())

    def _bridge_result(self, call_uuid, leg, agent_id, reply):
        now = self.clock()
        call = self.calls.get(call_uuid)
        if call is None or call.bridging != leg:  # bridged already, or the caller left
            if self.legs.get(leg) == (call_uuid, agent_id) and (
                    call is None or call.agent_leg != leg):
                self._too_late(call_uuid, leg, agent_id, now)
            return
        if reply.startswith("+OK"):
            self._bridged(call, leg, agent_id, now)
        elif leg in self.leg_causes:  # the agent hung up before the bridge was made
            self._bridge_failed(call, leg, agent_id, reply, now)
        else:
            gevent.spawn(self._check_legs, call_uuid, leg, agent_id, reply)

    def _check_legs(self, call_uuid, leg, agent_id, reply):
        """When in doubt, ask FreeSWITCH whether both legs still exist (off the routing loop)."""
        alive = all(self.esl.api_reply(cmd.uuid_exists(uuid)).strip() == "true"
                    for uuid in (call_uuid, leg))
        self.post(self._retry_bridge, call_uuid, leg, agent_id, reply, alive)

    def _retry_bridge(self, call_uuid, leg, agent_id, reply, alive):
        call = self.calls.get(call_uuid)
        if call is None or call.bridging != leg:  # settled meanwhile (bridged, or caller gone)
            return self._bridge_result(call_uuid, leg, agent_id, reply)
        if alive and call.bridge_attempts < BRIDGE_ATTEMPTS:
            self._decide("bridge-retry", call, agent_id, leg=leg, attempt=call.bridge_attempts + 1,
                         reply=_word(reply))
            self._bridge(call, leg, agent_id)
        else:
            self._bridge_failed(call, leg, agent_id, reply, self.clock())

    def _bridge_failed(self, call, leg, agent_id, reply, now):
        call.bridging = None
        self._decide("bridge-failed", call, agent_id, reply=_word(reply))
        self.esl.fire(cmd.uuid_kill(leg, "NORMAL_CLEARING"))
        self._settle_offer(call.uuid, call, leg, agent_id, "cancelled", now, "BRIDGE_FAILED")
        self._back_to_waiting(call)
        self.dispatch([call.queue])

    def _bridged(self, call, leg, agent_id, now):
        call.bridging = None
        call.offers.pop(leg, None)
        for other_leg in list(call.offers):  # ring-progressively: the others stop ringing
            self.esl.fire(cmd.uuid_kill(other_leg, "ORIGINATOR_CANCEL"))
        call.state = CallState.BRIDGED
        call.agent, call.agent_leg, call.answered_at = agent_id, leg, now
        self.store.answered(agent_id, call.uuid, now, self.lease)
        self.store.leave_queue(call.uuid, call.queue)
        self.store.update_call(call.uuid, state="bridged", agent=agent_id, agent_leg=leg,
                               answered_at=now)
        self._decide("bridge", call, agent_id, leg=leg, wait=round(now - call.enqueued_at, 3))


def _word(reply):
    """A reply as one token for a decision line."""
    return reply.strip().replace(" ", "_")[:80]
