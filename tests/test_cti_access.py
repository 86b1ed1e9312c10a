"""The authorization matrix: every endpoint of the API, asked by every kind of caller, over real
HTTP against a daemon with a live call.

Callers (the columns): no token, an expired token, the agent itself (2001, logged in), another
agent (2002), a supervisor (2003, logged in with role supervisor), the admin token. Each row is
``(method, path, body, expected statuses in that column order)``; ``{call}`` is the live call,
which 2001 is talking on. Adding an endpoint (call control): add its rows here -- the test
fails while an operation of the OpenAPI document has no row.
"""

import time

import gevent

from acd.cti.auth import Auth
from acd.store.cti import CtiStore
from acd.store.keys import sha256
from tests import cti_world
from tests.cti_world import ADMIN, PASSWORD
from tests.openapi_check import document, operation_of

cti_factory = cti_world.cti_factory   # the fixture

CALLERS = ("none", "expired", "self", "other", "supervisor", "admin")
A, B, C = 401, 403, 404       # short names keep the table readable

MATRIX = [
    # method, path, body, (none, expired, self, other, supervisor, admin)
    ("GET", "/healthz", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/metrics", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/v1/openapi.json", None, (200, 200, 200, 200, 200, 200)),
    ("POST", "/api/v1/login", {}, (400, 400, 400, 400, 400, 400)),
    ("POST", "/api/v1/logout", None, (A, A, 200, 200, 200, 400)),
    ("GET", "/api/v1/me", None, (A, A, 200, 200, 200, 200)),
    ("GET", "/api/v1/queues", None, (A, A, B, B, 200, 200)),
    ("GET", "/api/v1/queues/support", None, (A, A, 200, B, 200, 200)),
    ("GET", "/api/v1/queues/nothing", None, (A, A, B, B, C, C)),
    ("GET", "/api/v1/agents", None, (A, A, B, B, 200, 200)),
    ("GET", "/api/v1/agents/2001", None, (A, A, 200, B, 200, 200)),
    ("GET", "/api/v1/agents/nobody", None, (A, A, B, B, C, C)),
    ("PUT", "/api/v1/agents/2001/status", {"status": "available"}, (A, A, 200, B, 200, 200)),
    ("PUT", "/api/v1/agents/nobody/status", {"status": "available"}, (A, A, B, B, C, C)),
    # consent to recordings: only the agent itself, logged in (never on someone's behalf)
    ("PUT", "/api/v1/agents/2001/recording-consent", {"consent": True}, (A, A, 200, B, B, B)),
    ("PUT", "/api/v1/agents/2001/recording-consent", {"consent": "yes"}, (A, A, 400, B, B, B)),
    ("PUT", "/api/v1/agents/nobody/recording-consent", {"consent": True}, (A, A, B, B, B, B)),
    ("PUT", "/api/v1/agents/2001/skills", {"skills": {"german": 3}}, (A, A, B, B, B, 200)),
    ("PUT", "/api/v1/agents/nobody/skills", {"skills": {}}, (A, A, B, B, B, C)),
    ("GET", "/api/v1/agents/2001/calls", None, (A, A, 200, B, 200, 200)),
    ("GET", "/api/v1/agents/nobody/calls", None, (A, A, B, B, C, C)),
    ("GET", "/api/v1/calls/{call}", None, (A, A, 200, B, 200, 200)),
    ("GET", "/api/v1/calls/no-such-call", None, (A, A, B, B, C, C)),
    ("GET", "/api/v1/calls/{call}/routing", None, (A, A, B, B, 200, 200)),
    ("GET", "/api/v1/calls/no-such-call/routing", None, (A, A, B, B, C, C)),
    # call control: authorized callers get past the check to a harmless 409/422
    ("POST", "/api/v1/calls", {"agent": "2001", "to": "not a number"}, (A, A, 422, B, 422, 422)),
    ("POST", "/api/v1/calls", {"agent": "nobody", "to": "+4930123"}, (A, A, B, B, C, C)),
    ("POST", "/api/v1/calls/{call}/dtmf", {"digits": "x"}, (A, A, 422, B, 422, 422)),
    ("POST", "/api/v1/calls/no-such-call/dtmf", {"digits": "1"}, (A, A, B, B, C, C)),
    ("POST", "/api/v1/calls/{call}/transfer", {}, (A, A, 422, B, 422, 422)),
    ("POST", "/api/v1/calls/no-such-call/transfer", {"queue": "support"}, (A, A, B, B, C, C)),
    ("POST", "/api/v1/calls/{call}/hold", None, (A, A, 200, B, 409, 409)),
    ("POST", "/api/v1/calls/{call}/unhold", None, (A, A, 200, B, 409, 409)),
    ("POST", "/api/v1/calls/no-such-call/hold", None, (A, A, B, B, C, C)),
    ("POST", "/api/v1/calls/no-such-call/unhold", None, (A, A, B, B, C, C)),
    ("POST", "/api/v1/calls/{call}/listen", {"contact": ""}, (A, A, B, B, 422, 422)),
    ("POST", "/api/v1/calls/{call}/whisper", {"contact": "nonsense"}, (A, A, B, B, 422, 422)),
    ("POST", "/api/v1/calls/no-such-call/barge", {"contact": "user/2000"}, (A, A, B, B, C, C)),
    ("POST", "/api/v1/calls/no-such-call/hangup", None, (A, A, B, B, C, C)),
    # the support queue does not record: nothing to stop, pause or resume
    ("POST", "/api/v1/calls/{call}/recording/stop", None, (A, A, 409, B, 409, 409)),
    ("POST", "/api/v1/calls/{call}/recording/pause", None, (A, A, 409, B, 409, 409)),
    ("POST", "/api/v1/calls/{call}/recording/resume", None, (A, A, 409, B, 409, 409)),
    ("POST", "/api/v1/calls/no-such-call/recording/stop", None, (A, A, B, B, C, C)),
    ("POST", "/api/v1/calls/no-such-call/recording/pause", None, (A, A, B, B, C, C)),
    ("POST", "/api/v1/calls/no-such-call/recording/resume", None, (A, A, B, B, C, C)),
    ("POST", "/api/v1/calls/{call}/wrap-up", {"code": "x"}, (A, A, 422, B, 422, 422)),
    ("POST", "/api/v1/calls/no-such-call/wrap-up", {"code": "x"}, (A, A, B, B, C, C)),
    # run-time administration (tests/test_admin.py): admins only; changes that break no call
    ("POST", "/api/v1/agents", {"id": "2009"}, (A, A, B, B, B, 422)),
    ("PATCH", "/api/v1/agents/2002", {"max-no-answer": -1}, (A, A, B, B, B, 422)),
    ("PATCH", "/api/v1/agents/nobody", {"name": "x"}, (A, A, B, B, B, C)),
    ("DELETE", "/api/v1/agents/2001", None, (A, A, B, B, B, 409)),     # in a call
    ("DELETE", "/api/v1/agents/nobody", None, (A, A, B, B, B, C)),
    ("PATCH", "/api/v1/queues/support", {"strategy": "fastest"}, (A, A, B, B, B, 422)),
    ("PATCH", "/api/v1/queues/nothing", {"ring-timeout": 5}, (A, A, B, B, B, C)),
    ("POST", "/api/v1/queues/support/tiers/2001", None, (A, A, B, B, B, 409)),   # has one
    ("POST", "/api/v1/queues/support/tiers/nobody", None, (A, A, B, B, B, C)),
    ("PATCH", "/api/v1/queues/support/tiers/2001", {"level": 0}, (A, A, B, B, B, 422)),
    ("DELETE", "/api/v1/queues/support/tiers/2002", None, (A, A, B, B, B, C)),   # has none
    ("POST", "/api/v1/reload", None, (A, A, B, B, B, 200)),
    # last: the agent hangs up its call; for the staff after it the call is ending or gone
    ("POST", "/api/v1/calls/{call}/hangup", None, (A, A, 200, B, (404, 409), (404, 409))),
    ("GET", "/api/v1/wallboard", None, (A, A, B, B, 200, 200)),
    ("GET", "/api/v1/events", None, (A, A, 200, 200, 200, 200)),
    ("POST", "/api/v1/events/ticket", None, (A, A, 200, 200, 200, 200)),
]


