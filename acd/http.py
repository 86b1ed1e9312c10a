"""The admin/CTI HTTP API (docs/api.md): a WSGI app on gevent's server, a tiny router, bearer auth.

Theory of operation
-------------------
``make_app`` returns a plain WSGI callable; ``serve`` runs it on ``gevent.pywsgi.WSGIServer``
and returns the started server (its ``server_port`` is the bound port, also when asked for 0).

A request goes: split the raw path into URL-decoded segments -> if it is under ``/api/v1``,
check the bearer token (401 without one, 403 with a wrong one or when no token is configured)
-> find the route (404) and the method (405 with ``Allow``) -> the handler, which calls the
:class:`~acd.service.Service` and returns ``(status, body)``. Every response is JSON (but
``GET /metrics``: Prometheus' text format, no token); errors are ``{"error": "..."}`` raised
as :class:`HttpError`. Any other exception becomes a 500 and a log line on the ``acd.http``
logger, never a crashed server; a Redis outage becomes a 503.
The token is compared in constant time and never echoed or logged.
"""

import hmac
import http
import json
import logging
import urllib.parse

import redis
from gevent.pywsgi import LoggingLogAdapter, WSGIHandler, WSGIServer

from acd.service import STATUSES, NotSynced

log = logging.getLogger("acd.http")

#: Largest request body accepted (bytes); larger ones get 413.
MAX_BODY = 64 * 1024
JSON_TYPE = "application/json; charset=utf-8"
API_PREFIX = ("api", "v1")


class HttpError(Exception):
    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, list(headers)


# -- handlers: (service, request) -> (status, body) ----------------------------------------------

def get_health(service, request):
    checks = service.checks()
    body = {"status": "ok", "checks": {name: {"ok": ok, "reason": reason}
                                       for name, ok, reason in checks}}
    failed = [f"{name}: {reason}" for name, ok, reason in checks if not ok]
    if failed:
        body.update(status="unavailable", errors=failed)
        return 503, body
    return 200, body


def get_queues(service, request):
    return 200, service.queues_view()


def get_queue(service, request):
    view = service.queue_view(request.params["name"])
    if view is None:
        raise HttpError(404, f"unknown queue {request.params['name']!r}")
    return 200, view


def get_agents(service, request):
    return 200, service.agents_view()


def get_agent(service, request):
    view = service.agent_view(request.params["id"])
    if view is None:
        raise HttpError(404, f"unknown agent {request.params['id']!r}")
    return 200, view


def put_agent_status(service, request):
    agent_id = request.params["id"]
    if not service.has_agent(agent_id):
        raise HttpError(404, f"unknown agent {agent_id!r}")
    status = _status_from(request.json())
    return _change_agent(agent_id, service.set_agent_status, status)


def _change_agent(agent_id, change, value):
    """200 and the agent after ``change(agent_id, value)``; its errors as HTTP errors."""
    try:
        return 200, change(agent_id, value)
    except NotSynced as exc:
        raise HttpError(503, str(exc)) from None
    except KeyError:
        raise HttpError(404, f"unknown agent {agent_id!r}") from None
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None


def put_agent_skills(service, request):
    agent_id = request.params["id"]
    if not service.has_agent(agent_id):
        raise HttpError(404, f"unknown agent {agent_id!r}")
    body = request.json()
    if not isinstance(body, dict) or not isinstance(body.get("skills"), dict):
        raise HttpError(400, 'expected a JSON object {"skills": {"name": proficiency 1..10, ...}}')
    return _change_agent(agent_id, service.set_agent_skills, body["skills"])


def get_call_routing(service, request):
    view = service.call_routing(request.params["uuid"])
    if view is None:
        raise HttpError(404, f"no routing decisions known for call {request.params['uuid']!r}")
    return 200, view


def get_metrics(service, request):
    """Prometheus' scrape: the text exposition format; no token (read-only)."""
    found = service.metrics_exposition(request.environ.get("HTTP_ACCEPT", ""))
    if found is None:
        raise HttpError(404, "metrics are off")
    return 200, Raw(*found)


class Raw:
    """A response body sent as it is, with its own Content-Type (not JSON)."""

    def __init__(self, content_type, data):
        self.content_type, self.data = content_type, data


def _status_from(body):
    """The "status" of ``{"status": ...}``; the Service says whether it is a valid one."""
    if not isinstance(body, dict) or "status" not in body:
        raise HttpError(400, 'expected a JSON object {"status": ...} with status one of: '
                             + ", ".join(STATUSES))
    return body["status"]


#: (path pattern, {method: handler}); "{name}" matches one non-empty path segment.
ROUTES = [
    ("/healthz", {"GET": get_health}),
    ("/metrics", {"GET": get_metrics}),
    ("/api/v1/queues", {"GET": get_queues}),
    ("/api/v1/queues/{name}", {"GET": get_queue}),
    ("/api/v1/agents", {"GET": get_agents}),
    ("/api/v1/agents/{id}", {"GET": get_agent}),
    ("/api/v1/agents/{id}/status", {"PUT": put_agent_status}),
    ("/api/v1/agents/{id}/skills", {"PUT": put_agent_skills}),
    ("/api/v1/calls/{uuid}/routing", {"GET": get_call_routing}),
]


