"""The HTTP API against a real redis-server and the real gevent WSGI server on port 0.

Requests are made with http.client through tests.blocking (a native thread of gevent's thread
pool when unpatched: the server greenlet keeps the hub while the thread blocks; directly under
monkey-patching, tests/run_patched.py, where the socket yields).
"""

import http.client
import json
import logging

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from acd.config import parse_config
from acd.http import MAX_BODY, serve
from acd.redis_server import free_port
from acd.service import Service
from acd.store import Store, TierRef
from acd.store.store import CONFIG_FIELDS

from tests.blocking import blocking

T0 = 1_800_000_000.0          # 2027-01-15T08:00:00Z
TOKEN = "s3cret-admin-token"
AGENT_KEYS = {"id", "name", "status", "state", "calls_answered", "talk_time", "no_answer_count",
              "idle_since", "idle_since_epoch", "ready_at", "ready_at_epoch", "contact", "call",
              "queues", "skills"}
CONFIG = parse_config({
    "http": {"admin-token": TOKEN},
    "agents": [
        {"id": "1001", "name": "Anna", "contact": "user/1001"},
        {"id": "1002", "name": "Ben", "contact": "user/1002", "status": "on-break"},
        {"id": "1003", "name": "Cleo", "contact": "user/1003"},          # never synced
        {"id": "anna@corp", "name": "Anna C", "contact": "user/anna"},
    ],
    "queues": [
        {"name": "support", "tiers": [{"agent": "1001"}, {"agent": "1002", "level": 2},
                                      {"agent": "1003"}]},
        {"name": "sales", "strategy": "top-down",
         "tiers": [{"agent": "1001", "position": 2}, {"agent": "anna@corp"}]},
    ],
}, env={})


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def tiers_of(config):
    return lambda agent_id: [TierRef(q.name, q.strategy, t.level, t.position)
                             for q, t in config.queues_of(agent_id)]


def sync(store, agent_id, now):
    agent = CONFIG.agent(agent_id)
    store.sync_agent(agent_id, {k: getattr(agent, k) for k in CONFIG_FIELDS}, agent.status, now)


def unreachable_store():
    client = redis.Redis(port=free_port(), decode_responses=True, retry=Retry(NoBackoff(), 0))
    return Store(client, tiers_of=tiers_of(CONFIG))


@pytest.fixture
def store(redis_url):
    store = Store.from_url(redis_url, tiers_of=tiers_of(CONFIG))
    for offset, agent_id in enumerate(["1001", "1002", "anna@corp"]):
        sync(store, agent_id, T0 + offset)
    return store


class Api:
    """A running server and a client for it."""

    def __init__(self, service, token):
        self.service = service
        self.server = serve(service, "127.0.0.1", 0, token)
        self.port = self.server.server_port

    def request(self, method, path, body=None, token=TOKEN, headers=None):
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        return blocking(_http, self.port, method, path, body, headers)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)


class Response:
    def __init__(self, status, headers, data):
        self.status, self.headers, self.data = status, headers, data
        self.json = json.loads(data)

    def __repr__(self):
        return f"<{self.status} {self.data[:200]!r}>"


def _http(port, method, path, body, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers,
                     encode_chunked=not isinstance(body, (str, bytes, type(None))))
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


@pytest.fixture
def make_api():
    started = []

    def start(store, token=TOKEN, **service_kw):
        service_kw.setdefault("clock", Clock(T0 + 100))
        api = Api(Service(CONFIG, store, **service_kw), token)
        started.append(api)
        return api

    yield start
    for api in started:
        api.server.stop()


@pytest.fixture
def changes():
    return []


@pytest.fixture
def api(make_api, store, changes):
    esl_up = lambda: ("esl", True, "connected to 127.0.0.1:8021")  # noqa: E731
    return make_api(store, on_agent_change=changes.append, health_checks=[esl_up])


# -- health ------------------------------------------------------------------------------------

def test_healthz_ok_needs_no_token(api):
    resp = api.get("/healthz", token=None)
    assert resp.status == 200
    assert resp.headers["content-type"] == "application/json; charset=utf-8"
    assert resp.json == {"status": "ok", "checks": {
        "redis": {"ok": True, "reason": ""},
        "esl": {"ok": True, "reason": "connected to 127.0.0.1:8021"}}}


