"""Recovery: after a restart, an ESL reconnect or a Redis that came back empty.

Theory of operation
-------------------
FreeSWITCH's ``show channels as json`` is the truth about which calls exist; Redis remembers
which of them this daemon owned, where they stood in their queue and which agent each was
talking to. :func:`resync` puts the router back in line with both:

* a caller of ours that is still there is resumed with its place and wait (bridged calls stay
  bridged), one that is gone is closed (its agent freed);
* a call we still hold but Redis forgot (it restarted empty) is written back;
* every agent in a call of ours, talking or ringing, is held again in Redis (``hold.lua``): a
  failover or a restart from an older snapshot may have lost its reservation, and another
  daemon may even have reserved it since (a talking agent is taken back; a ringing offer whose
  agent another call took is withdrawn);
* an agent who answered an offer of ours that was never acted upon (Redis was away when the
  answer came) is bridged now;
* an agent reserved by us whose phone still rings for an originate whose result we lost has that
  leg cancelled and is freed;
* a parked caller with ``acd_queue`` that arrived while we were away is adopted.
"""

import json
import logging

from acd.core.model import CallState, Result
from acd.esl import commands as cmd
from acd.calls import QueueCall
from acd.router import LEASE
from acd.store.daemons import HELD, REFUSED

log = logging.getLogger("acd.recovery")


