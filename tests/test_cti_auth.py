"""Logins, sessions, integration tokens and event-stream tickets against daemons serving the API
over real HTTP (tests/cti_world.py), with the real `acd token` command."""

import logging
import os
import subprocess
import sys
import time

import gevent
import yaml

from acd.store.keys import sha256
from tests import cti_world
from tests.cti_world import PASSWORD

cti_factory = cti_world.cti_factory   # the fixture

QUEUES = {"support": {"tiers": ["2001", "2002"]}}


def test_login_gives_a_token_valid_on_every_daemon_until_logout(cti_factory):
    world = cti_factory(QUEUES, http={"session-ttl": "8h"})
    _, east = world.daemon(owner="east")
    _, west = world.daemon(owner="west")
    before = time.time()
    resp = east.post("/api/v1/login", {"agent": "2001", "password": PASSWORD}, token=None)
    assert resp.status == 200, resp
    assert "set-cookie" not in resp.headers
    body = resp.json
    assert body["token"].startswith("acd_s_") and len(body["token"]) > 40
    assert (body["role"], body["agent"]) == ("agent", "2001")
    assert before + 8 * 3600 - 1 < body["expires_at_epoch"] < time.time() + 8 * 3600 + 1
    token = body["token"]
    for api in (east, west):       # the session lives in Redis: every daemon knows it
        me = api.get("/api/v1/me", token=token)
        assert me.status == 200 and me.json["agent_id"] == "2001"
        assert me.json["agent"]["id"] == "2001" and me.json["kind"] == "session"
        assert me.json["break_reasons"] == ["lunch", "training"]
    # only the token's hash is in Redis
    for key in world.store.redis.keys("*"):
        assert token not in key
        if world.store.redis.type(key) == "hash":
            assert token not in str(world.store.redis.hgetall(key))
    assert world.store.redis.exists(f"acd:auth:session:{sha256(token)}")
    assert west.post("/api/v1/logout", token=token).json == {"logged_out": True}
    for api in (east, west):
        resp = api.get("/api/v1/me", token=token)
        assert resp.status == 401 and "invalid or expired token" in resp.json["error"]
        assert 'error="invalid_token"' in resp.headers["www-authenticate"]
    resp = east.post("/api/v1/logout")   # the admin token cannot be logged out
    assert resp.status == 400 and "only a login token can log out" in resp.json["error"]


def test_a_session_expires_after_its_ttl(cti_factory):
    world = cti_factory(QUEUES, http={"session-ttl": 1})
    _, api = world.daemon()
    token = api.login("2001", PASSWORD)
    assert api.get("/api/v1/me", token=token).status == 200
    with gevent.Timeout(5, AssertionError("the session outlived its ttl")):
        while api.get("/api/v1/me", token=token).status != 401:
            gevent.sleep(0.1)


def test_wrong_passwords_are_refused_alike_and_then_slowed_down(cti_factory, caplog):
    world = cti_factory(QUEUES, {"2002": {"password-hash": None}, "2003": {}})
    _, api = world.daemon()
    wrong = [("2001", "wrong"), ("nobody", PASSWORD), ("2002", PASSWORD)]   # 2002: no hash
    for agent, password in wrong:
        resp = api.post("/api/v1/login", {"agent": agent, "password": password}, token=None)
        assert resp.status == 401 and resp.json == {"error": "wrong agent or password"}
    with caplog.at_level(logging.WARNING, logger="acd.auth"):
        for _ in range(4):   # 5 wrong passwords for 2001 in all
            assert api.post("/api/v1/login", {"agent": "2001", "password": "x"},
                            token=None).status == 401
        for password in ("x", PASSWORD):      # now even the right one waits
            resp = api.post("/api/v1/login", {"agent": "2001", "password": password},
                            token=None)
            assert resp.status == 429, resp
            assert int(resp.headers["retry-after"]) >= 1 and "try again" in resp.json["error"]
    assert "login failed: agent '2001'" in caplog.text
    assert "too many wrong passwords" in caplog.text
    assert PASSWORD not in caplog.text
    assert api.login("2003", PASSWORD)        # another agent from the same address: fine
    with gevent.Timeout(5, AssertionError("still slowed down after the delay")):
        while api.post("/api/v1/login", {"agent": "2001", "password": PASSWORD},
                       token=None).status == 429:
            gevent.sleep(0.2)


