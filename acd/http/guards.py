"""Who is asking (the bearer token, before routing) and whether they may (per responder).

:class:`Authenticate` turns the ``Authorization: Bearer`` header of every ``/api/v1`` request
-- or, for ``GET /api/v1/events`` only, a ``?ticket=`` -- into ``req.context.principal``
through :class:`acd.cti.auth.Auth`. The guards below ask acd.cti.auth's policy and answer 403;
a responder calls the one its resource needs before it reads or changes anything. For an agent,
"another agent", "an agent that does not exist" and "a call that is not yours" all answer 403:
an agent learns nothing about the others.
"""

from acd.cti.auth import (AuthError, is_admin, is_integration, may_act_as, may_act_on_call,
                          may_read_everything)
from acd.http.app import HttpError, render_error

API = "/api/v1/"
#: Paths under /api/v1 that need no token (but the API must be enabled).
PUBLIC = ("/api/v1/login", "/api/v1/openapi.json")
EVENTS = "/api/v1/events"


class Authenticate:
    """Middleware: ``req.context.principal`` for /api/v1 (None elsewhere)."""

    def __init__(self, auth):
        self.auth = auth

    def process_request(self, req, resp):
        req.context.principal = None
        # Falcon's router ignores leading slashes: //api/v1/agents is routed as /api/v1/agents,
        # so it must be authenticated as that (found by make fuzz: it reached the responders
        # with no principal).
        path = "/" + req.path.lstrip("/")
        if not (path.startswith(API) or path == API[:-1]):
            return
        try:
            if path in PUBLIC:
                if not self.auth.enabled:
                    self.auth.authenticate("")   # raises the 403 of a disabled API
                return
            header = req.get_header("Authorization")
            ticket = req.get_param("ticket") if path == EVENTS else None
            if ticket and not header:
                req.context.principal = self.auth.redeem(ticket)
            else:
                req.context.principal = self.auth.authenticate(header or "")
        except AuthError as exc:
            raise HttpError(exc.status, exc.message, exc.headers) from None


def auth_error(req, resp, ex, params):
    """An AuthError from acd.cti.auth (a wrong login, a used ticket) as its HTTP answer."""
    render_error(req, resp, HttpError(ex.status, ex.message, ex.headers))


def principal(req):
    return req.context.principal


def require_staff(req, what="this", integration=False):
    """Supervisors and admins only (and integration tokens where ``integration``)."""
    if integration and is_integration(principal(req)):
        return
    if not may_read_everything(principal(req)):
        raise HttpError(403, f"forbidden: {what} is for supervisors and admins")


def require_admin(req, what="this"):
    if not is_admin(principal(req)):
        raise HttpError(403, f"forbidden: {what} is for admins")


def require_agent(req, agent_id, exists, integration=False):
    """The agent itself, supervisors, admins (integration tokens where ``integration``); 404
    for them when ``exists`` is False."""
    who = principal(req)
    if not (may_act_as(who, agent_id) or (integration and is_integration(who))):
        raise HttpError(403, f"forbidden: agent {who.agent} may act only as itself"
                        if who.agent else "forbidden")
    if not exists:
        raise HttpError(404, f"unknown agent {agent_id!r}")


def require_call(req, uuid, views, integration=False):
    """The agents the call belongs to, if the principal may act on it: supervisors and admins
    on any call, an agent only on a call it is in (reserved, ringing, talking). The check for
    every call-control endpoint (POST /api/v1/calls/{uuid}/hangup, ...)."""
    who = principal(req)
    if integration and is_integration(who):     # reading a call (GET /api/v1/calls/{uuid})
        return []
    owners = views.call_agents(uuid, who.agent)
    if not may_act_on_call(who, owners):
        raise HttpError(403, f"forbidden: agent {who.agent} may act only on a call it is in"
                        if who.agent else "forbidden")
    return owners
