"""A client of acd's HTTP API for the CTI tests: plain http.client over gevent's cooperative
sockets (so the same tests run with and without monkey-patching, next to an in-process daemon),
an SSE reader in a greenlet, and every JSON answer checked against the OpenAPI document.
"""

import http.client
import json
import time

import gevent
import gevent.event
import gevent.queue
import gevent.socket

from tests.openapi_check import check_event, check_response


class _Connection(http.client.HTTPConnection):
    def connect(self):
        self.sock = gevent.socket.create_connection((self.host, self.port), self.timeout)


class Response:
    def __init__(self, status, headers, data):
        self.status, self.headers, self.data = status, headers, data
        is_json = headers.get("content-type", "").startswith("application/json")
        self.json = json.loads(data) if data and is_json else None

    def __repr__(self):
        return f"<{self.status} {self.data[:300]!r}>"


class Client:
    """Requests to ``http://127.0.0.1:port`` with an optional bearer ``token``."""

    def __init__(self, port, token=None, check=True):
        self.port, self.token, self.check = port, token, check

    def as_(self, token):
        return Client(self.port, token, self.check)

    def request(self, method, path, body=None, token=..., headers=None):
        headers = dict(headers or {})
        token = self.token if token is ... else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        conn = _Connection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            found = Response(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                             resp.read())
        finally:
            conn.close()
        if self.check:
            check_response(method, path, found.status, found.headers, found.json)
        return found

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def login(self, agent, password):
        resp = self.post("/api/v1/login", {"agent": agent, "password": password}, token=None)
        assert resp.status == 200, resp
        return resp.json["token"]

    def stream(self, token=..., last_event_id=None, query=""):
        return EventStream(self.port, self.token if token is ... else token, last_event_id,
                           query)


class EventStream:
    """One connection to GET /api/v1/events; events arrive in ``events`` (a greenlet reads
    them): each a dict {"id", "event", "data", "at"} (``at``: time.monotonic() on arrival)."""

    def __init__(self, port, token, last_event_id=None, query=""):
        self.events = gevent.queue.Queue()
        self.seen = []
        self.comments = []
        self.invalid = []           # events whose data do not match the OpenAPI schemas
        self.conn = _Connection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", "/api/v1/events" + query, headers=headers)
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = {k.lower(): v for k, v in self.response.getheaders()}
        self.ended = gevent.event.Event()
        self.reader = gevent.spawn(self._read) if self.status == 200 else None
        if self.reader is None:
            self.error = json.loads(self.response.read())

    def _read(self):
        fields = {}
        try:
            while True:
                line = self.response.readline()
                if not line:
                    return
                line = line.decode("utf-8").rstrip("\n")
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                elif line == "":
                    if "data" in fields or "event" in fields:
                        self._deliver(fields)
                    fields = {}
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
        except (OSError, ValueError, http.client.HTTPException):
            return
        finally:
            self.ended.set()

    def _deliver(self, fields):
        event = {"id": fields.get("id"), "event": fields.get("event", "message"),
                 "data": json.loads(fields.get("data") or "null"), "at": time.monotonic(),
                 "wall": time.time()}
        try:
            check_event(event["event"], event["data"])
        except AssertionError as exc:
            self.invalid.append(str(exc))
        self.seen.append(event)
        self.events.put(event)

    def next(self, predicate=lambda e: True, timeout=10.0, what="event"):
        """The next event (taken from the queue) that satisfies ``predicate``."""
        with gevent.Timeout(timeout, AssertionError(f"no {what} within {timeout} s; seen: "
                                                    f"{[(e['event'], e['data']) for e in self.seen][-8:]}")):
            while True:
                event = self.events.get()
                assert not self.invalid, self.invalid
                if predicate(event):
                    return event

    def check(self):
        """AssertionError if an event seen so far does not match its OpenAPI schema."""
        assert not self.invalid, self.invalid

    def close(self):
        if self.reader is not None:
            self.reader.kill()
        try:
            self.conn.sock and self.conn.sock.close()
        except OSError:
            pass
        self.conn.close()
