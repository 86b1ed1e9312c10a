"""``acd reload`` / SIGHUP and ``acd export-config``: acd.yaml read again by running daemons
while calls wait and talk (acd.reconfigure), and the commands against a real ``acd run``."""

import os
import signal
import subprocess
import sys

import gevent
import yaml

from acd.redis_server import free_port
from acd.sim.process import SimProcess
from tests.blocking import blocking
from tests import cti_world
from tests.acd_world import sim_config
from tests.cti_client import Client
from tests.test_run import http_get, wait_healthy

cti_factory = cti_world.cti_factory   # the fixture


def edit(path, change):
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def queue_of(data, name):
    return next(q for q in data["queues"] if q["name"] == name)


def creates_for(world, caller):
    return [e for e in world.seen if e.name == "CHANNEL_CREATE"
            and e.get("variable_acd_call") == caller]


def test_a_reload_under_load_drops_and_reoffers_no_call(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001", "2002"]}, "sales": {"tiers": ["2003"]}},
                        {"2002": {"status": "logged-out"}, "2003": {"status": "logged-out"}})
    first, admin = world.daemon()
    second, other = world.daemon()
    talking = world.call("support")
    assert world.bridged(talking) == "2001"
    world.wait_agent("2001", state="in-call")
    waiting = [world.call("support") for _ in range(3)]
    order = [uuid for uuid, _ in world.store.waiting("support")]
    since = {uuid: world.store.call(uuid)["enqueued_at"] for uuid in waiting}
    assert sorted(order) == sorted(waiting)

    def change(data):
        support = queue_of(data, "support")
        support["tiers"] = [t for t in support["tiers"] if t["agent"] != "2001"]
        support.update({"ring-timeout": 5, "max-wait-time": 600})
        queue_of(data, "sales").update(strategy="top-down")
        queue_of(data, "sales")["tiers"].append({"agent": "2004", "level": 2})
        data["agents"].append({"id": "2004", "contact": "user/2004", "wrap-up-time": 0})
        next(a for a in data["agents"] if a["id"] == "2003")["name"] = "Renamed"

    edit(world.config_path, change)
    arriving = gevent.spawn(world.call, "support")      # a caller arrives meanwhile
    reloads = [gevent.spawn(client.post, "/api/v1/reload") for client in (admin, other)]
    gevent.joinall(reloads + [arriving], raise_error=True)
    for reload in reloads:
        assert reload.value.status == 200, reload.value
    changes = reloads[0].value.json["changes"]
    assert {"queue": "support", "change": "tier-removed", "agent": "2001",
            "fields": []} in changes
    assert {"agent": "2004", "change": "added", "fields": []} in changes
    assert {"agent": "2003", "change": "changed", "fields": ["name"]} in changes
    for daemon in (first, second):
        assert daemon.config.queue("support").ring_timeout == 5
        assert [t.agent for t in daemon.config.queue("support").tiers] == ["2002"]
        assert daemon.config.agent("2003").name == "Renamed"
    waiting.append(arriving.value)
    # nobody dropped, nobody offered again: the talk goes on, the waiting keep place and wait
    world.collect(1.0)
    assert not [e for e in world.seen if e.name == "CHANNEL_HANGUP"]
    assert len(creates_for(world, talking)) == 1
    assert world.agent("2001")["state"] == "in-call"
    assert [uuid for uuid, _ in world.store.waiting("support")][:3] == order
    assert all(world.store.call(u)["enqueued_at"] == since[u] for u in since)
    # the next decision uses the new tiers: 2002 takes the first in line; 2001, once free,
    # is offered no support call any more
    admin.put("/api/v1/agents/2002/status", {"status": "available"})
    assert world.bridged(order[0]) == "2002"
    world.hangup(talking)
    world.wait_agent("2001", state="waiting")
    world.collect(1.0)
    assert not [e for e in world.seen if e.name == "CHANNEL_CREATE"
                and e.get("variable_acd_agent") == "2001" and e.get("variable_acd_call") != talking]


