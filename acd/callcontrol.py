"""Call control for the CTI: hold, hang up, DTMF and transfers of a call an agent is in.

Theory of operation
-------------------
The HTTP layer calls these methods from its own greenlets. Whatever reads or changes the router's
calls runs in the daemon's one routing greenlet (``run_in_loop``: post and wait), so call control
never races the router; the FreeSWITCH command itself is then sent from the caller's greenlet,
and a command whose reply decides the answer (``uuid_hold``) is waited for there, never in the
routing loop. State changes are *facts* FreeSWITCH reports (CHANNEL_HOLD, CHANNEL_UNHOLD,
CHANNEL_HANGUP, CHANNEL_UNBRIDGE, CHANNEL_PARK): the router turns them into decisions, and the
metrics, the call records and the CTI event stream observe those -- no side door into Redis.

A call is named by its caller's channel uuid (inbound) or by the agent's leg (an outbound call
started with click-to-dial, acd.outbound). Only the daemon holding a call (its caller lives on
that daemon's FreeSWITCH) can act on it; another daemon answers :class:`CallElsewhere`.

* hold / unhold: ``uuid_hold [off] <agent leg>`` -- the agent's SIP leg, as the captures show
  (holding the loopback caller leg cannot be undone); the partner hears FreeSWITCH's hold music.
* hang up: ``uuid_kill <caller>``; the agent's leg follows.
* DTMF: ``uuid_recv_dtmf <agent leg>``: the digits as if the agent's phone sent them; FreeSWITCH
  passes them to the other side of the bridge.
* transfer to a queue or to an agent: the caller gets ``park_after_bridge=true`` and the agent's
  leg is hung up (both on the caller's command connection, in that order). When the bridge ends
  the router puts the agent into wrap-up and the caller back into a queue with its data and its
  original arrival time (acd.router ``_transferred``); an agent transfer is offered to that agent
  only, and falls back to the original queue when it is not answered.
* transfer to a number: the same, then the caller is offered to an outside leg
  (acd.outbound), back to its queue if the number does not answer.
"""

import gevent
import gevent.event

from acd.core.model import CallState
from acd.esl import commands as cmd

#: Seconds an HTTP request waits for the routing loop to take its action.
LOOP_TIMEOUT = 10.0


class ControlError(Exception):
    """A call-control request that cannot be done; ``status`` is its HTTP status."""
    status = 409


class CallNotFound(ControlError, LookupError):
    status = 404


class CallElsewhere(ControlError):
    """The call is held by another daemon (another FreeSWITCH)."""
    status = 409


class Refused(ControlError, ValueError):
    """The request names something that cannot be (a number the dial pattern refuses...)."""
    status = 422


class SwitchError(ControlError):
    """FreeSWITCH refused the command."""
    status = 502


def run_in_loop(post, fn, *args, timeout=LOOP_TIMEOUT):
    """Run ``fn(*args)`` in the routing greenlet (``post``) and return its result (or raise)."""
    done = gevent.event.AsyncResult()

    def job():
        try:
            done.set(fn(*args))
        except BaseException as exc:  # handed to the waiting request
            done.set_exception(exc)
    post(job)
    return done.get(timeout=timeout)


