"""Calls acd starts itself: click-to-dial, a caller transferred to a number, a supervisor's
listen / whisper / barge.

Theory of operation
-------------------
**Click-to-dial** (``POST /api/v1/calls``) is FreeSWITCH's one-shot form, as the click_to_dial
capture shows: ``originate {...}<agent's phone> &bridge({...}<dial template>)``. The agent's phone
rings first (showing the number being dialled); when it answers the job says ``+OK <agent leg>``
and the bridge application dials the customer with the centre's caller ID; CHANNEL_BRIDGE on the
agent's leg means the customer answered; the agent leg's CHANNEL_HANGUP ends the call (when the
customer never answered, the bridge's ``DIALSTATUS`` / ``last_bridge_hangup_cause`` ride on it and
say why -- the leg's own cause is the customer's, not the agent's). The agent is claimed in Redis
(``claim_outbound.lua``) from the moment its phone rings: no inbound offer reaches it until the
call ends and its wrap-up is over. The call is named by the agent's leg uuid.

**Transfer to a number** (acd.callcontrol): the caller parked at the end of its bridge with the
agent; acd rings the number (``&park()``), then bridges the caller to it, after setting
``hangup_after_bridge`` so the caller hangs up when that call ends. A number that does not answer
sends the caller back to its queue with its wait.

**Listen / whisper / barge**: ``originate {...}<supervisor's phone> &eavesdrop(<agent leg>)``.
Whisper sets ``eavesdrop_whisper_bleg`` (with the agent's leg as target, FreeSWITCH mixes the
supervisor into what the agent hears only); barge sets both whisper variables (caller and agent
hear). The supervisor can change mode from the phone (1, 2, 3, 0) and leaves with ``*``.

Numbers are checked against ``cti.dial-pattern`` before anything reaches FreeSWITCH and go into
the dial template as the whole number only; values are escaped by acd.esl.commands.
"""

import logging
import re
import uuid as uuidlib

import gevent

from acd.callcontrol import ControlError, Refused, run_in_loop
from acd.esl import commands as cmd

log = logging.getLogger("acd.outbound")

#: Seconds the agent's phone rings for a click-to-dial call (unless the agent has its own
#: ring-timeout), and a number for a transfer.
RING_TIMEOUT = 30
MODES = ("listen", "whisper", "barge")
_WHISPER = {"listen": {}, "whisper": {"eavesdrop_whisper_bleg": True},
            "barge": {"eavesdrop_whisper_aleg": True, "eavesdrop_whisper_bleg": True}}


class OutboundCall:
    def __init__(self, uuid, agent, number, started_at):
        self.uuid = uuid            # the agent's leg: the call's name
        self.agent = agent
        self.number = number
        self.started_at = started_at
        self.answered_at = None     # the agent answered
        self.connected_at = None    # the customer answered (CHANNEL_BRIDGE)
        self.customer_leg = None


