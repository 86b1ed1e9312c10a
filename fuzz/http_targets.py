"""Fuzz target for the HTTP API: a live ``acd run`` (with the simulator as FreeSWITCH and a
private redis-server) over real HTTP. tests/test_cti_openapi.py runs schemathesis *within* the
OpenAPI document; this goes outside it: paths made of the routes' pieces and junk (percent
escapes, dots, huge ids), any method, odd headers (Authorization with garbage, the admin
token, an agent's token, wrong Content-Type / Accept), bodies that are JSON of any shape or
not JSON at all.

Properties: every request is answered (no hang: 10 s socket timeout), never with a 5xx
(503 only from /healthz, which reports a check), and the daemon is still healthy at the end.
"""

import http.client
import json
import os
import subprocess
import sys
import time

import argon2
import yaml
from hypothesis import given
from hypothesis import strategies as st

from acd.http.server import ROUTES
from acd.redis_server import RedisServer, free_port
from acd.sim.process import SimProcess

ADMIN = "fuzz-admin-token"
PASSWORD = "fuzz password"
_TEMPLATE_PARTS = sorted({part for path, _ in ROUTES for part in path.strip("/").split("/")})


class LiveApi:
    """``acd run`` + ``acd sim`` + redis-server in a temporary directory."""

    def __init__(self, tmp):
        self.redis = RedisServer().start()
        sim_file = os.path.join(tmp, "sim.yaml")
        with open(sim_file, "w") as out:
            yaml.safe_dump({"password": "ClueCon", "users": {"2001": {"answer-after": 0.3}},
                            "dialplan": {"5000": [["set", "acd_queue=support"], ["answer"],
                                                  ["park"]]}}, out)
        self.sim = SimProcess(sim_file, password="ClueCon").start()
        self.port = free_port()
        hashed = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
        config = os.path.join(tmp, "acd.yaml")
        with open(config, "w") as out:
            yaml.safe_dump({
                "freeswitch": {"host": "127.0.0.1", "port": self.sim.port, "password": "ClueCon"},
                "redis": {"url": self.redis.url, "prefix": "fuzz"},
                "http": {"listen": f"127.0.0.1:{self.port}", "admin-token": ADMIN},
                "cti": {"break-reasons": ["lunch"]},
                "agents": [{"id": a, "contact": f"user/{a}", "password-hash": hashed,
                            **({"role": "supervisor"} if a == "2003" else {})}
                           for a in ("2001", "2002", "2003")],
                "queues": [{"name": "support", "tiers": [{"agent": "2001"}, {"agent": "2002"}]}],
            }, out)
        self.log = open(os.path.join(tmp, "acd.log"), "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "acd", "run", "--config", config],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.wait_healthy()
        self.tokens = [ADMIN, self.login("2001"), self.login("2003"), "", "x" * 5000, "%00"]

    def wait_healthy(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz", {}, b"")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("acd run is not healthy")

    def login(self, agent):
        status, body = self.request("POST", "/api/v1/login", {"Content-Type": "application/json"},
                                    json.dumps({"agent": agent, "password": PASSWORD}).encode())
        assert status == 200, body
        return json.loads(body)["token"]

    def request(self, method, path, headers, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            if response.getheader("Content-Type", "").startswith("text/event-stream"):
                return response.status, b""   # a live stream: answered is enough
            return response.status, response.read()
        finally:
            conn.close()

    def log_tail(self, lines=40):
        self.log.flush()
        with open(self.log.name) as log:
            return "".join(log.readlines()[-lines:])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()
        self.sim.stop()
        self.redis.stop()


_SEGMENTS = st.sampled_from(_TEMPLATE_PARTS + ["2001", "2002", "2003", "9999", "support", "x",
                                               "..", ".", "%2F", "%00", "%E2%82%AC", "%", "a" * 300,
                                               "events", "", "lunch"])
paths = st.one_of(
    st.lists(_SEGMENTS, min_size=1, max_size=6).map(lambda parts: "/" + "/".join(parts)),
    st.sampled_from([p for p, _ in ROUTES]).map(
        lambda p: p.replace("{agent_id}", "2001").replace("{queue}", "support")
        .replace("{name}", "support").replace("{uuid}", "00000000-0000-0000-0000-000000000000")),
).map(lambda p: p.replace("{", "%7B").replace("}", "%7D")) | st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=60).map(
    lambda p: "/" + p.replace("#", "%23").replace("?", "%3F"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["status", "reason", "agent", "password", "queue", "to", "code", "note",
                         "level", "position", "skills", "x"]) | st.text(max_size=8),
        inner, max_size=5), max_leaves=12)
bodies = st.one_of(st.just(b""), json_values.map(lambda v: json.dumps(v).encode()),
                   st.binary(max_size=300))
methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE",
                           "FOO"])
_CONTENT_TYPES = st.sampled_from(["application/json", "text/plain", "application/json; charset=x",
                                  "multipart/form-data", "", "application/x-www-form-urlencoded"])


def make_target(api):
    @given(methods, paths, st.integers(0, len(api.tokens)), st.sampled_from(
        ["Bearer", "bearer", "Basic", ""]), _CONTENT_TYPES, bodies,
        st.sampled_from(["", "?x=1", "?agent=2001&queue=support", "?limit=-1", "?limit=99999999999",
                         "?since=abc", "?%zz"]))
    def http_api(method, path, token, scheme, content_type, body, query):
        headers = {"Content-Type": content_type} if content_type else {}
        if token < len(api.tokens):
            headers["Authorization"] = f"{scheme} {api.tokens[token]}".strip()
        status, answer = api.request(method, path + query, headers, body)
        assert status < 500 or (path == "/healthz" and status == 503), (status, answer[:300])
    return http_api
