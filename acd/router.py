"""Queue calls: from park to bridge, with fall-through, timeouts and overflow.

Theory of operation
-------------------
The daemon feeds the router, from ONE greenlet, the facts FreeSWITCH reports (a caller parked,
a leg hung up, a bridge ended, a digit pressed, a background originate finished) and a clock
tick. The router keeps the calls *this* daemon owns (the caller's channel lives on its
FreeSWITCH) in :class:`QueueCall` objects and everything shared in the Redis store:

* A caller parks with ``acd_queue``: answered, music on hold, enqueued (``enqueued_at`` kept if it
  was already queued -- a restarted daemon finds its callers again), then :meth:`dispatch`.
* :meth:`dispatch` goes through the waiting callers of some queues best-scored first; for each it
  asks the store for the best offerable agents of its queue (``candidates``, within the tier levels
  the caller has reached), reserves atomically and originates the agent's phone with
  ``originate_timeout`` = the ring timeout (ring-all: every reservable agent in one originate).
* An answered originate bridges caller and agent; a failed one releases the agent with the
  outcome mod_callcenter would give it (busy/rejected/no answer -> delays, max-no-answer ->
  on-break) and the caller immediately falls through to the next agent it has not tried yet.
* A caller who hangs up while agents ring has those legs cancelled (``uuid_kill ...
  ORIGINATOR_CANCEL``) at once. A bridge that ends puts the agent into wrap-up.
* :meth:`tick` promotes agents whose wrap-up/delay ended, renews this daemon's leases, releases
  agents whose lease ran out (their daemon died), applies max-wait / no-agent / exit rules and
  announcements, and dispatches again -- which also picks up agents freed by other daemons.

Every decision is logged on one line through the ``acd.decisions`` logger.
"""

import json
import logging
import re
import time

import gevent

from acd.calls import QueueCall, Waiting
from acd.core.model import (PROGRESSIVE, RING_ALL, CallState, Result, max_level,
                            ringing_mode)
from acd.core.skills import format_skills, next_step_in
from acd.core.window import OriginateWindow
from acd.esl import commands as cmd
from acd.esl import EslError, NotConnectedError
from acd.router_offers import OfferResults
from acd.router_order import OneOrder
from acd.router_timers import QueueTimers
from acd.router_transfers import Transfers
from acd.selection import Selection

log = logging.getLogger("acd.router")
decisions = logging.getLogger("acd.decisions")

#: Seconds a reservation or call lease lasts; renewed every RENEW_EVERY s while the call lives.
LEASE = 30.0
RENEW_EVERY = LEASE / 6
#: Global order: a daemon marks itself alive for ALIVE_FOR seconds, every ALIVE_EVERY seconds
#: (a dead daemon's callers stop holding the queue's order after at most ALIVE_FOR).
ALIVE_FOR, ALIVE_EVERY = 3.0, 1.0
#: Candidates read together with a caller's enqueue (a plain queue's arrival: one round trip less).
PEEK = 4
#: A ring-progressively leg rings at most this many ring timeouts.
PROGRESSIVE_STEPS = 3
#: Calls of other deployments remembered (to log each once); the memory is cleared when full.
IGNORED_MEMORY = 10_000
_DATA_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")


def call_data(event):
    """The call data the dialplan set as channel variables ``acd_data_<key>`` (docs/crm.md)."""
    prefix = "variable_acd_data_"
    return {name[len(prefix):]: str(value) for name, value in event.headers.items()
            if name.startswith(prefix) and _DATA_KEY.match(name[len(prefix):])}


