"""Calls: ``GET /api/v1/calls/{uuid}`` and its routing explanation; the place for call control.

A call is named by its caller's channel UUID. Every resource here starts with
:func:`acd.http.guards.require_call`: supervisors and admins may act on any call, an agent only
on a call it is in. Call control (hangup, hold, transfer, ...) follows the same pattern::

    class CallHangup(Resource):
        def on_post(self, req, resp, uuid):
            require_call(req, uuid, self.desk.views)          # 403: not the agent's call
            send(resp, 200, self.desk.calls.hangup(uuid, by=principal(req)))

plus a line in ``acd.http.server.ROUTES`` (``("/api/v1/calls/{uuid}/hangup", CallHangup)``), an
entry under ``paths`` in ``acd/http/openapi.yaml``, and rows in the authorization matrix
(tests/test_cti_access.py).
"""

from acd.callcontrol import ControlError
from acd.http.app import HttpError, read_json, send
from acd.http.guards import principal, require_agent, require_call, require_staff
from acd.http.resources import Resource


class Call(Resource):
    """The call as acd holds it (queue, caller, state, agent, IVR path, call data)."""

    def on_get(self, req, resp, uuid):
        require_call(req, uuid, self.desk.views, integration=True)
        view = self.desk.views.call(uuid)
        if view is None:
            raise HttpError(404, f"unknown call {uuid!r}")
        send(resp, 200, view)


class CallRouting(Resource):
    """Why each offer of the call went where it went (supervisors and admins)."""

    def on_get(self, req, resp, uuid):
        require_staff(req, "a call's routing")
        view = self.service.call_routing(uuid)
        if view is None:
            raise HttpError(404, f"no routing decisions known for call {uuid!r}")
        send(resp, 200, view)



# -- call control (acd.callcontrol, acd.outbound) --------------------------------------------------

def _control(desk):
    if getattr(desk, "control", None) is None:
        raise HttpError(503, "call control needs the daemon (acd run)")
    return desk.control


def _object(req):
    body = read_json(req) if req.content_length or req.env.get("wsgi.input_terminated") else {}
    if not isinstance(body, dict):
        raise HttpError(422, "expected a JSON object")
    return body


def _acting(fn, *args, **kw):
    """Run a call-control action; its refusals become their HTTP answers."""
    try:
        return fn(*args, **kw)
    except ControlError as exc:
        raise HttpError(exc.status, str(exc)) from None


class CallHangup(Resource):
    def on_post(self, req, resp, uuid):
        require_call(req, uuid, self.desk.views)
        send(resp, 200, _acting(_control(self.desk).hangup, uuid))


class CallHold(Resource):
    on = True

    def on_post(self, req, resp, uuid):
        require_call(req, uuid, self.desk.views)
        send(resp, 200, _acting(_control(self.desk).hold, uuid, self.on))


class CallUnhold(CallHold):
    on = False


class CallDtmf(Resource):
    def on_post(self, req, resp, uuid):
        require_call(req, uuid, self.desk.views)
        digits = _object(req).get("digits")
        if not isinstance(digits, str):
            raise HttpError(422, 'expected {"digits": "12#"}')
        send(resp, 200, _acting(_control(self.desk).dtmf, uuid, digits))


class CallTransfer(Resource):
    def on_post(self, req, resp, uuid):
        require_call(req, uuid, self.desk.views)
        body = _object(req)
        given = {k: body[k] for k in ("queue", "agent", "number") if k in body}
        if len(given) != 1 or set(body) - set(given) or not isinstance(
                next(iter(given.values())), str):
            raise HttpError(422, 'expected exactly one of {"queue": NAME}, {"agent": ID}, '
                                 '{"number": "+49..."}')
        send(resp, 200, _acting(_control(self.desk).transfer, uuid, **given))


class Calls(Resource):
    """POST /api/v1/calls: click-to-dial for an agent (itself; staff for any agent)."""

    def on_post(self, req, resp):
        body = _object(req)
        agent, to = body.get("agent"), body.get("to")
        if not isinstance(agent, str) or not isinstance(to, str) or set(body) - {"agent", "to"}:
            raise HttpError(422, 'expected {"agent": ID, "to": "+4930123456"}')
        require_agent(req, agent, self.service.has_agent(agent), integration=True)
        control = _control(self.desk)
        send(resp, 201, _acting(control.outbound.dial, agent, to))


class CallListen(Resource):
    """listen / whisper / barge: a supervisor's phone joins the agent's call (eavesdrop)."""
    mode = "listen"

    def on_post(self, req, resp, uuid):
        require_staff(req, "listening to calls")
        contact = _object(req).get("contact")
        if not isinstance(contact, str):
            raise HttpError(422, 'expected {"contact": "user/2000"}')
        control = _control(self.desk)
        who = principal(req)
        send(resp, 200, _acting(control.outbound.eavesdrop, control, uuid, contact, self.mode,
                                who.agent or who.role))


class CallWhisper(CallListen):
    mode = "whisper"


class CallBarge(CallListen):
    mode = "barge"


class CallRecordingStop(Resource):
    """Stop the call's recording: a revocation, never restarted in this call; the file is
    deleted with ``on-revoke: delete`` (acd.recording)."""
    action = "stop"

    def on_post(self, req, resp, uuid):
        require_call(req, uuid, self.desk.views)
        who = principal(req)
        send(resp, 200, _acting(_control(self.desk).recording, uuid, self.action,
                                who.agent or who.role))


class CallRecordingPause(CallRecordingStop):
    """Pause (``uuid_record mask``): silent in the file until resumed, e.g. for card numbers."""
    action = "pause"


class CallRecordingResume(CallRecordingStop):
    action = "resume"
