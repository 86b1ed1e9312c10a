"""The HTTP API (docs/api.md, docs/cti.md): Falcon on gevent's WSGI server.

* :mod:`acd.http.server` -- the route table, :func:`serve`, :func:`make_app`;
* :mod:`acd.http.app` -- errors, bodies, headers (every answer is JSON);
* :mod:`acd.http.guards` -- the bearer token before routing, and who may do what;
* :mod:`acd.http.resources` -- health, metrics, queues, agents;
* :mod:`acd.http.desk` -- login, me, an agent's calls, the wallboard, the event stream;
* :mod:`acd.http.calls` -- calls, and the pattern for call control;
* :mod:`acd.http.openapi` -- the OpenAPI document (openapi.yaml), served as JSON.

The HTTP layer only translates requests into calls on :class:`acd.service.Service` and the
acd.cti modules; it never reads Redis or the config itself.
"""

from acd.http.app import MAX_BODY, HttpError
from acd.http.server import ROUTES, Desk, make_app, serve

__all__ = ["MAX_BODY", "HttpError", "ROUTES", "Desk", "make_app", "serve"]