def test_healthz_503_when_a_check_fails(make_api, store):
    def broken():
        raise RuntimeError("boom")

    api = make_api(store, health_checks=[lambda: ("esl", False, "not connected"), broken])
    resp = api.get("/healthz", token=None)
    assert resp.status == 503
    assert resp.json["status"] == "unavailable"
    assert resp.json["checks"]["redis"] == {"ok": True, "reason": ""}
    assert resp.json["checks"]["esl"] == {"ok": False, "reason": "not connected"}
    assert resp.json["errors"][0] == "esl: not connected"
    assert resp.json["errors"][1].startswith("broken: check raised: RuntimeError('boom')")
    assert api.service.health() == (False, resp.json["errors"])


def test_healthz_503_when_redis_is_down(make_api):
    api = make_api(unreachable_store(), health_checks=[lambda: ("esl", True, "")])
    resp = api.get("/healthz", token=None)
    assert resp.status == 503
    assert resp.json["checks"]["redis"]["ok"] is False
    assert "Connection refused" in resp.json["checks"]["redis"]["reason"]
    assert resp.json["errors"] == ["redis: " + resp.json["checks"]["redis"]["reason"]]


def test_healthz_allows_only_get(api):
    resp = api.request("POST", "/healthz", token=None)
    assert resp.status == 405 and resp.headers["allow"] == "GET"


# -- authentication -----------------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic czNjcmV0", TOKEN])
def test_missing_or_malformed_authorization_is_401(api, header):
    headers = {} if header is None else {"Authorization": header}
    resp = api.get("/api/v1/agents", token=None, headers=headers)
    assert resp.status == 401, resp
    assert resp.headers["www-authenticate"].startswith("Bearer")
    assert "Bearer <admin-token>" in resp.json["error"]


@pytest.mark.parametrize("token", ["wrong", TOKEN + "x", TOKEN[:-1], "s3cret-ädmin"])
def test_wrong_token_is_403_and_never_echoed(api, token):
    resp = api.get("/api/v1/queues", token=token)
    assert resp.status == 403 and resp.json == {"error": "invalid admin token"}
    assert "www-authenticate" not in resp.headers


def test_bearer_scheme_is_case_insensitive(api):
    assert api.get("/api/v1/agents", token=None,
                   headers={"Authorization": f"bearer {TOKEN}"}).status == 200


def test_no_configured_token_fails_closed(make_api, store):
    for token in (None, ""):
        api = make_api(store, token=token)
        for header_token in (None, TOKEN, ""):
            resp = api.get("/api/v1/agents", token=header_token)
            assert resp.status == 403 and "no admin token is configured" in resp.json["error"]
        assert api.get("/healthz", token=None).status == 200


def test_unknown_api_paths_need_the_token_first(api):
    assert api.get("/api/v1/nothing", token=None).status == 401
    assert api.get("/api/v1/nothing", token="wrong").status == 403
    resp = api.get("/api/v1/nothing")
    assert resp.status == 404 and resp.json == {"error": "no such path: /api/v1/nothing"}
    assert api.get("/nothing", token=None).status == 404
    assert api.get("/static", token=None).status == 404


@pytest.mark.parametrize("path", ["//api/v1/agents", "///api/v1/wallboard", "//api/v1",
                                  "//api/v1/agents/1001"])
def test_leading_slashes_do_not_skip_the_token(api, path):
    # found by make fuzz (fuzz/http_targets.py): Falcon routes //api/v1/x as /api/v1/x, and the
    # token check looked at the raw path -- a 500 (no principal), or worse for an unguarded page
    assert api.get(path, token=None).status == 401
    assert api.get(path, token="wrong").status == 403
    assert api.get(path).status in (200, 404)


def test_no_response_contains_the_token(api):
    paths = ["/healthz", "/api/v1/agents", "/api/v1/queues", "/api/v1/queues/support",
             "/api/v1/agents/1001", "/api/v1/agents/nobody", "/x"]
    for path in paths:
        for token in (TOKEN, "wrong", None):
            assert TOKEN.encode() not in api.get(path, token=token).data


# -- agents -------------------------------------------------------------------------------------