class Router(OfferResults, Transfers, QueueTimers, OneOrder):
    def __init__(self, config, store, esl, owner, clock, post=None, observers=()):
        self.config = config
        self.store = store
        self.esl = esl
        self.owner = owner
        self.clock = clock
        self.post = post or (lambda fn, *args: fn(*args))
        self.observers = list(observers)
        self.calls = {}             # caller uuid -> QueueCall
        self.legs = {}              # agent leg uuid -> (caller uuid, agent id)
        self.leg_causes = {}        # agent leg uuid -> hangup cause seen on its CHANNEL_HANGUP
        self.unstaffed_queues = set()  # queues that sent a caller away for lack of agents
        self.ignored = set()        # uuids of parked calls meant for another deployment
        self.selection = Selection(config, store, owner, LEASE, deferred=lambda queue: self._observe(
            "order-deferred", None, "-", {"queue": queue}))
        self.waiting = Waiting()
        self.next_renew = 0.0
        self.next_alive = 0.0
        self.lease = LEASE
        self.outbound = None        # acd.outbound.Outbound, set by the daemon (click-to-dial)
        self.recordings = None      # acd.recording.Recordings, set by the daemon
        self.held_noted = float("-inf")
        self.in_flight = set()      # agent legs originated, their outcome not known yet
        fs = config.freeswitch
        self.window = OriginateWindow(fs.max_inflight_originates, fs.adaptive_originates)

    # -- helpers ------------------------------------------------------------------------------

    def _decide(self, what, call, agent="-", *, call_uuid=None, queue=None, **details):
        """Log one decision line and tell the observers. ``call_uuid``/``queue`` name a call
        this daemon no longer holds (``call`` is None then)."""
        extra = " ".join(f"{k}={v}" for k, v in details.items())
        decisions.info("%s call=%s queue=%s agent=%s %s", what,
                       call.uuid if call else call_uuid or "-",
                       call.queue if call else queue or "-", agent, extra)
        self._observe(what, call, agent, details)

    def _observe(self, what, call, agent, details):
        """Tell the observers without logging (e.g. ``routing-decision`` timings)."""
        for observer in self.observers:
            try:
                observer(what, call, agent, details)
            except Exception:  # an observer never breaks routing
                log.exception("observer %r failed on %s", observer, what)

    def decide(self, what, call, agent="-", **details):
        """A decision taken outside the router (call control): logged and observed alike."""
        self._decide(what, call, agent, **details)

    def _api(self, command):
        """An api command whose reply the router reads ("-ERR ..." when it failed)."""
        return self.esl.api_reply(command)

    def _fire(self, command):
        """An api command whose reply nothing waits for (answer, break, kill, transfer)."""
        self.esl.fire(command)

    def _sendmsg(self, raw):
        """A sendmsg (music on hold, announcements): nobody waits for its reply either."""
        self.esl.fire(raw)

    def _moh(self, call):
        queue = self.config.queue(call.queue)
        sound = queue.moh_sound
        loops = None if sound.startswith("local_stream://") else -1
        self._sendmsg(cmd.sendmsg_execute(call.uuid, "playback", sound, loops=loops))

    # -- callers ------------------------------------------------------------------------------

    def on_park(self, event):
        started = time.perf_counter()
        if event.get("variable_acd_role") == "agent":
            self.on_agent_park(event)
            return
        queue_name = event.get("variable_acd_queue")
        uuid = event.uuid
        if not queue_name:
            return
        if self.outbound is not None and self.outbound.owns(uuid):
            return  # a transferred caller waiting for the number it is transferred to
        if uuid in self.calls or uuid in self.legs:
            call = self.calls.get(uuid)
            if call is not None and call.after_transfer:
                self.on_transferred_park(call)
            return  # a repeated fact
        self.enqueue(uuid, queue_name, event.get("variable_acd_priority"),
                     event.get("Caller-Caller-ID-Number", ""), event.get("Caller-Caller-ID-Name", ""),
                     answered=event.get("Answer-State") == "answered",
                     skills=event.get("variable_acd_skills"), started=started,
                     data=call_data(event) or None,
                     destination=event.get("Caller-Destination-Number", ""))

    def ignore(self, event):
        """A parked call meant for another deployment (its ``acd_instance``): left alone,
        logged and counted once."""
        uuid = event.uuid
        if uuid in self.ignored:
            return
        if len(self.ignored) >= IGNORED_MEMORY:
            self.ignored.clear()
        self.ignored.add(uuid)
        self._decide("ignored", None, call_uuid=uuid,
                     queue=event.get("variable_acd_queue") or event.get("variable_acd_ivr"),
                     reason="other-instance", instance=event.get("variable_acd_instance") or "-")

    def enqueue(self, uuid, queue_name, priority, caller_number, caller_name, answered=True, *,
                skills=None, agent=None, data=None, started=None, enqueued_at=None,
                destination=""):
        """Queue a caller. ``skills``: the call's own requirements ("german:4,billing:2");
        ``agent``: only this agent may take the call (``queue_name`` None: its first queue);
        ``data``: extra call fields kept with the call (IVR path, collected digits);
        ``started``: perf_counter() when the fact arrived (decision timing); ``enqueued_at``:
        when the caller first called (a transfer keeps its wait)."""
        started = time.perf_counter() if started is None else started
        if queue_name is None and agent is not None:
            queues = self._queues_of(agent)
            queue_name = queues[0] if queues else None
        if not queue_name or not self.config.has_queue(queue_name):
            self._unknown_queue(uuid, queue_name)
            return None
        queue = self.config.queue(queue_name)
        try:
            priority = int(priority or 0)
        except ValueError:
            priority = 0
        now = self.clock()
        if not answered:
            self._fire(cmd.uuid_answer(uuid))
        place = now if enqueued_at is None else enqueued_at
        if (enqueued_at is None and queue.abandoned_resume_allowed
                and self.store.call(uuid) is None):
            place = self.store.abandoned_place(queue.name, caller_number) or now
        extra = {"skills": skills or "", "only_agent": agent or "",
                 "data": json.dumps(data or {}, sort_keys=True)}
        plain = not (skills or agent or queue.requirements or queue.tier_rules_apply
                     or queue.strategy in ("skills", "random", "ring-all"))
        position, enqueued_at, queue_since, peeked = self.store.enqueue_placed(
            uuid, queue.name, priority, now, peek=PEEK if plain else 0, owner=self.owner,
            ordered=not (skills or agent) and self.ordered(queue.name), enqueued_at=place,
            caller_number=caller_number, caller_name=caller_name, **extra)
        call = QueueCall(uuid, queue.name, enqueued_at, priority, caller_number, caller_name,
                         queue_since)
        call.skills, call.only_agent, call.data = skills or "", agent, dict(data or {})
        call.destination = destination or ""
        self.calls[uuid] = call
        call.attach(self.waiting)
        self._schedule_announcements(call, now)
        self._schedule_relax(call, now)
        self._moh(call)
        self._decide("enqueue", call, position=position, priority=priority,
                     **({"resumed_from": round(now - place, 1)} if place != now else {}))
        self.selection.peeked = peeked
        try:
            self.dispatch([queue.name])
        finally:
            self.selection.peeked = None
        self._timed("call_arrived", started)
        return call

    def _unknown_queue(self, uuid, queue_name):
        """A call for this deployment that names no configured queue: ``unknown-queue``."""
        action = self.config.unknown_queue
        log.error("call %s asks for unknown queue %r: %s %s", uuid, queue_name,
                  "transferring to" if action.kind == "transfer" else "hanging up with",
                  action.target)
        self._decide("unknown-queue", None, call_uuid=uuid, queue=queue_name,
                     action=action.kind, reason="unknown-queue")
        if action.kind == "transfer":
            self._transfer(uuid, action.target)
        else:
            self._fire(cmd.uuid_kill(uuid, action.target))

    def _transfer(self, uuid, target):
        """``uuid_transfer`` to "DEST [DIALPLAN [CONTEXT]]" (XML, default when left out)."""
        dest, *rest = target.split()
        self._fire(cmd.uuid_transfer(uuid, dest, *(rest + ["XML", "default"][len(rest):])))

    def _schedule_relax(self, call, now):
        """A timer for the queue's next relax step: the caller is searched for again the moment
        it is reached (not at the next tick)."""
        relax = [(step.after, step.requirements) for step in self.config.queue(call.queue).relax]
        delay = next_step_in(relax, now - call.queue_since)
        if delay is not None:
            gevent.spawn_later(delay, self.post, self._relaxed, call.uuid, call.queue,
                               call.queue_since)

    def _relaxed(self, uuid, queue_name, since):
        call = self.calls.get(uuid)
        if call is None or call.queue != queue_name or call.queue_since != since:
            return  # gone, or moved on (overflow): its new queue has its own timers
        now = self.clock()
        queue = self.config.queue(queue_name)
        step, requirements = self.selection.requirements(call, queue, now)
        self._decide("relax", call, step=step, req=format_skills(requirements) or "-")
        self._schedule_relax(call, now)
        if call.state is CallState.WAITING:
            self.dispatch([queue_name])

    def _timed(self, kind, started):
        self._observe("routing-decision", None, "-",
                      {"kind": kind, "seconds": time.perf_counter() - started})

    def _schedule_announcements(self, call, now):
        queue = self.config.queue(call.queue)
        call.next_announce = now + queue.announce_frequency if queue.announce_frequency else None
        call.next_position = now + queue.announce_position if queue.announce_position else None

    # -- dispatch -----------------------------------------------------------------------------

    def dispatch(self, queues=None):
        """Offer waiting callers of ``queues`` (all when None), best first across them (an agent
        serving two queues takes the longer-waiting caller). Once a caller found nobody, later
        callers of its queue who ask for no more (same tier level, same requirements, no agent
        of their own) are not searched again in this pass. Only waiting calls are looked at
        (:class:`Waiting`)."""
        now = self.clock()
        names = self.waiting.queues() if queues is None else set(queues)
        calls = [c for name in names for c in self.waiting.calls(name)]
        if len(calls) > 1:
            calls.sort(key=lambda c: c.score)
        exhausted = {}  # (queue, only agent, skills, relax step) -> highest level with nobody
        for call in calls:
            if call.state is not CallState.WAITING:
                continue
            if not self.window.allows(len(self.in_flight)):
                self._decide_held(call, now)
                return  # the switch has enough to do: the best-scored callers go first later
            queue = self.config.queue(call.queue)
            level = max_level(queue.tier_rules_apply, queue.tier_rule_wait_second,
                              now - call.queue_since)
            asks = (queue.name, call.only_agent, call.skills,
                    self.selection.requirements(call, queue, now)[0] if queue.relax else 0)
            top = exhausted.get(asks)
            if top is not None and (top is True or (level is not None and level <= top)):
                continue
            if not self._offer(call, queue, level, now):
                exhausted[asks] = True if level is None else level

    def _offer(self, call, queue, level, now):
        """Reserve agent(s) for ``call`` and ring them; False when nobody could be reserved."""
        if ringing_mode(queue.strategy) == RING_ALL:
            choices = self.selection.ring_all(call, queue, level, now)
        else:
            choice = self.selection.reserve_next(call, queue, level, now)
            choices = [choice] if choice else []
        if not choices:
            return False
        self._originate(call, queue, choices, now)
        if ringing_mode(queue.strategy) == PROGRESSIVE:
            call.next_progressive = now + queue.ring_timeout
        return True

    def _decide_held(self, call, now):
        """The originate window is full (acd.core.window): noted once per second at most."""
        if now - self.held_noted >= 1.0:
            self.held_noted = now
            self._decide("window-full", call, in_flight=len(self.in_flight),
                         window=self.window.size)

    def _ring_timeout(self, queue, agent_ids):
        timeouts = [queue.ring_timeout]
        for agent_id in agent_ids:
            agent = self.config.agent(agent_id)
            if agent.ring_timeout:
                timeouts.append(agent.ring_timeout)
        return max(timeouts) if len(agent_ids) > 1 else timeouts[-1]

    def _originate(self, call, queue, choices, now):
        agent_ids = [c.agent for c in choices]
        timeout = self._ring_timeout(queue, agent_ids)
        if ringing_mode(queue.strategy) == PROGRESSIVE:
            timeout *= PROGRESSIVE_STEPS
        legs = {c.leg: c.agent for c in choices}  # reserved and ringing (Selection)
        for leg, agent_id in legs.items():
            self.legs[leg] = (call.uuid, agent_id)
            call.offers[leg] = agent_id
            self.in_flight.add(leg)
        variables = {
            "origination_caller_id_name": cmd.display_name(call.caller_name),
            "origination_caller_id_number": cmd.phone_number(call.caller_number),
            "originate_timeout": int(timeout), "ignore_early_media": True,
            "acd_role": "agent", "acd_call": call.uuid, "acd_queue_name": call.queue,
            "sip_h_X-Acd-Call": call.uuid,  # links the softphone's call to the desktop's card
            "acd_instance": self.config.instance,  # None (no such variable) without one
            "local_var_clobber": True,  # an agent's own contact variables win over these
        }
        try:
            dial = cmd.dial_string([self._agent_leg(a, leg) for leg, a in legs.items()], variables)
        except cmd.UnsafeValue as exc:
            log.error("cannot ring %s: %s", ", ".join(agent_ids), exc)
            self.post(self.on_job, call.uuid, legs, None, str(exc), False)
            return
        call.state = CallState.OFFERING
        for choice in choices:
            self._decide("offer", call, choice.agent, leg=choice.leg, ring_timeout=int(timeout),
                         strategy=queue.strategy, **choice.short)
        try:
            job = self.esl.job(cmd.originate(dial))
        except (EslError, NotConnectedError) as exc:  # not connected: nothing rings
            self.post(self.on_job, call.uuid, legs, None, str(exc), False)
            return
        gevent.spawn(self._await_job, job, call.uuid, legs, timeout)

    def _agent_leg(self, agent_id, leg):
        agent = self.config.agent(agent_id)
        own, endpoint = cmd.parse_contact(agent.contact)
        signalling = cmd.AUTO_ANSWER if agent.auto_answer else {}
        return cmd.leg(endpoint, {**signalling, **own, "origination_uuid": leg,
                                  "acd_agent": agent_id})

    # -- channel facts ------------------------------------------------------------------------

    def on_hangup(self, event):
        uuid = event.uuid
        self.ignored.discard(uuid)
        cause = event.get("Hangup-Cause", "")
        now = self.clock()
        if uuid in self.legs:
            self.leg_causes[uuid] = cause
            call = self.calls.get(self.legs[uuid][0])
            if call is not None and call.agent_leg == uuid:
                self._end_bridge(call, now, "agent hung up", cause)
            return
        call = self.calls.get(uuid)
        if call is None:
            if self.outbound is not None:
                self.outbound.on_hangup(event)
            return
        if call.state is CallState.BRIDGED:
            self._end_bridge(call, now, "caller hung up", cause)
        else:
            self._cancel_offers(call)
            queue = self.config.queue(call.queue)
            self.store.remember_abandoned(call.queue, call.caller_number, call.enqueued_at,
                                          queue.discard_abandoned_after)
            self._finish(call, Result.ABANDONED, now)

    def on_unbridge(self, event):
        call = self.calls.get(event.uuid)
        if call is not None and call.state is CallState.BRIDGED:
            self._end_bridge(call, self.clock(), "unbridged")

    def on_hold(self, event):
        """CHANNEL_HOLD / CHANNEL_UNHOLD of an agent's leg (call control holds that leg)."""
        owner = self.legs.get(event.uuid)
        if owner is not None:
            call_uuid, agent = owner
        elif self.outbound is not None and event.uuid in self.outbound.calls:
            call_uuid, agent = event.uuid, self.outbound.calls[event.uuid].agent
        else:
            return
        held = event.name == "CHANNEL_HOLD"
        call = self.calls.get(call_uuid)
        if call is not None:
            if call.held == held:
                return  # a repeated fact
            call.held = held
        self._decide("held" if held else "unheld", call, agent, call_uuid=call_uuid)

    def on_dtmf(self, event):
        call = self.calls.get(event.uuid)
        if call is not None and call.state is CallState.BRIDGED and self.recordings:
            self.recordings.on_dtmf(call, event.get("DTMF-Digit", ""))
        if call is None or call.state not in (CallState.WAITING, CallState.OFFERING):
            return
        queue = self.config.queue(call.queue)
        if queue.exit_key and event.get("DTMF-Digit") == queue.exit_key:
            self._decide("exit-key", call, digit=queue.exit_key)
            self._leave(call, queue.exit_action, Result.EXITED, self.clock())

    def _cancel_offers(self, call):
        for leg in list(call.offers):
            self._fire(cmd.uuid_kill(leg, "ORIGINATOR_CANCEL"))

    def _end_bridge(self, call, now, why, cause=""):
        if call.state is not CallState.BRIDGED:
            return
        if call.transfer:
            self._transferred(call, now)
            return
        started = time.perf_counter()
        self.legs.pop(call.agent_leg, None)
        self.leg_causes.pop(call.agent_leg, None)
        changed, state, _ = self.store.release(call.agent, call.uuid, "ended", now)
        self._decide("call-ended", call, call.agent, why=why.replace(" ", "-"),
                     talk=round(now - (call.answered_at or now), 3), agent_state=state,
                     **({"cause": cause} if cause else {}))
        self._finish(call, Result.ANSWERED, now)
        queues = self._queues_of(call.agent)
        self.dispatch(queues)
        self.wake(queues)
        self._timed("agent_freed", started)

    def _finish(self, call, result, now):
        call.state = CallState.DONE
        self.calls.pop(call.uuid, None)
        self.store.end_call(call.uuid, call.queue)
        self._decide("done", call, call.agent or "-", result=result.value,
                     wait=round((call.answered_at or now) - call.enqueued_at, 3))

    def _queues_of(self, agent_id):
        return [q.name for q, _ in self.config.queues_of(agent_id)]

    # -- time ---------------------------------------------------------------------------------

    def tick(self):
        started = time.perf_counter()
        now = self.clock()
        ready = self.store.promote(now)
        for agent_id in ready:  # wrap-up or delay over: no decision, but observers (CTI) see it
            self._observe("agent-ready", None, agent_id, {})
        mine = self._my_agents()
        if now >= self.next_renew:
            self.store.renew(sorted(mine), now, LEASE)
            self.next_renew = now + RENEW_EVERY
        if now >= self.next_alive:
            self.store.mark_alive(self.owner, now + ALIVE_FOR)
            self.next_alive = now + ALIVE_EVERY
        for agent_id, call_uuid in self.store.expired_leases(now):
            if agent_id in mine:  # ours and alive: renew it now
                self.store.renew([agent_id], now, LEASE)
                continue
            self.store.release(agent_id, call_uuid, "lease_expired", now)
            self._decide("lease-expired", None, agent_id, call_uuid=call_uuid)
        for call in list(self.calls.values()):
            self._call_timers(call, now)
        self.window.tick(now, len(self.in_flight))
        self.dispatch()
        if ready:
            self.wake({q for agent_id in ready for q in self._queues_of(agent_id)})
            self._timed("agent_freed", started)
        return ready

    def _my_agents(self):
        """Agents this daemon is ringing or has in a call (a bridged agent's leg stays in legs)."""
        return {agent for _, agent in self.legs.values()} | {
            c.agent for c in self.calls.values() if c.state is CallState.BRIDGED}
