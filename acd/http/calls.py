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

from acd.http.app import HttpError, send
from acd.http.guards import require_call, require_staff
from acd.http.resources import Resource


class Call(Resource):
    """The call as acd holds it (queue, caller, state, agent, IVR path, call data)."""

    def on_get(self, req, resp, uuid):
        require_call(req, uuid, self.desk.views)
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

