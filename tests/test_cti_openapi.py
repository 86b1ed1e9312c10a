"""The OpenAPI document (acd/http/openapi.yaml): valid OpenAPI 3.1, served as it is, in step
with the routes -- and a property-based run (schemathesis, driving hypothesis) against a live
``acd run`` over real HTTP that must find no server error and no answer the document does not
describe. (Every answer of the other API tests is checked against the document too: conftest.)
"""

import collections
import json
import os
import subprocess
import sys
import time
import urllib.request
import zlib

import hypothesis
import pytest
import requests
import schemathesis
import yaml
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from acd import __version__
from acd.http.openapi import document
from acd.http.server import ROUTES
from acd.redis_server import free_port
from acd.sim.process import SimProcess
from tests import cti_world
from tests.acd_world import sim_config
from tests.cti_world import ADMIN, HASH, PASSWORD
from tests.openapi_check import check_response

cti_factory = cti_world.cti_factory   # the fixture
#: Examples per operation in the property-based run.
EXAMPLES = int(os.environ.get("ACD_TEST_API_EXAMPLES", "40"))


def test_the_document_is_valid_openapi_3_1():
    validate(document())
    assert document()["openapi"] == "3.1.0"


def test_routes_and_document_name_the_same_paths():
    assert {path for path, _ in ROUTES} == set(document()["paths"])


def test_the_document_is_served_without_a_token(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}})
    _, admin = world.daemon()
    resp = admin.get("/api/v1/openapi.json", token=None)
    assert resp.status == 200 and resp.headers["content-type"].startswith("application/json")
    assert resp.json == dict(document(), info=dict(document()["info"], version=__version__))


def test_the_response_checker_fails_on_what_the_document_does_not_say():
    agent = {"id": "1"}
    with pytest.raises(AssertionError, match="required property"):
        check_response("GET", "/api/v1/agents/1", 200, {"content-type": "application/json"}, agent)
    with pytest.raises(AssertionError, match="not documented"):
        check_response("GET", "/api/v1/agents/1", 418, {"content-type": "application/json"},
                       {"error": "teapot"})
    check_response("GET", "/api/v1/agents/1", 404, {"content-type": "application/json"},
                   {"error": "unknown agent '1'"})


# -- the property-based run ----------------------------------------------------------------------

class LiveApi:
    """``acd run`` as a process with the simulator as FreeSWITCH."""

    def __init__(self, tmp, redis_url):
        sim_file = tmp / "sim.yaml"
        sim_file.write_text(yaml.safe_dump(sim_config(["support", "sales"])))
        self.sim = SimProcess(sim_file, password="ClueCon").start()
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = tmp / "acd.yaml"
        config.write_text(yaml.safe_dump({
            "freeswitch": {"host": "127.0.0.1", "port": self.sim.port, "password": "ClueCon"},
            "redis": {"url": redis_url, "prefix": "schema"},
            "http": {"listen": f"127.0.0.1:{port}", "admin-token": ADMIN},
            "cti": {"break-reasons": ["lunch"]},
            "agents": [{"id": a, "contact": f"user/{a}", "password-hash": HASH,
                        **({"role": "supervisor"} if a == "2003" else {})}
                       for a in ("2001", "2002", "2003")],
            "queues": [{"name": "support", "tiers": [{"agent": "2001"}, {"agent": "2002"}]},
                       {"name": "sales", "tiers": [{"agent": "2003"}]}],
        }))
        self.log = open(tmp / "acd.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "acd", "run", "--config", str(config)],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.statuses = collections.Counter()
        self._wait_healthy()
        self.tokens = {"agent": _login(self.url, "2001"), "supervisor": _login(self.url, "2003")}

    def _wait_healthy(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("acd run did not become healthy")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()
        self.sim.stop()


@pytest.fixture(scope="module")
def live_api(tmp_path_factory, redis_server):
    api = LiveApi(tmp_path_factory.mktemp("live"), redis_server.url[:-1] + "2")  # own database
    yield api
    api.stop()
    total = sum(api.statuses.values())
    print(f"\nproperty-based run: {total} requests, statuses {dict(sorted(api.statuses.items()))}")
    with open(api.log.name) as stream:
        log = stream.read()
    assert "Traceback" not in log, log[-3000:]


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
schema = schemathesis.openapi.from_dict(document())


@schema.parametrize()
@hypothesis.settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck),
                     phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
def test_a_property_based_run_finds_no_server_error(case, live_api):
    token = _token_for(case, live_api)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if case.path == "/api/v1/events":   # a stream: the status, then let go
        kwargs = case.as_transport_kwargs(base_url=live_api.url, headers=headers)
        with requests.request(**kwargs, stream=True, timeout=10) as response:
            live_api.statuses[response.status_code] += 1
            assert response.status_code in (200, 400, 401, 403, 405), response.status_code
        return
    response = case.call(base_url=live_api.url, headers=headers, timeout=10)
    live_api.statuses[response.status_code] += 1
    case.validate_response(response, checks=CHECKS)


def _token_for(case, api):
    """The admin token mostly; an agent's or a supervisor's login for some cases, so their
    paths through the guards are driven too (never for logout: it would end the session)."""
    if case.path == "/api/v1/logout":
        return ADMIN
    pick = zlib.crc32(f"{case.method} {case.path} {case.path_parameters} {case.body}".encode())
    return (ADMIN, api.tokens["agent"], api.tokens["supervisor"])[pick % 3]


def _login(url, agent):
    request = urllib.request.Request(
        url + "/api/v1/login", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"agent": agent, "password": PASSWORD}).encode())
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())["token"]
