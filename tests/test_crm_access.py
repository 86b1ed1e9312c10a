"""The authorization matrix's column for the ``integration`` role (a CRM's token): every row of
tests/test_cti_access.MATRIX asked with an integration token. It may start calls for any agent
and read calls and agents -- everything else is refused (403), whatever endpoints are added."""

import time

from acd.cti.auth import Auth
from acd.store.cti import CtiStore
from tests import cti_world
from tests.test_cti_access import MATRIX, _status

cti_factory = cti_world.cti_factory   # the fixture

#: (method, path) -> what an integration token gets; every other row: 403.
ALLOWED = {
    ("GET", "/healthz"): 200, ("GET", "/metrics"): 200, ("GET", "/api/v1/openapi.json"): 200,
    ("POST", "/api/v1/login"): 400, ("POST", "/api/v1/logout"): 400, ("GET", "/api/v1/me"): 200,
    ("GET", "/api/v1/agents"): 200, ("GET", "/api/v1/agents/2001"): 200,
    ("GET", "/api/v1/agents/nobody"): 404, ("GET", "/api/v1/agents/2001/calls"): 200,
    ("GET", "/api/v1/agents/nobody/calls"): 404, ("GET", "/api/v1/calls/{call}"): 200,
    ("GET", "/api/v1/calls/no-such-call"): 404,
    # click-to-dial for any agent: past the check to a harmless 422
    ("POST", "/api/v1/calls"): (422, 404),
}


def test_an_integration_token_starts_calls_and_reads_calls_and_agents_only(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}, "sales": {"tiers": ["2002"]}})
    daemon, admin = world.daemon()
    call = world.call("support")
    assert world.bridged(call) == "2001"
    world.wait_agent("2001", state="in-call")
    auth = Auth(lambda: world.config, CtiStore.of(world.store), time.time, "test-token")
    token, fields = auth.create_token("integration", None, "crm")
    assert fields["role"] == "integration"
    wrong = []
    for method, path, body, _ in MATRIX:
        expected = ALLOWED.get((method, path), 403)
        got = _status(admin, method, path.replace("{call}", call), body, token)
        if got not in (expected if isinstance(expected, tuple) else (expected,)):
            wrong.append(f"{method} {path}: {got}, expected {expected}")
    assert not wrong, "\n".join(wrong)
    assert admin.get("/api/v1/me", token=token).json["role"] == "integration"


def test_the_cli_creates_integration_tokens_without_an_agent(cti_factory):
    import pytest

    world = cti_factory({"support": {"tiers": ["2001"]}})
    auth = Auth(lambda: world.config, CtiStore.of(world.store), time.time, "x")
    with pytest.raises(ValueError, match="acts for any agent"):
        auth.create_token("integration", "2001", "crm")