class Outbound:
    def __init__(self, config, store, esl, clock, post, owner, router):
        self.config = config
        self.router = router
        self.store = store
        self.esl = esl
        self.clock = clock
        self.post = post
        self.owner = owner
        self.calls = {}         # agent leg -> OutboundCall (click-to-dial)
        self.transfers = {}     # caller uuid -> (outside leg, the caller's QueueCall, its queue)

    # -- numbers ------------------------------------------------------------------------------

    def check_number(self, number):
        """The number as dialled, or :class:`Refused` when ``cti.dial-pattern`` refuses it."""
        number = str(number).strip()
        if not re.fullmatch(self.config.cti.dial_pattern, number):
            raise Refused(f"number {number[:40]!r} does not match cti.dial-pattern")
        return number

    def _customer(self, number, caller_id, **variables):
        """The dial template filled in, as a dial string with the caller ID shown."""
        endpoint = self.config.cti.dial_template.replace("{number}", number)
        variables["origination_caller_id_number"] = cmd.phone_number(caller_id) or None
        return cmd.dial_string([endpoint], variables)

    # -- click-to-dial ------------------------------------------------------------------------

    def dial(self, agent_id, number):
        """Ring the agent's phone, then the number; returns the call's uuid (the agent's leg)."""
        number = self.check_number(number)
        if not any(a.id == agent_id for a in self.config.agents):
            raise Refused(f"no agent {agent_id!r}")
        return run_in_loop(self.post, self._dial, agent_id, number)

    def _dial(self, agent_id, number):
        leg, now = str(uuidlib.uuid4()), self.clock()
        if not self.store.claim_outbound(agent_id, leg, self.owner, now, self.router.lease,
                                         number):
            raise ControlError(f"agent {agent_id} is in a call")
        agent = self.config.agent(agent_id)
        own, endpoint = cmd.parse_contact(agent.contact)
        signalling = cmd.AUTO_ANSWER if agent.auto_answer else {}   # the agent clicked Dial
        agent_leg = cmd.leg(endpoint, {**signalling, **own, "origination_uuid": leg,
                                       "acd_agent": agent_id})
        dial = cmd.dial_string([agent_leg], {
            "origination_caller_id_number": number, "origination_caller_id_name": number,
            "originate_timeout": int(agent.ring_timeout or RING_TIMEOUT),
            "acd_role": "outbound", "acd_call": leg, "sip_h_X-Acd-Call": leg,
            "acd_dialed": number, "acd_instance": self.config.instance,
            "local_var_clobber": True})
        customer = self._customer(number, self.config.cti.caller_id_number)
        call = self.calls[leg] = OutboundCall(leg, agent_id, number, now)
        self.router.decide("dial", None, agent_id, call_uuid=leg, number=number)
        job = self.esl.job(cmd.originate(dial, "bridge", customer))
        gevent.spawn(self._await, job, self._dial_result, leg)
        return {"uuid": call.uuid, "agent": agent_id, "to": number}

    def _await(self, job, then, *args):
        try:
            result = job.get(timeout=RING_TIMEOUT + 60)
        except gevent.Timeout:
            result = None
        except Exception as exc:  # refused, or the connection dropped
            log.warning("outbound originate failed: %s", exc)
            result = None
        self.post(then, *args, result)

    def _dial_result(self, leg, result):
        call = self.calls.get(leg)
        if call is None:
            return
        if result is not None and result.ok:
            call.answered_at = self.clock()
            self.store.answered(call.agent, leg, call.answered_at, self.router.lease)
            self.router.decide("dial-answered", None, call.agent, call_uuid=leg)
            return
        cause = result.cause if result is not None else "NO_RESULT"
        self._ended(call, cause, "agent-not-reached")

    def on_bridge(self, event):
        call = self.calls.get(event.get("Bridge-A-Unique-ID", ""))
        if call is not None and call.connected_at is None:
            call.connected_at = self.clock()
            call.customer_leg = event.get("Bridge-B-Unique-ID", "")
            self.router.decide("dial-connected", None, call.agent, call_uuid=call.uuid,
                               number=call.number)

    def on_hangup(self, event):
        """CHANNEL_HANGUP of an outbound call's agent leg, or of a caller being transferred."""
        uuid = event.uuid
        call = self.calls.get(uuid)
        if call is not None:
            cause = event.get("Hangup-Cause", "")
            if call.connected_at is None:  # why the customer was not reached, if it was tried
                cause = (event.get("variable_last_bridge_hangup_cause")
                         or event.get("variable_originate_disposition") or cause)
            self._ended(call, cause, "hangup")
            return True
        pending = self.transfers.pop(uuid, None)
        if pending is not None:
            self.esl.fire(cmd.uuid_kill(pending[0], "ORIGINATOR_CANCEL"))
            self.router.decide("transfer-abandoned", None, "-", call_uuid=uuid)
            return True
        return False

    def _ended(self, call, cause, why):
        self.calls.pop(call.uuid, None)
        now = self.clock()
        self.store.release(call.agent, call.uuid, "ended" if call.answered_at else "cancelled",
                           now)
        self.router.decide("dial-ended", None, call.agent, call_uuid=call.uuid, cause=cause,
                           why=why, number=call.number,
                           talk=round(now - call.connected_at, 3) if call.connected_at else 0,
                           started_at=call.started_at, connected_at=call.connected_at,
                           ended_at=now, customer_leg=call.customer_leg or "", leg=call.uuid)
        self.router.dispatch(self.router._queues_of(call.agent))

    def resume(self, agent, row, now):
        """After a restart: an outbound call of ours still up on FreeSWITCH (``show channels``
        row of the agent's leg) is followed again -- its end releases the agent."""
        call = OutboundCall(agent["call"], agent["id"], agent.get("dialed", ""),
                            float(agent.get("offered_at") or now))
        if agent.get("state") == "in-call":
            call.answered_at = float(agent.get("answered_at") or now)
            if row.get("callstate") == "ACTIVE":
                call.connected_at = call.answered_at   # bridged or talking: treat as connected
        self.calls[call.uuid] = call
        self.router.decide("dial-resumed", None, call.agent, leg=call.uuid)

    def bridged(self, uuid):
        """(uuid, agent leg, agent) of a connected outbound call, for call control."""
        call = self.calls[uuid]
        if call.connected_at is None:
            raise ControlError(f"call {uuid} is not connected yet")
        return call.uuid, call.uuid, call.agent

    # -- transfer to a number -----------------------------------------------------------------

    def transfer(self, call, number, queue):
        """Ring ``number`` for the (transferred) caller of ``call``; bridge it when it answers,
        or put the caller back into ``queue``."""
        leg = str(uuidlib.uuid4())
        self.transfers[call.uuid] = (leg, call, queue)
        dial = self._customer(number, call.caller_number, origination_uuid=leg,
                              origination_caller_id_name=cmd.display_name(call.caller_name),
                              acd_role="transfer", acd_call=call.uuid,
                              originate_timeout=RING_TIMEOUT)
        self.router.decide("transfer-dial", call, "-", number=number)
        self.router._moh(call)  # while the number rings (the caller parks after its bridge)
        job = self.esl.job(cmd.originate(dial))
        gevent.spawn(self._await, job, self._transfer_result, call.uuid)

    def owns(self, uuid):
        """Whether ``uuid`` is a caller waiting for its transfer to a number."""
        return uuid in self.transfers

    def _transfer_result(self, caller, result):
        pending = self.transfers.get(caller)
        if pending is None:
            return  # the caller hung up meanwhile (its leg was cancelled)
        leg, call, queue = pending
        if result is None or not result.ok:
            self.transfers.pop(caller, None)
            self.router.decide("transfer-failed", call, "-",
                               cause=result.cause if result is not None else "NO_RESULT")
            self.router.requeue(call, queue)
            return
        gevent.spawn(self._connect, caller, leg)

    def _connect(self, caller, leg):
        """Off the loop: the caller hangs up when this last bridge ends, then the bridge."""
        self.esl.api_reply(cmd.uuid_setvar(caller, "hangup_after_bridge", "true"), call=caller)
        self.esl.api_reply(cmd.uuid_unsetvar(caller, "park_after_bridge"), call=caller)
        job = self.esl.job(cmd.uuid_bridge(caller, leg))
        try:
            reply = job.get(timeout=60).body
        except Exception as exc:  # refused, or the connection dropped
            reply = f"-ERR {exc}"
        self.post(self._connected, caller, reply)

    def _connected(self, caller, reply):
        pending = self.transfers.pop(caller, None)
        if pending is None:
            return
        leg, call, queue = pending
        if reply.startswith("+OK"):
            self.router.decide("transfer-connected", call, "-", leg=leg)
            return
        self.esl.fire(cmd.uuid_kill(leg, "NORMAL_CLEARING"))
        self.router.decide("transfer-failed", call, "-", cause=reply.strip()[:60])
        self.router.requeue(call, queue)

    # -- listen, whisper, barge ---------------------------------------------------------------

    def eavesdrop(self, control, uuid, contact, mode, who):
        """Ring ``contact`` (a dial string such as user/2000) and let it hear the agent's call."""
        if mode not in MODES:
            raise Refused(f"mode: expected one of {', '.join(MODES)}")
        try:
            own, endpoint = cmd.parse_contact(str(contact))
        except cmd.UnsafeValue as exc:
            raise Refused(f"contact: {exc}") from None
        leg = str(uuidlib.uuid4())
        agent_leg = run_in_loop(self.post, self._eavesdrop, control, uuid, mode, who, leg)
        dial = cmd.dial_string([cmd.leg(endpoint, dict(own, origination_uuid=leg))], dict(
            {"origination_caller_id_name": cmd.display_name(f"{mode} {uuid[:8]}"),
             "originate_timeout": RING_TIMEOUT, "acd_role": "supervisor", "acd_call": uuid},
            **_WHISPER[mode]))
        self.esl.fire(cmd.originate(dial, "eavesdrop", agent_leg))
        return {"uuid": uuid, "mode": mode, "leg": leg}

    def _eavesdrop(self, control, uuid, mode, who, leg):
        caller, agent_leg, agent = control._bridged(uuid)
        self.router.decide("eavesdrop", self.router.calls.get(caller), agent, mode=mode,
                           by=str(who)[:40], leg=leg)
        return agent_leg