# -- requests and routing ------------------------------------------------------------------------

class Request:
    def __init__(self, environ, params):
        self.environ, self.params = environ, params

    def body(self):
        """The raw body, at most MAX_BODY bytes (413 beyond)."""
        length = self.environ.get("CONTENT_LENGTH") or ""
        stream = self.environ["wsgi.input"]
        if length:
            if not length.isdigit():
                raise HttpError(400, "invalid Content-Length")
            if int(length) > MAX_BODY:
                raise HttpError(413, f"request body over {MAX_BODY} bytes")
            return stream.read(int(length))
        if not self.environ.get("wsgi.input_terminated"):  # no length, not chunked: no body
            return b""
        data = stream.read(MAX_BODY + 1)
        if len(data) > MAX_BODY:
            raise HttpError(413, f"request body over {MAX_BODY} bytes")
        return data

    def json(self):
        try:
            return json.loads(self.body())
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(400, f"malformed JSON body: {exc}") from None


def _pattern(path):
    return tuple(path.strip("/").split("/"))


def match(pattern, segments):
    """The pattern's parameters if ``segments`` fits it, else None."""
    if len(pattern) != len(segments):
        return None
    params = {}
    for part, segment in zip(pattern, segments):
        if part.startswith("{"):
            if not segment:
                return None
            params[part[1:-1]] = segment
        elif part != segment:
            return None
    return params


def path_segments(environ):
    """The URL-decoded segments of the request path; an encoded "/" stays inside its segment."""
    raw = environ.get("RAW_URI") or ""
    if raw.startswith("/"):
        path = raw.split("?", 1)[0]
        parts = path[1:].split("/")
        return tuple(urllib.parse.unquote(p, errors="replace") for p in parts)
    # PATH_INFO is already decoded, as latin-1 (PEP 3333)
    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
    return tuple(path[1:].split("/"))


class App:
    """The WSGI application; ``admin_token`` None or empty disables /api/v1 (403)."""

    def __init__(self, service, admin_token, routes=ROUTES):
        self.service = service
        self._token = admin_token.encode("utf-8") if admin_token else None
        self.routes = [(_pattern(path), methods) for path, methods in routes]

    def __call__(self, environ, start_response):
        try:
            status, body, headers = self.respond(environ)
        except Exception:
            log.exception("%s %s failed", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            status, body, headers = 500, {"error": "internal error"}, []
        content_type = body.content_type if isinstance(body, Raw) else JSON_TYPE
        data = body.data if isinstance(body, Raw) else json.dumps(body).encode("utf-8")
        start_response(f"{status} {http.HTTPStatus(status).phrase}",
                       [("Content-Type", content_type), ("Content-Length", str(len(data))),
                        ("Cache-Control", "no-store")] + headers)
        return [data]

    def respond(self, environ):
        """(status, body, extra headers) for one request."""
        try:
            status, body = self.dispatch(environ)
            return status, body, []
        except HttpError as exc:
            return exc.status, {"error": exc.message}, exc.headers
        except redis.RedisError as exc:
            log.warning("%s %s: redis unavailable: %s", environ.get("REQUEST_METHOD"),
                        environ.get("PATH_INFO"), exc)
            return 503, {"error": "redis unavailable"}, []

    def dispatch(self, environ):
        segments = path_segments(environ)
        if segments[:2] == API_PREFIX:
            self.authorize(environ.get("HTTP_AUTHORIZATION", ""))
        for pattern, methods in self.routes:
            params = match(pattern, segments)
            if params is not None:
                handler = methods.get(environ.get("REQUEST_METHOD", "GET"))
                if handler is None:
                    raise HttpError(405, f"method not allowed; allowed: {', '.join(methods)}",
                                    [("Allow", ", ".join(methods))])
                return handler(self.service, Request(environ, params))
        raise HttpError(404, "no such path: /" + "/".join(segments))

    def authorize(self, header):
        if self._token is None:
            raise HttpError(403, "the API is disabled: no admin token is configured "
                                 "(http.admin-token or ACD_ADMIN_TOKEN)")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise HttpError(401, "missing or malformed Authorization header; "
                                 "expected: Authorization: Bearer <admin-token>",
                            [("WWW-Authenticate", 'Bearer realm="acd"')])
        if not hmac.compare_digest(token.encode("latin-1", "replace"), self._token):
            raise HttpError(403, "invalid admin token")


def make_app(service, admin_token):
    return App(service, admin_token)


class _Handler(WSGIHandler):
    """gevent's handler, plus ``RAW_URI`` (the undecoded request target), as gunicorn sets it."""

    def get_environ(self):
        environ = super().get_environ()
        environ["RAW_URI"] = self.path
        return environ


def serve(service, host, port, admin_token):
    """Start the API on host:port (0 = any free port); returns the started server
    (``server.server_port`` is the bound port; ``server.stop()`` stops it)."""
    server = WSGIServer((host, port), make_app(service, admin_token), handler_class=_Handler,
                        log=LoggingLogAdapter(log, logging.DEBUG),
                        error_log=LoggingLogAdapter(log, logging.ERROR))
    server.start()
    log.info("HTTP API listening on %s:%s", host, server.server_port)
    return server
