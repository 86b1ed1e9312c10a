"""The WSGI application: Falcon, with acd's conventions for errors, bodies and headers.

Theory of operation
-------------------
:func:`make_app` builds a ``falcon.App`` whose routes (:data:`ROUTES`) map a path to a resource
of :mod:`acd.http.resources`, :mod:`acd.http.desk` or :mod:`acd.http.calls`. A request goes:

1. :class:`~acd.http.guards.Authenticate` (middleware, *before* routing): under ``/api/v1``
   the bearer token (or an event-stream ticket) becomes ``req.context.principal`` -- 401/403
   before anything else, so without a valid token even an unknown path reveals nothing;
2. Falcon's router finds the resource (404 ``no such path``, 405 with ``Allow``);
3. the responder checks what the principal may do (acd.http.guards, asking acd.cti.auth's
   policy), calls the Service or a CTI module, and answers with :func:`send`.

Every response is JSON with ``Content-Type: application/json; charset=utf-8`` and
``Cache-Control: no-store`` (but ``/metrics``: Prometheus' text; ``/api/v1/events``: an event
stream). Errors are ``{"error": "..."}``: :class:`HttpError` from responders, Falcon's own
errors rendered the same way, a Redis outage as 503, anything else as 500 with the traceback on
the ``acd.http`` logger -- never a crashed server.
"""

import http
import json
import logging

import falcon
import redis

log = logging.getLogger("acd.http")

#: Largest request body accepted (bytes); larger ones get 413.
MAX_BODY = 64 * 1024
JSON_TYPE = "application/json; charset=utf-8"


class HttpError(falcon.HTTPError):
    """An error answer: ``{"error": message}`` with ``status`` and extra ``headers``."""

    def __init__(self, status, message, headers=(), problems=()):
        super().__init__(falcon.code_to_http_status(status), description=message,
                         headers=dict(headers) or None)
        self.message = message
        self.problems = list(problems)   # every "key.path: problem" of a rejected config


def send(resp, status, body):
    """Answer with ``body`` as JSON."""
    resp.status = falcon.code_to_http_status(status)
    resp.content_type = JSON_TYPE
    resp.data = json.dumps(body).encode("utf-8")


def read_body(req):
    """The raw body, at most MAX_BODY bytes (413 beyond), chunked or not."""
    env = req.env
    length = env.get("CONTENT_LENGTH") or ""
    stream = env["wsgi.input"]
    if length:
        if not length.isdigit():
            raise HttpError(400, "invalid Content-Length")
        if int(length) > MAX_BODY:
            raise HttpError(413, f"request body over {MAX_BODY} bytes")
        return stream.read(int(length))
    if not env.get("wsgi.input_terminated"):   # no length, not chunked: no body
        return b""
    data = stream.read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        raise HttpError(413, f"request body over {MAX_BODY} bytes")
    return data


def read_json(req):
    try:
        return json.loads(read_body(req))
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpError(400, f"malformed JSON body: {exc}") from None


class Headers:
    """Middleware: ``Cache-Control: no-store`` on every response."""

    def process_response(self, req, resp, resource, req_succeeded):
        resp.set_header("Cache-Control", "no-store")


# -- error rendering ----------------------------------------------------------------------------

def render_error(req, resp, ex, params=None):
    """An HttpError (or any falcon.HTTPError) as acd's JSON answer."""
    status = int(ex.status_code)
    message = getattr(ex, "message", None) or ex.description or http.HTTPStatus(status).phrase
    problems = getattr(ex, "problems", None)
    send(resp, status, {"error": message, "problems": problems} if problems else
         {"error": message})
    for name, value in (ex.headers or {}).items():
        resp.set_header(name, value)


def _not_allowed(req, resp, ex, params):
    allowed = [m for m in (ex.headers or {}).get("Allow", "").split(", ") if m and m != "OPTIONS"]
    send(resp, 405, {"error": f"method not allowed; allowed: {', '.join(allowed)}"})
    resp.set_header("Allow", ", ".join(allowed))


def _no_route(req, resp, ex, params):
    send(resp, 404, {"error": f"no such path: {req.path}"})


def _redis_down(req, resp, ex, params):
    log.warning("%s %s: redis unavailable: %s", req.method, req.path, ex)
    send(resp, 503, {"error": "redis unavailable"})


def _bug(req, resp, ex, params):
    log.error("%s %s failed", req.method, req.path, exc_info=ex)
    send(resp, 500, {"error": "internal error"})


class _NoOptions:
    """Middleware: OPTIONS is not served (405 with the real methods), as before Falcon."""

    def process_resource(self, req, resp, resource, params):
        if req.method == "OPTIONS" and resource is not None:
            methods = [m for m in ("GET", "POST", "PUT", "DELETE", "PATCH")
                       if hasattr(resource, f"on_{m.lower()}")]
            raise falcon.HTTPMethodNotAllowed(methods)


def make_falcon_app(routes, authenticate):
    """A falcon.App serving ``routes`` [(path template, resource)] behind ``authenticate``."""
    app = falcon.App(middleware=[Headers(), authenticate, _NoOptions()])
    app.req_options.strip_url_path_trailing_slash = False
    for template, resource in routes:
        app.add_route(template, resource)
    app.add_error_handler(Exception, _bug)
    app.add_error_handler(redis.RedisError, _redis_down)
    app.add_error_handler(falcon.HTTPError, render_error)
    app.add_error_handler(falcon.HTTPMethodNotAllowed, _not_allowed)
    app.add_error_handler(falcon.HTTPRouteNotFound, _no_route)
    return app
