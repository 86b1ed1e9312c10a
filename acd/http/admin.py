"""The admin API's run-time administration (docs/cti.md, "Run-time administration"): agents
added, changed and removed, tiers, queue parameters, reload -- admins only.

Each responder checks the role, then hands the body to :class:`acd.admin.Admin` (``desk.admin``,
set by the daemon) and its answer or :class:`~acd.admin.AdminError` to the client. The GET
responders of the same paths are acd.http.resources' (subclassed here).
"""

from acd.admin import AdminError
from acd.http import resources
from acd.http.app import HttpError, read_json, send
from acd.http.guards import principal, require_admin
from acd.http.resources import _who


def _admin(resource, req, what):
    require_admin(req, what)
    admin = getattr(resource.desk, "admin", None)
    if admin is None:
        raise HttpError(503, "run-time administration needs the daemon")
    return admin, _who(principal(req))


def _answer(resp, status, change, *args):
    try:
        body = change(*args)
    except AdminError as exc:
        _refuse(exc)
    send(resp, status, body)


def _refuse(exc):
    raise HttpError(exc.status, exc.message, problems=exc.problems) from None


def _body(req, required=True):
    """The JSON body; an empty one is {} where it may be empty."""
    if not required and not (req.content_length or req.get_header("Transfer-Encoding")):
        return {}
    return read_json(req)


class Agents(resources.Agents):
    def on_post(self, req, resp):
        admin, by = _admin(self, req, "adding agents")
        _answer(resp, 201, admin.add_agent, read_json(req), by)


class Agent(resources.Agent):
    def on_patch(self, req, resp, id):
        admin, by = _admin(self, req, "changing agents")
        _answer(resp, 200, admin.change_agent, id, read_json(req), by)

    def on_delete(self, req, resp, id):
        admin, by = _admin(self, req, "removing agents")
        _answer(resp, 200, admin.remove_agent, id, by)


class Queue(resources.Queue):
    def on_patch(self, req, resp, name):
        admin, by = _admin(self, req, "changing queues")
        _answer(resp, 200, admin.change_queue, name, read_json(req), by)


class Tier:
    def __init__(self, desk):
        self.desk = desk

    def on_post(self, req, resp, name, agent):
        admin, by = _admin(self, req, "changing tiers")
        _answer(resp, 201, admin.set_tier, name, agent, _body(req, False), by, True)

    def on_patch(self, req, resp, name, agent):
        admin, by = _admin(self, req, "changing tiers")
        _answer(resp, 200, admin.set_tier, name, agent, read_json(req), by, False)

    def on_delete(self, req, resp, name, agent):
        admin, by = _admin(self, req, "changing tiers")
        _answer(resp, 200, admin.remove_tier, name, agent, by)


class Reload:
    """``acd reload`` over the API: the daemon reads its acd.yaml again."""

    def __init__(self, desk):
        self.desk = desk

    def on_post(self, req, resp):
        admin, by = _admin(self, req, "reloading the configuration")
        _answer(resp, 200, admin.reload, by)
