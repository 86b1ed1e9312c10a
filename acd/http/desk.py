"""The agent desktop's and the wallboard's resources: login, logout, me, an agent's calls, the
wallboard, and the live event stream (docs/cti.md).

Like every resource, these only translate: the request into a call on acd.cti (auth, views,
hub), the answer into JSON -- or, for ``GET /api/v1/events``, into Server-Sent Events.
"""

import ipaddress

from acd.cti.views import MAX_CALLS
from acd.http.app import HttpError, read_json, send
from acd.http.guards import principal, require_agent, require_staff
from acd.http.resources import Resource
from acd.service import iso_utc
from acd.store.cti import stream_id

_LOGIN_SHAPE = 'expected a JSON object {"agent": "...", "password": "..."}'


def client_address(req, trusted_proxies):
    """The client's address: the peer, or -- when the peer is a trusted proxy -- the last
    address in X-Forwarded-For that is not one."""
    address = req.remote_addr or ""
    if address not in trusted_proxies:
        return address
    for hop in reversed((req.get_header("X-Forwarded-For") or "").split(",")):
        hop = hop.strip()
        try:
            hop = str(ipaddress.ip_address(hop))
        except ValueError:
            return address
        if hop not in trusted_proxies:
            return hop
    return address


class Login(Resource):
    def on_post(self, req, resp):
        body = read_json(req)
        if not isinstance(body, dict):
            raise HttpError(400, _LOGIN_SHAPE)
        agent, password = body.get("agent"), body.get("password")
        if not (isinstance(agent, str) and 0 < len(agent) <= 128 and isinstance(password, str)
                and 0 < len(password) <= 1024):
            raise HttpError(400, _LOGIN_SHAPE)
        config = self.service.config
        token, who = self.desk.auth.login(
            agent, password, client_address(req, config.cti.trusted_proxies))
        send(resp, 200, {"token": token, "expires_at": iso_utc(who.expires_at),
                         "expires_at_epoch": who.expires_at, "role": who.role,
                         "agent": who.agent})


class Logout(Resource):
    def on_post(self, req, resp):
        ended = self.desk.auth.logout(principal(req))
        if not ended:
            raise HttpError(400, "only a login token can log out; an integration token is "
                                 "ended with `acd token revoke`")
        send(resp, 200, {"logged_out": True})


class Me(Resource):
    def on_get(self, req, resp):
        send(resp, 200, self.desk.views.me(principal(req)))


class AgentCalls(Resource):
    def on_get(self, req, resp, id):
        require_agent(req, id, self.service.has_agent(id), integration=True)
        limit = req.get_param("limit") or "20"
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_CALLS:
            raise HttpError(400, f"limit: expected a whole number 1..{MAX_CALLS}, got {limit!r}")
        send(resp, 200, self.desk.views.agent_calls(id, int(limit)))


class Wallboard(Resource):
    def on_get(self, req, resp):
        require_staff(req, "the wallboard")
        send(resp, 200, self.desk.views.wallboard())


def _no_integration(req):
    """Integration tokens read calls and agents, not the event stream (webhooks push it)."""
    if principal(req).role == "integration":
        raise HttpError(403, "forbidden: integration tokens do not follow the event stream; "
                             "configure webhooks (docs/crm.md)")


class EventTicket(Resource):
    """A single-use, 30 s ticket for ``GET /api/v1/events?ticket=...`` (EventSource cannot
    send an Authorization header)."""

    def on_post(self, req, resp):
        _no_integration(req)
        ticket, expires = self.desk.auth.ticket(principal(req))
        send(resp, 200, {"ticket": ticket, "expires_at": iso_utc(expires),
                         "expires_at_epoch": expires})


class Events(Resource):
    """The live event stream as Server-Sent Events, filtered by the principal's role."""

    def on_get(self, req, resp):
        last_id = req.get_header("Last-Event-ID") or req.get_param("last_event_id")
        if last_id:
            try:
                stream_id(last_id)
            except ValueError:
                raise HttpError(400, f"Last-Event-ID: expected a stream id such as "
                                     f"1700000000000-0, got {last_id[:40]!r}") from None
        _no_integration(req)
        who, auth = principal(req), self.desk.auth
        resp.content_type = "text/event-stream; charset=utf-8"
        resp.set_header("X-Accel-Buffering", "no")   # nginx: pass each event on at once
        resp.stream = self.desk.hub.stream(who, last_id or None,
                                           still_valid=lambda: auth.still_valid(who))
