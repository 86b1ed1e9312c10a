"""Run-time administration over the admin API: agents, tiers and queue parameters changed
without a restart (acd.admin, acd.reconfigure), against the simulator and a real Redis, with
two daemons where it matters. Every answer is checked against the OpenAPI document."""

import gevent

from acd.store.admin import AdminStore
from tests import cti_world
from tests.cti_world import ADMIN, PASSWORD

cti_factory = cti_world.cti_factory   # the fixture


def events_of(stream, kind, timeout=10):
    return stream.next(lambda e: e["event"] == kind, timeout=timeout)


def test_an_agent_added_over_the_api_takes_the_next_call_on_another_daemon(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}}, {"2001": {"status": "logged-out"}})
    first, admin = world.daemon()
    second, other = world.daemon()
    stream = admin.stream()
    added = admin.post("/api/v1/agents", {"id": "2005", "contact": "user/2005",
                                          "name": "New Hire", "wrap-up-time": 0,
                                          "password": "s3cret pass"})
    assert added.status == 201, added
    assert added.json["id"] == "2005" and added.json["queues"] == []
    assert "password" not in added.data.decode() and "argon2" not in added.data.decode()
    tier = admin.post("/api/v1/queues/support/tiers/2005", {"level": 2, "position": 3})
    assert tier.status == 201, tier
    assert tier.json == {"queue": "support", "agent": "2005", "level": 2, "position": 3}
    update = events_of(stream, "agent.updated")["data"]
    assert (update["agent"], update["change"], update["by"]) == ("2005", "added", "admin-token")
    queued = events_of(stream, "queue.updated")["data"]
    assert (queued["queue"], queued["agent"], queued["change"]) == ("support", "2005",
                                                                    "tier-added")
    # the other daemon knows it too (it saw the version move), and takes the call alone
    with gevent.Timeout(5, AssertionError("the second daemon never saw the new tier")):
        while [t.agent for t in second.config.queue("support").tiers] != ["2001", "2005"]:
            gevent.sleep(0.05)
    first.stop()
    caller = world.call("support")
    assert world.bridged(caller) == "2005"
    # the new agent logs in with the password it was given
    assert other.login("2005", "s3cret pass")


def test_patch_changes_contact_skills_and_delays_and_the_next_offer_uses_them(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001", "2002"]}},
                        {"2002": {"status": "logged-out"}})
    daemon, admin = world.daemon()
    changed = admin.request("PATCH", "/api/v1/agents/2001",
                            {"contact": "user/2003", "name": "Anna", "skills": {"german": 4},
                             "wrap-up-time": 0, "password": "another one"})
    assert changed.status == 200, changed
    assert changed.json["contact"] == "user/2003" and changed.json["name"] == "Anna"
    assert changed.json["skills"] == {"german": 4}
    caller = world.call("support")
    created = world.wait(lambda e: e.name == "CHANNEL_CREATE"
                         and e.get("variable_acd_agent") == "2001")
    assert "2003" in created.get("Caller-Destination-Number", "") + created.get(
        "variable_dialed_user", "") + created.get("Channel-Name", ""), created.headers
    assert world.bridged(caller) == "2001"
    assert admin.login("2001", "another one")
    refused = admin.post("/api/v1/login", {"agent": "2001", "password": PASSWORD}, token=None)
    assert refused.status == 401


def test_a_change_that_breaks_a_rule_of_the_file_answers_422_and_changes_nothing(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}, "sales": {"tiers": ["2002"]}})
    daemon, admin = world.daemon()
    version = AdminStore.of(world.store).version()
    cases = [
        ("PATCH", "/api/v1/agents/2001", {"contact": "user/2001 &bridge(evil)"},
         "agents[0].contact"),
        ("PATCH", "/api/v1/agents/2001", {"max-no-answer": -1}, "agents[0].max-no-answer"),
        ("PATCH", "/api/v1/agents/2001", {"skils": {}}, "did you mean skills?"),
        ("POST", "/api/v1/agents", {"id": "2009"}, "contact: required"),
        ("PATCH", "/api/v1/queues/support", {"strategy": "fastest"}, "strategy"),
        ("PATCH", "/api/v1/queues/support", {"overflow": {"queue": "sales"}}, None),
        ("PATCH", "/api/v1/queues/sales", {"overflow": {"queue": "support"}}, "overflow loop"),
        ("POST", "/api/v1/queues/sales/tiers/2001", {"level": 0}, "level"),
    ]
    for method, path, body, problem in cases:
        resp = admin.request(method, path, body)
        if problem is None:
            assert resp.status == 200, resp
            continue
        assert resp.status == 422, (path, body, resp)
        assert any(problem in p for p in resp.json["problems"]), resp.json
    assert AdminStore.of(world.store).version() == version + 1   # only the valid one
    assert daemon.config.agent("2001").contact == "user/2001"
    assert daemon.config.queue("support").overflow.target == "sales"