def test_a_broken_file_changes_nothing_and_says_why(cti_factory):
    world = cti_factory({"support": {"tiers": ["2001"]}, "sales": {"tiers": ["2002"]}})
    daemon, admin = world.daemon()
    caller = world.call("support")
    assert world.bridged(caller) == "2001"
    config = daemon.config
    good = world.config_path.read_text()
    edit(world.config_path, lambda d: d["agents"][0].update(contact="user/2001 &evil"))
    refused = admin.post("/api/v1/reload")
    assert refused.status == 422
    assert refused.json["problems"][0].startswith(f"{world.config_path}: agents[0].contact: ")
    world.config_path.write_text("agents: [\n")
    refused = admin.post("/api/v1/reload")
    assert refused.status == 422 and "invalid YAML" in refused.json["error"]
    # a queue with calls cannot go away
    world.config_path.write_text(good)
    edit(world.config_path, lambda d: d.update(queues=[queue_of(d, "sales")]))
    refused = admin.post("/api/v1/reload")
    assert refused.status == 422 and "'support' is removed but still has calls" in \
        refused.json["error"]
    daemon.reload()      # SIGHUP's way: logged, nothing changed
    assert daemon.config is config
    assert world.agent("2001")["state"] == "in-call"


def test_acd_reload_and_export_config_against_acd_run(tmp_path, redis_url):
    sim_file = tmp_path / "sim.yaml"
    sim_file.write_text(yaml.safe_dump(sim_config(["support"])))
    sim = SimProcess(sim_file, password="ClueCon").start()
    port = free_port()
    path = tmp_path / "acd.yaml"
    path.write_text(yaml.safe_dump({
        "freeswitch": {"host": "127.0.0.1", "port": sim.port, "password": "ClueCon"},
        "redis": {"url": redis_url},
        "http": {"listen": f"127.0.0.1:{port}", "admin-token": "s3cret-token"},
        "agents": [{"id": "2001", "name": "Anna", "contact": "user/2001"}],
        "queues": [{"name": "support", "tiers": [{"agent": "2001"}]}],
    }, sort_keys=False))
    daemon = subprocess.Popen([sys.executable, "-m", "acd", "run", "--config", str(path)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=dict(os.environ, PYTHONUNBUFFERED="1"))

    def acd(*args):  # another process: blocking this one (plain mode) holds nothing up
        return subprocess.run([sys.executable, "-m", "acd", *args], capture_output=True,
                              text=True, timeout=30)

    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        name = lambda: blocking(http_get, base + "/api/v1/agents/2001", "s3cret-token")[1]["name"]
        # SIGHUP (--pid), as systemd's ExecReload does
        edit(path, lambda d: d["agents"][0].update(name="Anna B."))
        done = acd("reload", "--config", str(path), "--pid", str(daemon.pid))
        assert done.returncode == 0, done.stderr
        with gevent.Timeout(10, AssertionError("SIGHUP did not reload")):
            while name() != "Anna B.":
                gevent.sleep(0.1)
        # over the API: says what changed; a broken file: every problem, exit 1, nothing sent
        edit(path, lambda d: d["agents"][0].update(name="Anna C."))
        done = acd("reload", "--config", str(path))
        assert done.returncode == 0 and "agent 2001 changed (name)" in done.stdout, done
        good = path.read_text()
        edit(path, lambda d: d["agents"][0].update({"wrap-up-time": -1}))
        done = acd("reload", "--config", str(path))
        assert done.returncode == 1
        assert done.stderr.startswith(f"{path}: agents[0].wrap-up-time: expected"), done.stderr
        assert name() == "Anna C."
        path.write_text(good)
        # a run-time change, then the merged state as YAML that check-config accepts
        client = Client(port, "s3cret-token", check=False)
        added = blocking(client.post, "/api/v1/agents", {"id": "2002", "contact": "user/2002"})
        assert added.status == 201, added
        exported = acd("export-config", "--config", str(path))
        assert exported.returncode == 0, exported.stderr
        merged = tmp_path / "merged.yaml"
        merged.write_text(exported.stdout)
        data = yaml.safe_load(exported.stdout)
        assert [a["id"] for a in data["agents"]] == ["2001", "2002"]
        checked = acd("check-config", str(merged))
        assert checked.returncode == 0 and "OK (2 agents, 1 queue)" in checked.stdout, checked
        reset = acd("export-config", "--config", str(path), "--reset-overlay")
        assert reset.returncode == 0 and yaml.safe_load(reset.stdout) == data
        with gevent.Timeout(10, AssertionError("the daemon kept the dropped agent")):
            while blocking(http_get, base + "/api/v1/agents/2002", "s3cret-token")[0] != 404:
                gevent.sleep(0.1)
    finally:
        daemon.send_signal(signal.SIGTERM)
        output, _ = daemon.communicate(timeout=15)
        sim.stop()
    assert daemon.returncode == 0, output
    assert "s3cret-token" not in output