def test_agents_list_in_config_order_with_exact_keys(api):
    resp = api.get("/api/v1/agents")
    assert resp.status == 200
    assert resp.headers["content-type"] == "application/json; charset=utf-8"
    agents = resp.json
    assert [a["id"] for a in agents] == ["1001", "1002", "1003", "anna@corp"]
    assert all(set(a) == AGENT_KEYS for a in agents)
    assert agents[0] == {
        "id": "1001", "name": "Anna", "status": "available", "state": "waiting",
        "calls_answered": 0, "talk_time": 0.0, "no_answer_count": 0,
        "idle_since": "2027-01-15T08:00:00.000Z", "idle_since_epoch": T0,
        "ready_at": None, "ready_at_epoch": None, "contact": "user/1001", "call": None, "skills": {},
        "queues": [{"name": "support", "level": 1, "position": 1},
                   {"name": "sales", "level": 1, "position": 2}]}
    assert agents[1]["status"] == "on-break"           # the config's initial status
    assert agents[1]["idle_since"] == "2027-01-15T08:00:01.000Z"


def test_agent_not_yet_in_redis_shows_config_status_and_zeros(api):
    resp = api.get("/api/v1/agents/1003")
    assert resp.status == 200
    assert resp.json == {
        "id": "1003", "name": "Cleo", "status": "available", "state": "waiting",
        "calls_answered": 0, "talk_time": 0.0, "no_answer_count": 0,
        "idle_since": None, "idle_since_epoch": None, "ready_at": None, "ready_at_epoch": None,
        "contact": "user/1003", "call": None, "skills": {},
        "queues": [{"name": "support", "level": 1, "position": 1}],
        "recording_consent": {"consent": False, "at": None, "at_epoch": None}}


def test_agent_ids_are_url_decoded_and_matched_exactly(api):
    assert api.get("/api/v1/agents/anna%40corp").json["name"] == "Anna C"
    assert api.get("/api/v1/agents/anna@corp").json["name"] == "Anna C"
    for path in ["/api/v1/agents/ANNA%40corp", "/api/v1/agents/anna", "/api/v1/agents/%31001x"]:
        resp = api.get(path)
        assert resp.status == 404 and resp.json["error"].startswith("unknown agent"), path
    assert api.get("/api/v1/agents/%31001").json["id"] == "1001"   # %31 is "1"
    assert api.get("/api/v1/agents/1001/").status == 404            # no trailing slash
    assert api.get("/api/v1/agents/1001%2Fstatus").status == 404    # an encoded / stays in the id


def test_agent_states_and_counters(api, store):
    store.reserve("1001", "c1", "support", "d1", T0 + 10, 30)
    assert api.get("/api/v1/agents/1001").json["state"] == "reserved"
    store.ringing("1001", "c1", "leg-1", T0 + 10, 30)
    view = api.get("/api/v1/agents/1001").json
    assert view["state"] == "ringing" and view["call"] == "c1"
    store.answered("1001", "c1", T0 + 12, 30)
    assert api.get("/api/v1/agents/1001").json["state"] == "in-call"
    store.release("1001", "c1", "ended", T0 + 92.5)     # 80.5 s of talk, 10 s of wrap-up
    view = api.get("/api/v1/agents/1001").json
    assert view["state"] == "wrap-up" and view["calls_answered"] == 1
    assert view["talk_time"] == 80.5 and view["call"] is None
    assert view["ready_at"] == "2027-01-15T08:01:42.500Z" and view["ready_at_epoch"] == T0 + 102.5
    store.reserve("anna@corp", "c2", "sales", "d1", T0 + 20, 30)
    store.release("anna@corp", "c2", "no_answer", T0 + 20)
    assert api.get("/api/v1/agents/anna%40corp").json["no_answer_count"] == 1


# -- status changes -----------------------------------------------------------------------------

def test_status_change_reaches_redis_and_the_observer(api, store, changes):
    resp = api.request("PUT", "/api/v1/agents/1002/status", {"status": "available"})
    assert resp.status == 200
    assert set(resp.json) == AGENT_KEYS | {"recording_consent"} and resp.json["status"] == "available"
    assert store.agent("1002")["status"] == "available"
    assert store.candidates("support", limit=5) == ["1001", "1002"]   # 1002 is level 2
    assert changes == ["1002"]
    resp = api.request("PUT", "/api/v1/agents/1001/status", {"status": "on-break"})
    assert resp.json["status"] == "on-break" and store.agent("1001")["status"] == "on-break"
    assert store.candidates("support", limit=5) == ["1002"]
    assert store.candidates("sales", limit=5) == ["anna@corp"]
    assert changes == ["1002", "1001"]
    api.request("PUT", "/api/v1/agents/anna%40corp/status", {"status": "logged-out"})
    assert store.candidates("sales") == [] and changes[-1] == "anna@corp"