def test_wrong_passwords_from_one_address_slow_that_address_down(cti_factory):
    """Behind a trusted proxy, the address is the client's (X-Forwarded-For)."""
    world = cti_factory(QUEUES, {"2003": {}}, http={"trusted-proxies": ["127.0.0.1"]})
    _, api = world.daemon()

    def login(agent, password, address):
        return api.post("/api/v1/login", {"agent": agent, "password": password}, token=None,
                        headers={"X-Forwarded-For": f"198.51.100.7, {address}"})

    for i in range(30):        # 30 free failures per address, spread over many agent ids
        assert login(f"guess{i}", "x", "203.0.113.9").status == 401
    assert login("2003", PASSWORD, "203.0.113.9").status == 429
    assert login("2003", PASSWORD, "203.0.113.10").status == 200


def test_tickets_are_single_use_and_only_for_the_event_stream(cti_factory):
    world = cti_factory(QUEUES)
    _, api = world.daemon()
    token = api.login("2001", PASSWORD)
    resp = api.post("/api/v1/events/ticket", token=token)
    assert resp.status == 200 and resp.json["ticket"].startswith("acd_e_")
    assert resp.json["expires_at_epoch"] - time.time() <= 30
    ticket = resp.json["ticket"]
    assert api.get(f"/api/v1/me?ticket={ticket}", token=None).status == 401
    stream = api.stream(token=None, query=f"?ticket={ticket}")
    assert stream.status == 200
    stream.close()
    again = api.stream(token=None, query=f"?ticket={ticket}")
    assert again.status == 401 and "ticket" in again.error["error"]
    # a ticket of a session that ended is worth nothing
    ticket = api.post("/api/v1/events/ticket", token=token).json["ticket"]
    api.post("/api/v1/logout", token=token)
    assert api.stream(token=None, query=f"?ticket={ticket}").status == 401
    # the login token itself is never accepted in the URL
    token = api.login("2001", PASSWORD)
    assert api.stream(token=None, query=f"?ticket={token}").status == 401
    assert api.get(f"/api/v1/me?access_token={token}", token=None).status == 401


def run_acd(*args, config):
    return subprocess.run([sys.executable, "-m", "acd", *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, ACD_CONFIG=str(config)))


def test_integration_tokens_from_the_command_line(cti_factory, tmp_path):
    world = cti_factory(QUEUES)
    _, api = world.daemon()
    config = tmp_path / "acd.yaml"
    config.write_text(yaml.safe_dump(world.data))
    made = run_acd("token", "create", "--role", "supervisor", "--name", "wallboard",
                   "--ttl", "90d", config=config)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("acd_t_") and "only time the token is shown" in made.stderr
    board = api.get("/api/v1/wallboard", token=token)
    assert board.status == 200 and [q["queue"] for q in board.json["queues"]] == ["support"]
    me = api.get("/api/v1/me", token=token).json
    assert (me["role"], me["kind"], me["name"], me["agent"]) == ("supervisor", "token",
                                                                "wallboard", None)
    assert 89 * 86400 < me["expires_at_epoch"] - time.time() <= 90 * 86400
    assert api.put("/api/v1/agents/2001/skills", {"skills": {}}, token=token).status == 403
    agent_token = run_acd("token", "create", "--role", "agent", "--agent", "2002",
                          config=config).stdout.strip()
    assert api.get("/api/v1/agents/2002", token=agent_token).status == 200
    assert api.get("/api/v1/agents/2001", token=agent_token).status == 403
    listed = run_acd("token", "list", config=config)
    assert listed.returncode == 0 and token not in listed.stdout
    rows = [line.split("\t") for line in listed.stdout.splitlines()[1:]]
    assert sorted((r[1], r[2], r[3]) for r in rows) == [("agent", "2002", "-"),
                                                        ("supervisor", "-", "wallboard")]
    supervisor_id = next(r[0] for r in rows if r[1] == "supervisor")
    assert run_acd("token", "revoke", supervisor_id, config=config).returncode == 0
    assert api.get("/api/v1/wallboard", token=token).status == 401
    assert run_acd("token", "revoke", supervisor_id, config=config).returncode == 1
    bad = run_acd("token", "create", "--role", "agent", config=config)
    assert bad.returncode == 2 and "needs --agent" in bad.stderr
    bad = run_acd("token", "create", "--role", "admin", "--ttl", "soon", config=config)
    assert bad.returncode == 2 and "--ttl" in bad.stderr