def test_delete_refuses_an_agent_in_a_call_and_logs_out_one_that_is_not(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001", "2002"]}},
                        {"2002": {"status": "logged-out"}}, cti={"heartbeat": 0.5})
    daemon, admin = world.daemon()
    caller = world.call("support")
    assert world.bridged(caller) == "2001"
    world.wait_agent("2001", state="in-call")
    busy = admin.request("DELETE", "/api/v1/agents/2001")
    assert busy.status == 409 and "in-call" in busy.json["error"]
    assert daemon.config.has_agent("2001")
    admin.put("/api/v1/agents/2002/status", {"status": "available"})
    assert admin.request("PATCH", "/api/v1/queues/support/tiers/2002",
                         {"level": 3}).status == 200
    session = admin.login("2002", PASSWORD)
    assert admin.get("/api/v1/agents/2002", token=session).status == 200
    stream = admin.stream(token=session)
    gone = admin.request("DELETE", "/api/v1/agents/2002")
    assert gone.status == 200 and gone.json == {"agent": "2002", "removed": True}
    assert admin.get("/api/v1/agents/2002", token=session).status == 401   # its login ended
    assert stream.ended.wait(5), "the removed agent's event stream stayed open"
    assert stream.comments[-1] == "credential ended"
    stream.close()
    assert world.agent("2002")["status"] == "logged-out"
    assert admin.get("/api/v1/agents/2002").status == 404
    assert [t["id"] for t in admin.get("/api/v1/queues/support").json["tiers"]] == ["2001"]
    assert admin.request("DELETE", "/api/v1/agents/2002").status == 404
    # added again, it starts without the run-time tiers it had (the file's come back)
    assert admin.post("/api/v1/queues/support/tiers/2002", {}).status == 404
    assert admin.post("/api/v1/agents", {"id": "2002", "contact": "user/2002"}).status == 201
    assert [(t.agent, t.level) for t in daemon.config.queue("support").tiers] == [
        ("2001", 1), ("2002", 1)]
    # the call in progress went on untouched
    assert world.agent("2001")["state"] == "in-call"


def test_tiers_and_queue_parameters_survive_a_restart_and_a_reload(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}, "sales": {"tiers": ["2002"]}})
    daemon, admin = world.daemon()
    assert admin.post("/api/v1/queues/sales/tiers/2001", {}).status == 201
    assert admin.request("PATCH", "/api/v1/queues/sales/tiers/2001",
                         {"level": 3}).json["level"] == 3
    assert admin.request("DELETE", "/api/v1/queues/support/tiers/2001").status == 200
    patched = admin.request("PATCH", "/api/v1/queues/sales", {"ring-timeout": 7,
                                                              "strategy": "top-down"})
    assert patched.status == 200 and patched.json["strategy"] == "top-down"
    daemon.stop()
    again, admin = world.daemon()
    sales = again.config.queue("sales")
    assert (sales.ring_timeout, sales.strategy) == (7, "top-down")
    assert [(t.agent, t.level) for t in sales.tiers] == [("2002", 1), ("2001", 3)]
    assert again.config.queue("support").tiers == ()
    # a reload of the same file does not undo the run-time changes
    reloaded = admin.post("/api/v1/reload")
    assert reloaded.status == 200 and reloaded.json["changes"] == []
    assert again.config.queue("sales").strategy == "top-down"
    # Redis holds 2001 in the sales queue only
    assert set(world.store.redis.hkeys(world.store.keys.agent_tiers("2001"))) == {"sales"}


def test_non_admins_may_not_change_anything(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001", "2003"]}},
                        {"2003": {"role": "supervisor"}})
    _, admin = world.daemon()
    for who in ("2001", "2003"):
        token = admin.login(who, PASSWORD)
        assert admin.request("PATCH", "/api/v1/agents/2001", {"name": "x"},
                             token=token).status == 403
        assert admin.post("/api/v1/queues/support/tiers/2001", {}, token=token).status == 403
    assert admin.request("PATCH", "/api/v1/agents/2001", {"name": "x"},
                         token=None).status == 401
    assert admin.request("PATCH", "/api/v1/agents/2001", {"name": "x"},
                         token=ADMIN).status == 200


def test_a_queue_parameter_changed_on_one_daemon_is_used_by_the_next_offer_of_another(
        cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"], "ring-timeout": 2}})
    first, admin = world.daemon()
    second, other = world.daemon()
    stream = other.stream()
    patched = admin.request("PATCH", "/api/v1/queues/support", {"ring-timeout": 7})
    assert patched.status == 200, patched
    update = events_of(stream, "queue.updated")["data"]
    assert (update["queue"], update["agent"], update["change"], update["fields"]) == (
        "support", None, "changed", ["ring-timeout"])
    first.stop()
    with gevent.Timeout(5, AssertionError("the second daemon kept the old ring-timeout")):
        while second.config.queue("support").ring_timeout != 7:
            gevent.sleep(0.05)
    world.call("support")
    assert events_of(stream, "call.offered")["data"]["ring_timeout"] == 7
    # null returns a key to the file's value
    assert other.request("PATCH", "/api/v1/queues/support",
                         {"ring-timeout": None}).status == 200
    assert second.config.queue("support").ring_timeout == 2