def test_a_failing_observer_is_logged_not_raised(make_api, store, caplog):
    def observer(agent_id):
        raise RuntimeError("observer broke")

    api = make_api(store, on_agent_change=observer)
    with caplog.at_level(logging.ERROR, logger="acd.service"):
        resp = api.request("PUT", "/api/v1/agents/1001/status", {"status": "on-break"})
    assert resp.status == 200 and store.agent("1001")["status"] == "on-break"
    assert "on_agent_change('1001') failed" in caplog.text


@pytest.mark.parametrize("body, message", [
    ("{not json", "malformed JSON body"),
    ("", "malformed JSON body"),
    (b"\xff\xfe\x00", "malformed JSON body"),
    ('["available"]', 'expected a JSON object {"status": ...}'),
    ({"state": "available"}, 'expected a JSON object {"status": ...}'),
    ({"status": "Available"}, 'invalid status "Available"'),
    ({"status": None}, "invalid status null"),
    ({"status": 1}, "invalid status 1"),
])
def test_bad_status_bodies_are_400_and_say_what_is_valid(api, store, changes, body, message):
    resp = api.request("PUT", "/api/v1/agents/1001/status", body)
    assert resp.status == 400, resp
    assert message in resp.json["error"]
    if "JSON object" in message or "invalid status" in message:
        assert "logged-out, available, on-break" in resp.json["error"]
    assert store.agent("1001")["status"] == "available" and changes == []


def test_status_of_unknown_or_unsynced_agent(api, changes):
    resp = api.request("PUT", "/api/v1/agents/nobody/status", {"status": "available"})
    assert resp.status == 404 and resp.json == {"error": "unknown agent 'nobody'"}
    resp = api.request("PUT", "/api/v1/agents/1003/status", {"status": "available"})
    assert resp.status == 503 and "not in Redis yet" in resp.json["error"]
    assert changes == []


def test_wrong_methods_are_405_with_allow(api):
    cases = [("GET", "/api/v1/agents/1001/status", "PUT"), ("PUT", "/api/v1/agents", "GET, POST"),
             ("DELETE", "/api/v1/queues/support", "GET, PATCH"),
             ("PUT", "/api/v1/agents/1001", "DELETE, GET, PATCH")]
    for method, path, allow in cases:
        resp = api.request(method, path, body="{}" if method == "PUT" else None)
        assert resp.status == 405 and resp.headers["allow"] == allow, (method, path)
        assert resp.json == {"error": f"method not allowed; allowed: {allow}"}


def test_bodies_over_64k_are_413(api, store):
    big = json.dumps({"status": "on-break", "pad": "x" * MAX_BODY})
    resp = api.request("PUT", "/api/v1/agents/1001/status", big)
    assert resp.status == 413 and "65536" in resp.json["error"]
    resp = api.request("PUT", "/api/v1/agents/1001/status", iter([big.encode()]))  # chunked
    assert resp.status == 413
    assert store.agent("1001")["status"] == "available"
    exact = json.dumps({"status": "on-break", "pad": ""})
    exact = exact[:-2] + "x" * (MAX_BODY - len(exact)) + exact[-2:]
    assert len(exact) == MAX_BODY
    assert api.request("PUT", "/api/v1/agents/1001/status", exact).status == 200


# -- queues -------------------------------------------------------------------------------------

def enqueue_callers(store):
    """support: u1 (T0), u3 (T0+20, 15 s of priority), u2 (T0+10), u4 (overflowed from sales)."""
    store.enqueue("u1", "support", 0, T0, caller_number="+4930111", caller_name="Max", owner="d")
    store.enqueue("u2", "support", 0, T0 + 10, caller_number="+4930222", owner="d")
    store.enqueue("u3", "support", 15, T0 + 20, caller_number="+4930333", owner="d")
    store.enqueue("u4", "sales", 0, T0 + 5, caller_number="+4930444", owner="d")
    store.move_call("u4", "sales", "support", T0 + 30)


