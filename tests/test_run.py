"""``acd run`` as a real process: config file, FreeSWITCH (the simulator), Redis, HTTP, SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import gevent
import gevent.event
import yaml

from acd.esl import EslClient
from acd.redis_server import free_port
from tests.blocking import blocking
from tests.acd_world import sim_config
from acd.sim.process import SimProcess


def http_get(url, token=None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_healthy(base, timeout=20.0):
    """Wait until ``acd run`` at ``base`` answers /healthz with 200 (it is still starting)."""
    deadline, status = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            status, _ = blocking(http_get, base + "/healthz")
        except OSError:
            status = None
        if status == 200:
            return
        gevent.sleep(0.2)
    raise AssertionError(f"acd run did not become healthy within {timeout} s (last: {status})")


def test_acd_run_serves_calls_health_and_stops_cleanly(tmp_path, redis_url):
    sim_file = tmp_path / "sim.yaml"
    sim_file.write_text(yaml.safe_dump(sim_config(["support"])))
    sim = SimProcess(sim_file, password="ClueCon").start()
    port = free_port()
    config = tmp_path / "acd.yaml"
    config.write_text(yaml.safe_dump({
        "freeswitch": {"host": "127.0.0.1", "port": sim.port, "password": "ClueCon"},
        "redis": {"url": redis_url},
        "http": {"listen": f"127.0.0.1:{port}", "admin-token": "s3cret-token"},
        "agents": [{"id": "2001", "name": "Anna", "contact": "user/2001", "wrap-up-time": 0}],
        "queues": [{"name": "support", "tiers": [{"agent": "2001"}]}],
    }))
    daemon = subprocess.Popen([sys.executable, "-m", "acd", "run", "--config", str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=dict(os.environ, PYTHONUNBUFFERED="1"))
    driver = EslClient("127.0.0.1", sim.port, "ClueCon")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        assert blocking(http_get, base + "/api/v1/agents")[0] == 401
        assert blocking(http_get, base + "/api/v1/agents", "wrong")[0] == 403
        status, agent = blocking(http_get, base + "/api/v1/agents/2001", "s3cret-token")
        assert status == 200 and agent["status"] == "available" and agent["state"] == "waiting"

        driver.connect()
        driver.subscribe("CHANNEL_BRIDGE")
        bridged = gevent.event.AsyncResult()
        driver.register_handle("CHANNEL_BRIDGE", bridged.set)
        assert driver.bgapi("originate loopback/5000 &park()").wait_result(10).ok
        bridged.get(timeout=10)
        deadline = time.monotonic() + 5  # the daemon records in-call once uuid_bridge replies
        while True:
            status, agent = blocking(http_get, base + "/api/v1/agents/2001", "s3cret-token")
            if agent["state"] == "in-call" or time.monotonic() > deadline:
                break
            gevent.sleep(0.05)
        assert agent["state"] == "in-call" and agent["calls_answered"] == 1
    finally:
        driver.stop()
        daemon.send_signal(signal.SIGTERM)
        output, _ = daemon.communicate(timeout=15)
        sim.stop()
    assert daemon.returncode == 0, output
    assert "offer call=" in output and "bridge call=" in output and "agent=2001" in output
    assert "s3cret-token" not in output


def test_acd_run_refuses_a_broken_config(tmp_path):
    config = tmp_path / "acd.yaml"
    config.write_text("queues: [{name: support, strategy: fastest}]\n")
    result = subprocess.run([sys.executable, "-m", "acd", "run", "--config", str(config)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f"{config}: queues[0].strategy:" in result.stderr
