"""deploy/: the alert rules pass promtool (check and unit tests), every metric the Grafana
dashboard queries is one a live daemon really exports after a small call scenario, and the
systemd unit passes ``systemd-analyze verify`` and keeps its hardening.

promtool comes from ``make promtool`` (Debian's prometheus package); a missing promtool FAILS
these tests, never skips them. ``systemd-analyze`` is part of systemd: where it is missing (a
container image without systemd) its checks skip, saying so; the unit's settings are checked
either way."""

import json
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from tests.acd_world import World
from tests.test_metrics import scrape, talk, wait_for

DEPLOY = pathlib.Path(__file__).resolve().parent.parent / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "acd-overview.json"
UNIT = DEPLOY / "systemd" / "acd.service"
SYSUSERS = DEPLOY / "systemd" / "acd.sysusers"
METRIC = re.compile(r"\bacd_[a-z0-9_]+")


def promtool(*args):
    tool = shutil.which("promtool")
    assert tool, "promtool is not installed: run 'make promtool' (or apt-get install prometheus)"
    return subprocess.run([tool, *args], cwd=PROMETHEUS, capture_output=True, text=True,
                          timeout=120)


def test_alert_rules_pass_promtool_check():
    result = promtool("check", "rules", "acd-alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_rules_unit_tests_pass():
    result = promtool("test", "rules", "acd-alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_scrape_example_is_a_valid_prometheus_config(tmp_path):
    config = tmp_path / "prometheus.yml"
    rules = tmp_path / "acd-alerts.yml"
    shutil.copy(PROMETHEUS / "acd-alerts.yml", rules)
    config.write_text((PROMETHEUS / "scrape.yml").read_text()
                      .replace("/etc/prometheus/acd-alerts.yml", str(rules)))
    result = promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_use_only_exported_metric_names():
    text = (PROMETHEUS / "acd-alerts.yml").read_text()
    documented = (DEPLOY.parent / "docs" / "metrics.md").read_text()
    for name in set(METRIC.findall(text)):
        assert f"`{_base(name)}" in documented, f"{name} is not in docs/metrics.md"


def _base(name):
    for suffix in ("_bucket", "_count", "_sum", "_total"):
        if name.endswith(suffix):
            return name[:-len(suffix)] + ("_total" if suffix == "_total" else "")
    return name


def dashboard_queries(dashboard):
    """Every query of the dashboard: panel targets (rows' panels too) and template variables."""
    queries = []
    for panel in dashboard["panels"]:
        for inner in [panel] + panel.get("panels", []):
            queries += [(inner["title"], t["expr"]) for t in inner.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if variable["type"] == "query":
            queries.append((f"${variable['name']}", query["query"] if isinstance(query, dict)
                            else query))
    return queries


def test_the_dashboard_is_importable_json_templated_on_queue():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"]
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert "queue" in names
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("service level", "waiting", "longest wait", "asa", "abandonment", "aht",
                  "occupancy", "agents by state", "offers", "decision latency", "esl", "redis"):
        assert topic in titles, f"no panel about {topic}"
    for title, expr in dashboard_queries(dashboard):
        if "acd_" in expr and title != "$queue" and "queue" in expr:
            assert '$queue' in expr, f"panel {title!r} is not filtered by $queue"


@pytest.fixture
def world(tmp_path, redis_url):
    world = World(tmp_path, redis_url, {"support": {"tiers": ["2001"]},
                                        "billing": {"tiers": ["2101"], "ring-timeout": 5}})
    yield world
    world.close()


def test_every_dashboard_metric_is_exported_by_a_live_daemon(world):
    daemon = world.daemon(http=True)
    talk(world, "support")                        # answered: wait, talk, wrap-up, offers
    caller = world.call("billing")                # abandoned while its agent's phone rings
    world.rang("2101")
    world.hangup(caller)
    s = wait_for(lambda: (lambda s: s if s.value("acd_calls_total", queue="billing",
                                                 result="abandoned") else None)(
        scrape(daemon.http.server_port)), what="the abandoned call in /metrics")
    exported = {sample.name for sample in s.samples}
    used = {name for _, expr in dashboard_queries(json.loads(DASHBOARD.read_text()))
            for name in METRIC.findall(expr)}
    assert len(used) >= 15
    missing = sorted(name for name in used if name not in exported)
    assert not missing, f"the dashboard queries metrics acd does not export: {missing}"
    rules = set(METRIC.findall((PROMETHEUS / "acd-alerts.yml").read_text()))
    assert not sorted(rules - exported), "the alert rules use metrics acd does not export"
    documented = (DEPLOY.parent / "docs" / "metrics.md").read_text()
    undocumented = sorted({_base(n) for n in exported if n.startswith("acd_")
                           and not n.endswith("_created")} - set(re.findall(r"`(acd_\w+)`",
                                                                            documented)))
    assert not undocumented, f"exported but not in docs/metrics.md: {undocumented}"


# -- the systemd unit -----------------------------------------------------------------------------

def unit_settings(text):
    """[Service] of a unit file as {key: [values...]} (keys may repeat)."""
    settings, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif line and not line.startswith("#") and section == "[Service]":
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_the_unit_is_notify_with_watchdog_and_hardened():
    service = {k: v[-1] for k, v in unit_settings(UNIT.read_text()).items()}
    expected = {"Type": "notify", "NotifyAccess": "main", "WatchdogSec": "30",
                "Restart": "on-failure", "User": "acd", "Group": "acd",
                "ExecReload": "/bin/kill -HUP $MAINPID", "ProtectSystem": "strict",
                "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
                "NoNewPrivileges": "yes", "CapabilityBoundingSet": "",
                "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "LockPersonality": "yes",
                "MemoryDenyWriteExecute": "yes", "ProtectKernelTunables": "yes",
                "ProtectKernelModules": "yes", "ProtectControlGroups": "yes"}
    for key, value in expected.items():
        assert service.get(key) == value, f"{key}={service.get(key)!r}, expected {value!r}"
    assert "@system-service" in unit_settings(UNIT.read_text())["SystemCallFilter"]
    assert service["ExecStart"].endswith("acd run")


def systemd_analyze():
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed here (no systemd in this image); the "
                    "unit's settings are checked by the test above")
    return tool


def installable_unit(tmp_path):
    """The unit as installed: ExecStart/ExecStartPre point at an acd that exists (this venv's),
    since verify checks that the binaries are there."""
    acd = pathlib.Path(sys.executable).parent / "acd"
    assert acd.exists(), acd
    unit = tmp_path / "acd.service"
    unit.write_text(UNIT.read_text().replace("/opt/acd/bin/acd", str(acd)))
    return unit


def test_the_unit_passes_systemd_analyze_verify(tmp_path):
    tool = systemd_analyze()
    unit = installable_unit(tmp_path)
    done = subprocess.run([tool, "verify", "--man=no", str(unit)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "acd.service" not in done.stderr, done.stderr      # no warning about our unit


def test_the_units_exposure_stays_low(tmp_path):
    tool = systemd_analyze()
    unit = installable_unit(tmp_path)
    done = subprocess.run([tool, "security", "--offline=true", "--no-pager", str(unit)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    found = re.search(r"Overall exposure level for acd.service: ([0-9.]+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) < 2.0, done.stdout


def test_the_sysusers_file_creates_the_user(tmp_path):
    tool = shutil.which("systemd-sysusers")
    if tool is None:
        pytest.skip("systemd-sysusers is not installed here (no systemd in this image)")
    (tmp_path / "etc").mkdir()
    done = subprocess.run([tool, f"--root={tmp_path}", str(SYSUSERS)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [user] = [line for line in (tmp_path / "etc" / "passwd").read_text().splitlines()
              if line.startswith("acd:")]
    assert user.endswith(":/usr/sbin/nologin")