class CallControl:
    def __init__(self, config, router, store, esl, post, outbound=None):
        self.config = config
        self.router = router
        self.store = store
        self.esl = esl
        self.post = post
        self.outbound = outbound    # acd.outbound.Outbound (click-to-dial calls)
        self.recordings = None      # acd.recording.Recordings (set by the daemon)

    def _loop(self, fn, *args):
        return run_in_loop(self.post, fn, *args)

    # -- finding a call -----------------------------------------------------------------------

    def agent_of(self, uuid):
        """The agent in call ``uuid`` (inbound bridged or ringing, or outbound), or None."""
        call = self.router.calls.get(uuid)
        if call is not None:
            return call.agent
        if self.outbound is not None and uuid in self.outbound.calls:
            return self.outbound.calls[uuid].agent
        stored = self.store.call(uuid) if cmd_uuid_ok(uuid) else None
        return (stored or {}).get("agent") or None

    def _bridged(self, uuid):
        """(caller uuid, agent leg, agent) of a bridged call this daemon holds."""
        call = self.router.calls.get(uuid)
        if call is None:
            if self.outbound is not None and uuid in self.outbound.calls:
                return self.outbound.bridged(uuid)
            self._not_here(uuid)
        if call.state is not CallState.BRIDGED or call.transfer:
            raise ControlError(f"call {uuid} is not in a conversation with an agent "
                               f"({'being transferred' if call.transfer else call.state.value})")
        return call.uuid, call.agent_leg, call.agent

    def _not_here(self, uuid):
        stored = self.store.call(uuid) if cmd_uuid_ok(uuid) else None
        if stored and stored.get("owner") and stored.get("owner") != self.router.owner:
            raise CallElsewhere(f"call {uuid} is handled by acd {stored['owner']}; send the "
                                "request to that daemon")
        raise CallNotFound(f"no call {uuid}")

    # -- hold, hang up, DTMF ------------------------------------------------------------------

    def hold(self, uuid, on=True):
        """Put the agent's side of the call on hold (the caller hears hold music) or take it
        off; the CTI stream reports it when FreeSWITCH does (CHANNEL_HOLD / CHANNEL_UNHOLD)."""
        caller, leg, _agent = self._loop(self._bridged, uuid)
        reply = self.esl.api_reply(cmd.uuid_hold(leg, off=not on), call=caller).strip()
        if reply.startswith("+OK"):
            return {"uuid": uuid, "held": on}
        if "Operation failed" in reply:
            raise ControlError(f"call {uuid} is {'already' if on else 'not'} on hold")
        raise SwitchError(f"FreeSWITCH refused uuid_hold: {reply}")

    def hangup(self, uuid):
        """End the call for both sides."""
        caller, leg, _agent = self._loop(self._bridged, uuid)
        self.esl.fire(cmd.uuid_kill(caller, "NORMAL_CLEARING"))
        return {"uuid": uuid, "hangup": True}

    def dtmf(self, uuid, digits):
        """Send DTMF to the other side, as if the agent's phone sent them."""
        digits = str(digits)
        if not digits or len(digits) > 32 or any(d not in "0123456789*#ABCD" for d in digits):
            raise Refused("digits: expected 1 to 32 of 0-9 * # A-D")
        caller, leg, _agent = self._loop(self._bridged, uuid)
        reply = self.esl.api_reply(cmd.uuid_recv_dtmf(leg, digits), call=caller).strip()
        if not reply.startswith("+OK"):
            raise SwitchError(f"FreeSWITCH refused the digits: {reply}")
        return {"uuid": uuid, "digits": digits}

    # -- recording (acd.recording) ------------------------------------------------------------

    def recording(self, uuid, action, by):
        """Stop (a revocation: never restarted in this call), pause or resume the recording."""
        if action not in ("stop", "pause", "resume"):
            raise Refused(f"unknown recording action {action!r}")
        return self._loop(self._recording, uuid, action, by)

    def _recording(self, uuid, action, by):
        self._bridged(uuid)
        if self.recordings is None:
            raise ControlError("this daemon does not record calls")
        try:
            return self.recordings.control(uuid, action, by)
        except Exception as exc:
            if getattr(exc, "status", None) == 409:  # acd.recording.NotNow
                raise ControlError(str(exc)) from None
            raise

    # -- transfers ----------------------------------------------------------------------------

    def transfer(self, uuid, queue=None, agent=None, number=None):
        """Blind transfer of the caller: to a queue (it keeps its data and original wait), to
        one agent (back to its queue if not answered) or to a number (dial pattern and
        template; back to its queue if the number does not answer). The agent goes to wrap-up."""
        given = [(k, v) for k, v in (("queue", queue), ("agent", agent), ("number", number))
                 if v is not None]
        if len(given) != 1:
            raise Refused("expected exactly one of queue, agent, number")
        kind, target = given[0]
        target = str(target)
        if kind == "queue" and not self.config.has_queue(target):
            raise Refused(f"no queue {target!r}")
        if kind == "agent" and not any(a.id == target for a in self.config.agents):
            raise Refused(f"no agent {target!r}")
        if kind == "number":
            target = self.outbound.check_number(target)
        caller, leg = self._loop(self._start_transfer, uuid, kind, target)
        self.esl.fire(cmd.uuid_setvar(caller, "park_after_bridge", "true"), call=caller)
        self.esl.fire(cmd.uuid_kill(leg, "NORMAL_CLEARING"), call=caller)
        return {"uuid": uuid, "transfer": {kind: target}}

    def _start_transfer(self, uuid, kind, target):
        caller, leg, agent = self._bridged(uuid)
        if self.outbound is not None and uuid in self.outbound.calls:
            raise ControlError("an outbound call cannot be transferred yet; hang up instead")
        if kind == "agent" and target == agent:
            raise Refused(f"agent {target} is in this call already")
        call = self.router.calls[caller]
        call.transfer = (kind, target)
        self.router.decide("transfer", call, agent, to=f"{kind}:{target}")
        return caller, leg


def cmd_uuid_ok(value):
    """Whether ``value`` is shaped like a call uuid (so it can name a Redis key)."""
    try:
        cmd.check_uuid(value)
    except cmd.UnsafeValue:
        return False
    return True
