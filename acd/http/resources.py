"""The admin API's resources: health, metrics, queues, agents, status and skills (docs/api.md).

Each resource holds the :class:`~acd.service.Service` (and, where it needs them, the CTI
modules: ``desk``, an :class:`acd.http.server.Desk`) and only translates: a request into one
call, its answer into JSON. Who may do what is decided by :mod:`acd.http.guards` first.
"""

from acd.http.app import HttpError, read_json, send
from acd.http.guards import principal, require_admin, require_agent, require_staff
from acd.service import STATUSES, NotSynced


class Resource:
    def __init__(self, desk):
        self.desk = desk
        self.service = desk.service


class Health(Resource):
    def on_get(self, req, resp):
        checks = self.service.checks()
        body = {"status": "ok", "checks": {name: {"ok": ok, "reason": reason}
                                           for name, ok, reason in checks}}
        failed = [f"{name}: {reason}" for name, ok, reason in checks if not ok]
        if failed:
            body.update(status="unavailable", errors=failed)
        send(resp, 503 if failed else 200, body)


class Metrics(Resource):
    """Prometheus' scrape: the text exposition format; no token (read-only)."""

    def on_get(self, req, resp):
        found = self.service.metrics_exposition(req.get_header("Accept") or "")
        if found is None:
            raise HttpError(404, "metrics are off")
        resp.content_type, resp.data = found


class Queues(Resource):
    def on_get(self, req, resp):
        require_staff(req, "the list of queues")
        send(resp, 200, self.service.queues_view())


class Queue(Resource):
    """Supervisors and admins: any queue; an agent: the queues it serves."""

    def on_get(self, req, resp, name):
        who = principal(req)
        if who.role == "integration":
            raise HttpError(403, "forbidden: integration tokens read calls and agents only")
        if who.role == "agent" and name not in self.desk.views.queues_of(who.agent):
            raise HttpError(403, f"forbidden: agent {who.agent} sees only its own queues")
        view = self.service.queue_view(name)
        if view is None:
            raise HttpError(404, f"unknown queue {name!r}")
        send(resp, 200, view)


class Agents(Resource):
    def on_get(self, req, resp):
        require_staff(req, "the list of agents", integration=True)
        send(resp, 200, self.service.agents_view())


class Agent(Resource):
    def on_get(self, req, resp, id):
        require_agent(req, id, self.service.has_agent(id), integration=True)
        send(resp, 200, self.service.agent_view(id))


def change_agent(resp, agent_id, change, *args):
    """200 and the agent after ``change(agent_id, *args)``; its errors as HTTP errors."""
    try:
        send(resp, 200, change(agent_id, *args))
    except NotSynced as exc:
        raise HttpError(503, str(exc)) from None
    except KeyError:
        raise HttpError(404, f"unknown agent {agent_id!r}") from None
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None


class AgentStatus(Resource):
    """The agent itself, supervisors and admins; ``reason`` with on-break (cti.break-reasons)."""

    def on_put(self, req, resp, id):
        require_agent(req, id, self.service.has_agent(id))
        body = read_json(req)
        if not isinstance(body, dict) or "status" not in body:
            raise HttpError(400, 'expected a JSON object {"status": ...} with status one of: '
                                 + ", ".join(STATUSES))
        change_agent(resp, id, self.service.set_agent_status, body["status"],
                     body.get("reason"), _who(principal(req)))


class AgentRecordingConsent(Resource):
    """Consent to recordings: given or withdrawn only by the agent itself, logged in with its
    own password -- never by a supervisor, an admin or an integration token (docs/recording.md)."""

    def on_put(self, req, resp, id):
        who = principal(req)
        if who.kind != "session" or who.agent != id:
            raise HttpError(403, "forbidden: only the agent itself, logged in, can give or "
                                 "withdraw its consent to recordings")
        body = read_json(req)
        if not isinstance(body, dict) or not isinstance(body.get("consent"), bool) or set(
                body) - {"consent"}:
            raise HttpError(400, 'expected a JSON object {"consent": true} or {"consent": false}')
        try:
            view = self.service.set_recording_consent(id, body["consent"])
        except KeyError:
            raise HttpError(404, f"unknown agent {id!r}") from None
        control = getattr(self.desk, "control", None)
        if not body["consent"] and control is not None and control.recordings is not None:
            control.post(control.recordings.agent_withdrew, id)   # stop its recordings now
        send(resp, 200, view)


def _who(who):
    """Who changed something, for the event stream and the decision log."""
    if who.kind == "admin-token":
        return "admin-token"
    return who.agent if who.kind == "session" else f"token:{who.name or who.credential[:8]}"


class AgentSkills(Resource):
    def on_put(self, req, resp, id):
        require_admin(req, "changing skills")
        if not self.service.has_agent(id):
            raise HttpError(404, f"unknown agent {id!r}")
        body = read_json(req)
        if not isinstance(body, dict) or not isinstance(body.get("skills"), dict):
            raise HttpError(400, 'expected a JSON object {"skills": {"name": proficiency '
                                 '1..10, ...}}')
        change_agent(resp, id, self.service.set_agent_skills, body["skills"])