def test_queues_summary(api, store):
    enqueue_callers(store)
    store.enqueue("s1", "sales", 0, T0 + 70, owner="d")
    store.reserve("1001", "u1", "support", "d", T0 + 90, 30)
    queues = api.get("/api/v1/queues").json
    assert [q["name"] for q in queues] == ["support", "sales"]
    assert queues[0] == {
        "name": "support", "strategy": "longest-idle-agent", "waiting": 4, "longest_wait": 100.0,
        "agents": {"total": 3, "available": 0,
                   "by_state": {"waiting": 2, "reserved": 1, "ringing": 0, "in-call": 0,
                                "wrap-up": 0},
                   "by_status": {"logged-out": 0, "available": 2, "on-break": 1}}}
    assert queues[1]["strategy"] == "top-down"
    assert queues[1]["waiting"] == 1 and queues[1]["longest_wait"] == 30.0
    assert queues[1]["agents"]["total"] == 2 and queues[1]["agents"]["available"] == 1
    assert "callers" not in queues[0]


def test_queue_callers_in_order_with_exact_waits(api, store):
    enqueue_callers(store)
    resp = api.get("/api/v1/queues/support")
    assert resp.status == 200
    view = resp.json
    assert view["waiting"] == 4 and view["longest_wait"] == 100.0
    assert [(c["uuid"], c["position"], c["wait"]) for c in view["callers"]] == [
        ("u1", 1, 100.0), ("u3", 2, 80.0), ("u2", 3, 90.0), ("u4", 4, 95.0)]
    assert view["callers"][0] == {
        "uuid": "u1", "position": 1, "wait": 100.0, "caller_number": "+4930111",
        "caller_name": "Max", "priority": 0.0, "state": "waiting",
        "enqueued_at": "2027-01-15T08:00:00.000Z", "queue_since": None}
    assert view["callers"][1]["priority"] == 15.0 and view["callers"][1]["caller_name"] == ""
    assert view["callers"][3]["queue_since"] == "2027-01-15T08:00:30.000Z"
    assert view["agents"]["available"] == 1           # 1001 (1002 on break, 1003 unsynced)
    assert view["tiers"] == [
        {"id": "1001", "name": "Anna", "status": "available", "state": "waiting",
         "level": 1, "position": 1},
        {"id": "1002", "name": "Ben", "status": "on-break", "state": "waiting",
         "level": 2, "position": 1},
        {"id": "1003", "name": "Cleo", "status": "available", "state": "waiting",
         "level": 1, "position": 1}]


def test_waits_follow_the_clock(make_api, store):
    clock = Clock(T0 + 5)
    api = make_api(store, clock=clock)
    store.enqueue("u1", "sales", 0, T0, owner="d")
    assert api.get("/api/v1/queues/sales").json["callers"][0]["wait"] == 5.0
    clock.now = T0 + 65.25
    assert api.get("/api/v1/queues/sales").json["longest_wait"] == 65.25


def test_empty_and_unknown_queues(api):
    view = api.get("/api/v1/queues/sales").json
    assert view["waiting"] == 0 and view["longest_wait"] == 0.0 and view["callers"] == []
    resp = api.get("/api/v1/queues/nothing")
    assert resp.status == 404 and resp.json == {"error": "unknown queue 'nothing'"}
    assert api.get("/api/v1/queues/Support").status == 404


def test_a_call_ending_while_listed_is_skipped(api, store):
    enqueue_callers(store)
    store.redis.delete(store.keys.call("u3"))  # hash gone, zset entry not yet
    callers = api.get("/api/v1/queues/support").json["callers"]
    assert [(c["uuid"], c["position"]) for c in callers] == [("u1", 1), ("u2", 2), ("u4", 3)]


# -- failures -----------------------------------------------------------------------------------

def test_redis_down_is_503_on_the_api(make_api):
    api = make_api(unreachable_store())
    resp = api.get("/api/v1/agents")
    assert resp.status == 503 and resp.json == {"error": "redis unavailable"}
    resp = api.request("PUT", "/api/v1/agents/1001/status", {"status": "available"})
    assert resp.status == 503


def test_a_handler_exception_is_500_logged_and_the_server_survives(api, monkeypatch, caplog):
    def broken():
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(api.service, "queues_view", broken)
    with caplog.at_level(logging.ERROR, logger="acd.http"):
        resp = api.get("/api/v1/queues")
    assert resp.status == 500 and resp.json == {"error": "internal error"}
    assert resp.headers["content-type"] == "application/json; charset=utf-8"
    assert any(r.name == "acd.http" and r.exc_info for r in caplog.records)
    assert "GET /api/v1/queues failed" in caplog.text
    assert api.get("/api/v1/agents").status == 200
