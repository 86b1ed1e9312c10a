"""The HTTP API's route table and server: Falcon on gevent's WSGI server (docs/api.md, cti.md).

Theory of operation
-------------------
:func:`serve` runs :func:`make_app` on ``gevent.pywsgi.WSGIServer`` and returns the started
server (``server.server_port`` is the bound port, also when asked for 0). Each connection is a
greenlet, so a long-lived event stream costs a greenlet, not a thread.

Paths are matched on the *raw* request target (``RAW_URI``): each segment is URL-decoded on its
own, so ``/api/v1/agents/anna%40corp`` is the agent ``anna@corp`` while an encoded slash
(``%2F``) stays inside its segment (as the text ``%2F``: no id contains a slash, so such a
path names nothing and answers 404).

:class:`Desk` bundles what the CTI resources use beside the Service: the credentials
(acd.cti.auth), the views (acd.cti.views) and the event hub (acd.cti.hub). The daemon builds it;
``make_app(service, admin_token)`` alone builds one on the Service's store.
"""

import logging
import urllib.parse

from gevent.pywsgi import LoggingLogAdapter, WSGIHandler, WSGIServer

from acd.cti.auth import Auth, AuthError
from acd.cti.hub import EventHub
from acd.cti.views import Views
from acd.http import admin, calls, crm, desk, openapi, pages, resources
from acd.http.app import make_falcon_app
from acd.http.guards import Authenticate, auth_error
from acd.store.cti import CtiStore

log = logging.getLogger("acd.http")

#: (path template, resource class); "{name}" matches one path segment.
#: The desktop's pages and files (acd/http/pages.py): not part of the API's document.
PAGES = [
    ("/", pages.Desktop),
    ("/wallboard", pages.Wallboard),
    ("/static/{name}", pages.Static),
    ("/static/vendor/{name}", pages.Vendor),
]

ROUTES = [
    ("/healthz", resources.Health),
    ("/metrics", resources.Metrics),
    ("/api/v1/openapi.json", openapi.OpenApi),
    ("/api/v1/login", desk.Login),
    ("/api/v1/logout", desk.Logout),
    ("/api/v1/me", desk.Me),
    ("/api/v1/queues", resources.Queues),
    ("/api/v1/queues/{name}", admin.Queue),
    ("/api/v1/queues/{name}/tiers/{agent}", admin.Tier),
    ("/api/v1/agents", admin.Agents),
    ("/api/v1/agents/{id}", admin.Agent),
    ("/api/v1/agents/{id}/status", resources.AgentStatus),
    ("/api/v1/agents/{id}/skills", resources.AgentSkills),
    ("/api/v1/agents/{id}/calls", desk.AgentCalls),
    ("/api/v1/agents/{id}/recording-consent", resources.AgentRecordingConsent),
    ("/api/v1/calls", calls.Calls),
    ("/api/v1/calls/{uuid}", calls.Call),
    ("/api/v1/calls/{uuid}/routing", calls.CallRouting),
    ("/api/v1/calls/{uuid}/hangup", calls.CallHangup),
    ("/api/v1/calls/{uuid}/hold", calls.CallHold),
    ("/api/v1/calls/{uuid}/unhold", calls.CallUnhold),
    ("/api/v1/calls/{uuid}/dtmf", calls.CallDtmf),
    ("/api/v1/calls/{uuid}/transfer", calls.CallTransfer),
    ("/api/v1/calls/{uuid}/listen", calls.CallListen),
    ("/api/v1/calls/{uuid}/whisper", calls.CallWhisper),
    ("/api/v1/calls/{uuid}/barge", calls.CallBarge),
    ("/api/v1/calls/{uuid}/recording/stop", calls.CallRecordingStop),
    ("/api/v1/calls/{uuid}/recording/pause", calls.CallRecordingPause),
    ("/api/v1/calls/{uuid}/recording/resume", calls.CallRecordingResume),
    ("/api/v1/calls/{uuid}/wrap-up", crm.CallWrapUp),
    ("/api/v1/wallboard", desk.Wallboard),
    ("/api/v1/events", desk.Events),
    ("/api/v1/events/ticket", desk.EventTicket),
    ("/api/v1/reload", admin.Reload),
]


class Desk:
    """The Service plus the CTI modules the HTTP layer translates requests into."""

    def __init__(self, service, admin_token, hub=None, store=None, control=None):
        self.service = service
        self.control = control      # acd.callcontrol.CallControl (None without a daemon)
        self.admin = None           # acd.admin.Admin, set by the daemon (run-time changes)
        self.store = store or CtiStore.of(service.store)
        self.auth = Auth(lambda: service.config, self.store, service.clock, admin_token)
        self.views = Views(service, self.store)
        self.hub = hub or EventHub(self.store, self.views.queues_of,
                                   heartbeat=service.config.cti.heartbeat)


def make_app(service, admin_token, desk=None):
    """The WSGI application; ``admin_token`` None or empty disables /api/v1 (403)."""
    desk = desk or Desk(service, admin_token)
    app = make_falcon_app([(path, resource(desk)) for path, resource in PAGES + ROUTES],
                          Authenticate(desk.auth))
    app.add_error_handler(AuthError, auth_error)
    return RawPath(app)


class RawPath:
    """WSGI middleware: PATH_INFO from the raw request target, segment by segment; response
    header names in their usual spelling (Falcon writes them in lower case: equal in HTTP, but
    clients that look names up exactly keep working)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        raw = environ.get("RAW_URI") or ""
        if raw.startswith("/"):
            segments = raw.split("?", 1)[0][1:].split("/")
            path = "/" + "/".join(_segment(s) for s in segments)
            environ["PATH_INFO"] = path.encode("utf-8", "surrogateescape").decode("latin-1")

        def spelled_start_response(status, headers, exc_info=None):
            headers = [(_spelled(name), value) for name, value in headers]
            return start_response(status, headers, exc_info)

        return self.app(environ, spelled_start_response)


_SPELLING = {"www-authenticate": "WWW-Authenticate"}


def _spelled(name):
    lower = name.lower()
    return _SPELLING.get(lower) or "-".join(part.capitalize() for part in lower.split("-"))


def _segment(raw):
    """One URL-decoded path segment; an encoded slash stays "%2F"."""
    kept = raw.replace("%2F", "%252F").replace("%2f", "%252F")
    return urllib.parse.unquote(kept, errors="replace")


class _Handler(WSGIHandler):
    """gevent's handler, plus ``RAW_URI`` (the undecoded request target), as gunicorn sets it."""

    def get_environ(self):
        environ = super().get_environ()
        environ["RAW_URI"] = self.path
        return environ


def serve(service, host, port, admin_token, desk=None):
    """Start the API on host:port (0 = any free port); returns the started server
    (``server.server_port`` is the bound port; ``server.stop()`` stops it)."""
    server = WSGIServer((host, port), make_app(service, admin_token, desk),
                        handler_class=_Handler,
                        log=LoggingLogAdapter(log, logging.DEBUG),
                        error_log=LoggingLogAdapter(log, logging.ERROR))
    server.start()
    log.info("HTTP API listening on %s:%s", host, server.server_port)
    return server
