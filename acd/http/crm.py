"""CRM integration endpoints: ``POST /api/v1/calls/{uuid}/wrap-up`` (acd.wrapup)."""

from acd.http.app import HttpError, send
from acd.http.calls import _control, _object
from acd.http.guards import principal
from acd.http.resources import Resource
from acd.store.crm import CrmStore
from acd.wrapup import WrapUpError, give


class CallWrapUp(Resource):
    """The agent's wrap-up code and note for a call it answered (supervisors, admins: any)."""

    def __init__(self, desk):
        super().__init__(desk)
        self.store = CrmStore.of(desk.service.store)   # its scripts registered once

    def on_post(self, req, resp, uuid):
        body = _object(req)
        control = _control(self.desk)
        try:
            answer, details = give(self.service.config, self.store, principal(req), uuid, body,
                                   self.service.clock())
        except WrapUpError as exc:
            raise HttpError(exc.status, str(exc)) from None
        control.post(control.router._observe, "wrap-up", None, answer["agent"], details)
        send(resp, 200, answer)