def test_every_endpoint_answers_every_caller_as_the_matrix_says(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}, "sales": {"tiers": ["2002", "2003"]}},
                        {"2003": {"role": "supervisor"}})
    daemon, admin = world.daemon()
    call = world.call("support")
    assert world.bridged(call) == "2001"
    world.wait_agent("2001", state="in-call")
    expired = _expired_token(world)
    tokens = {"none": lambda: None, "expired": lambda: expired,
              "self": lambda: admin.login("2001", PASSWORD),
              "other": lambda: admin.login("2002", PASSWORD),
              "supervisor": lambda: admin.login("2003", PASSWORD), "admin": lambda: ADMIN}
    wrong = []
    for method, path, body, expected in MATRIX:
        path = path.replace("{call}", call)
        for caller, status in zip(CALLERS, expected):
            got = _status(admin, method, path, body, tokens[caller]())
            if got not in (status if isinstance(status, tuple) else (status,)):
                wrong.append(f"{method} {path} as {caller}: {got}, expected {status}")
    assert not wrong, "\n".join(wrong)


def test_the_matrix_covers_every_operation_of_the_api():
    covered = {(method.lower(), operation_of(method, path.replace("{call}", "x"))[0])
               for method, path, _, _ in MATRIX}
    documented = {(method, path) for path, item in document()["paths"].items()
                  for method in item if method in ("get", "put", "post", "delete", "patch")}
    assert documented - covered == set(), "operations without a row in MATRIX"


def _status(client, method, path, body, token):
    if path == "/api/v1/events":
        stream = client.stream(token=token)
        stream.close()
        return stream.status
    return client.request(method, path, body if body is not None else (
        {} if method in ("POST", "PUT") else None), token=token).status


def _expired_token(world):
    """An integration token for 2001 whose one second has run out (the `acd token` path)."""
    auth = Auth(lambda: world.config, CtiStore.of(world.store), time.time, ADMIN)
    token, _ = auth.create_token("agent", "2001", "short", ttl=1)
    with gevent.Timeout(5, AssertionError("the token did not expire")):
        while auth.store.api_token(sha256(token)):
            gevent.sleep(0.1)
    return token
