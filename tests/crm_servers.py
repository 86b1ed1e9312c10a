"""Real local HTTP servers for the CRM tests: a CRM that answers in every way a CRM can (right,
slow, 500, not JSON, huge, redirected elsewhere) and webhook receivers that check signatures
with the standard library's hmac -- independently of acd's code.

Both are gevent WSGI servers on port 0 in this process; each keeps what it saw.
"""

import hashlib
import hmac
import json
import time
import urllib.parse

import gevent
from gevent.pywsgi import WSGIServer

CONTACTS = {
    "+4930111222": {"name": "Max Mustermann", "company": {"name": "ACME GmbH"}, "tier": "gold",
                    "links": {"web": "https://crm.example/contacts/42"}},
    "+4930999000": {"name": "Eve", "company": {"name": "Evil <b>Corp</b>"}, "tier": "bronze",
                    "links": {"web": "javascript:alert(1)"}},
}


class _Server:
    def __init__(self):
        self.requests = []
        self.server = WSGIServer(("127.0.0.1", 0), self.app, log=None, error_log=None)
        self.server.start()
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.stop(timeout=1)


class Crm(_Server):
    """``/contacts?phone=N`` answers the contact; ``/slow`` after ``slow`` seconds; ``/500``,
    ``/malformed``, ``/huge`` (2 MB), ``/redirect`` (to ``other``), ``/same`` (to /contacts)."""

    def __init__(self, slow=1.0, other=None):
        self.slow, self.other = slow, other
        super().__init__()

    def app(self, environ, start_response):
        path, query = environ["PATH_INFO"], urllib.parse.parse_qs(environ["QUERY_STRING"])
        self.requests.append({"path": path, "query": environ["QUERY_STRING"], "raw":
                              environ.get("RAW_URI", ""),
                              "authorization": environ.get("HTTP_AUTHORIZATION")})
        phone = query.get("phone", [""])[0]
        if path == "/500":
            return self._send(start_response, "500 Internal Server Error", b"oops")
        if path == "/malformed":
            return self._send(start_response, "200 OK", b'{"name": "Max", ')
        if path == "/huge":
            return self._send(start_response, "200 OK", b'{"name": "' + b"x" * 2_000_000 + b'"}')
        if path == "/redirect":
            start_response("302 Found", [("Location", f"{self.other}/contacts?phone={phone}")])
            return [b""]
        if path == "/same":
            start_response("302 Found", [("Location", "/contacts?phone=" + urllib.parse.quote(phone))])
            return [b""]
        if path == "/slow":
            gevent.sleep(self.slow)
        if phone not in CONTACTS:
            return self._send(start_response, "404 Not Found", b"{}")
        return self._send(start_response, "200 OK", json.dumps(CONTACTS[phone]).encode())

    @staticmethod
    def _send(start_response, status, body):
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(body)))])
        return [body]


class Receiver(_Server):
    """A webhook receiver: verifies each delivery's signature with ``secret`` (stdlib hmac),
    answers 503 to the first ``drop`` deliveries and to everything while ``down``."""

    def __init__(self, secret, drop=0):
        self.secret, self.drop, self.down = secret.encode(), drop, False
        self.received, self.refused, self.bad = [], [], []
        super().__init__()

    def app(self, environ, start_response):
        body = environ["wsgi.input"].read()
        stamp = environ.get("HTTP_X_ACD_TIMESTAMP", "")
        expected = "sha256=" + hmac.new(self.secret, stamp.encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        delivery = {"event": environ.get("HTTP_X_ACD_EVENT"), "body": json.loads(body or b"null"),
                    "id": environ.get("HTTP_X_ACD_DELIVERY"), "timestamp": stamp}
        if not hmac.compare_digest(expected, environ.get("HTTP_X_ACD_SIGNATURE", "")) or abs(
                time.time() - float(stamp or 0)) > 300:
            self.bad.append(delivery)
            start_response("400 Bad Request", [])
            return [b"bad signature"]
        if self.down or self.drop > 0:
            self.drop = max(self.drop - 1, 0)
            self.refused.append(delivery)
            start_response("503 Service Unavailable", [])
            return [b"down"]
        self.received.append(delivery)
        start_response("204 No Content", [])
        return [b""]

    def of_call(self, call):
        return [d for d in self.received if d["event"].startswith("call.")
                and (d["body"] or {}).get("call") == call]