class Recovery:
    def __init__(self, router):
        self.router = router

    def resync(self, channels):
        """Rebuild this daemon's view from FreeSWITCH's live channels (``{uuid: row}`` of ``show
        channels as json``) and Redis: resume queued and bridged callers with their place and
        wait, free agents whose offer or call died while we were away, adopt parked callers we
        never saw."""
        now = self.router.clock()
        for uuid in self.router.store.live_calls():
            stored = self.router.store.call(uuid)
            if stored and stored.get("owner") == self.router.owner:
                self._resync_call(uuid, stored, channels, now)
        for call in list(self.router.calls.values()):
            if call.uuid not in channels:  # its hangup happened while we could not see it
                if call.state is CallState.BRIDGED:
                    self.router._end_bridge(call, now, "gone while away")
                else:
                    self.router._finish(call, Result.ABANDONED, now)
            elif self.router.store.call(call.uuid) is None:  # Redis lost it (restarted empty)
                self._restore(call, now)
        for call in list(self.router.calls.values()):
            self._hold_agents(call, channels, now)
        for agent in self.router.store.agents():
            if agent.get("owner") == self.router.owner and agent.get("call"):
                self._resync_agent(agent, channels, now)
        for uuid, row in channels.items():
            if uuid not in self.router.calls and uuid not in self.router.legs and row.get("application") == "park":
                self._adopt(uuid, row)
        self.router.dispatch()

    def _resync_call(self, uuid, stored, channels, now):
        queue = stored.get("queue", "")
        if uuid not in channels:
            if stored.get("state") == "bridged" and stored.get("agent"):
                self.router.store.release(stored["agent"], uuid, "ended", now)
            self.router.store.end_call(uuid, queue)
            self.router._decide("gone-while-away", None, stored.get("agent", "-"),
                                call_uuid=uuid, queue=queue)
            return
        if uuid in self.router.calls or not self.router.config.has_queue(queue):
            return
        call = QueueCall(uuid, queue, stored["enqueued_at"], int(stored.get("priority") or 0),
                         stored.get("caller_number", ""), stored.get("caller_name", ""),
                         stored.get("queue_since"))
        call.skills, call.only_agent = stored.get("skills", ""), stored.get("only_agent") or None
        try:
            call.data = json.loads(stored.get("data") or "{}")
        except ValueError:
            call.data = {}
        leg = stored.get("agent_leg", "")
        if stored.get("state") == "bridged" and leg in channels:
            call.state = CallState.BRIDGED
            call.agent, call.agent_leg = stored.get("agent"), leg
            call.answered_at = stored.get("answered_at")
            self.router.legs[leg] = (uuid, call.agent)
        self.router.calls[uuid] = call
        call.attach(self.router.waiting)
        if call.state is CallState.WAITING:
            self.router.ready_again(call)
        self.router._schedule_announcements(call, now)
        self.router._schedule_relax(call, now)
        self.router._decide("resume", call, call.agent or "-", state=call.state.value,
                     waited=round(now - call.enqueued_at, 1))

    def _restore(self, call, now):
        """Put a call we still hold back into a Redis that forgot it, with its old place; a
        bridged call's agent is marked in-call again so nobody offers it another call."""
        self.router.store.enqueue(call.uuid, call.queue, call.priority, now, owner=self.router.owner,
                           enqueued_at=call.enqueued_at, caller_number=call.caller_number,
                           caller_name=call.caller_name, skills=call.skills,
                           only_agent=call.only_agent or "",
                           data=json.dumps(call.data, sort_keys=True))
        self.router._decide("restored", call, call.agent or "-", state=call.state.value)

    def _hold_agents(self, call, channels, now):
        """Say again which agents this call has: Redis may have lost it (a failover promoted a
        replica that lacked the last writes; a restart loaded an older snapshot) and even given
        such an agent to another caller since. A bridged agent is talking with us: it is taken
        back from any other call (whose offer is withdrawn when the agent answers it). A
        ringing offer whose agent another call has taken meanwhile is withdrawn here."""
        store, router = self.router.store, self.router
        if call.state is CallState.BRIDGED and call.agent:
            if (store.call(call.uuid) or {}).get("state") != "bridged":
                store.leave_queue(call.uuid, call.queue)
                store.update_call(call.uuid, state="bridged", agent=call.agent,
                                  agent_leg=call.agent_leg, answered_at=call.answered_at or now)
            self._held(call, call.agent, store.hold(
                call.agent, call.uuid, call.agent_leg, "in-call", router.owner, now, LEASE,
                take=True, answered_at=call.answered_at))
        for leg, agent_id in list(call.offers.items()):
            answered = leg == call.bridging   # its bridge is under way: it talks with us
            held = store.hold(agent_id, call.uuid, leg, "ringing", router.owner, now, LEASE,
                              take=answered)
            if held[0] == REFUSED:
                router._taken_meanwhile(call, leg, agent_id, held[1])
                continue
            self._held(call, agent_id, held)
            row = channels.get(leg) or {}
            if not answered and row.get("application") == "park" and row.get(
                    "callstate") == "ACTIVE":   # it answered, and we did not act on it (Redis
                router._answered(call.uuid, call, leg, agent_id, now)   # was away): bridge now

    def _held(self, call, agent_id, held):
        result, other = held
        if result == REFUSED:
            log.warning("agent %s of call %s is unknown to Redis", agent_id, call.uuid)
        elif result != HELD:
            log.warning("Redis had lost agent %s's place in call %s%s: held again", agent_id,
                        call.uuid, f" (it had given it to call {other})" if other else "")
            self.router._decide("agent-held-again", call, agent_id, taken_from=other or "-")

    def _resync_agent(self, agent, channels, now):
        leg, call_uuid = agent.get("leg", ""), agent["call"]
        if leg and leg in self.router.legs:
            return  # tracked: a resumed bridge
        outbound = self.router.outbound
        if agent.get("direction") == "outbound" and outbound is not None:
            if call_uuid in outbound.calls:
                return
            if call_uuid in channels:  # a click-to-dial call goes on: follow it again
                outbound.resume(agent, channels[call_uuid], now)
                return
        if leg and leg in channels:  # still ringing, but its originate's result is lost to us
            self.router._api(cmd.uuid_kill(leg, "ORIGINATOR_CANCEL"))
        outcome = "ended" if agent.get("state") == "in-call" else "cancelled"
        self.router.store.release(agent["id"], call_uuid, outcome, now)
        self.router._decide("released-after-restart", None, agent["id"], call_uuid=call_uuid,
                            outcome=outcome)

    def _adopt(self, uuid, row):
        queue = self.router._api(cmd.uuid_getvar(uuid, "acd_queue"))
        if not queue or queue.startswith("-ERR") or queue == "_undef_":
            return
        if self.router._api(cmd.uuid_getvar(uuid, "acd_role")) == "agent":
            return
        instance = self.router._api(cmd.uuid_getvar(uuid, "acd_instance"))
        if not self.router.config.serves(None if instance == "_undef_" else instance):
            return  # another deployment's caller (an -ERR: gone, or unknowable: leave it)
        priority = self.router._api(cmd.uuid_getvar(uuid, "acd_priority"))
        skills = self.router._api(cmd.uuid_getvar(uuid, "acd_skills"))
        self.router.enqueue(uuid, queue, "0" if priority == "_undef_" else priority,
                     row.get("cid_num", ""), row.get("cid_name", ""),
                     answered=row.get("callstate") == "ACTIVE",
                     skills=None if skills == "_undef_" or skills.startswith("-ERR") else skills)
