"""``acd demo``: the whole thing as a subprocess (it starts, counts answered calls, prints its
summary and leaves no process behind), and its pure parts: the call center it builds, the tally
of the router's decisions, the screen and the options."""

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import types
import urllib.request

import pytest

from acd import demo
from acd.config import parse_config

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_DEMO_")}
    env.update(extra)
    return env


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _processes_mentioning(text):
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append((entry.name, cmdline))
    return found


# -- the demo as a process ----------------------------------------------------------------------

def test_demo_runs_answers_calls_and_leaves_nothing_behind():
    proc = subprocess.Popen(
        [sys.executable, "-m", "acd.demo", "--duration", "8", "--rate", "2", "--no-screen",
         "--seed", "1", "--http", "127.0.0.1:0"], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    head = [proc.stdout.readline() for _ in range(8)]
    # the desktop is up, and the demo's agents sign in with the password it printed
    desk = re.search(r"agent desktop (http://127\.0\.0\.1:\d+)/  sign in as (\d+), password "
                     r"(\S+) ", "".join(head))
    assert desk, head
    site, agent, password = desk.groups()
    with urllib.request.urlopen(site + "/", timeout=5) as page:
        assert b"agent desktop" in page.read()
    login = urllib.request.Request(site + "/api/v1/login", method="POST", data=json.dumps(
        {"agent": agent, "password": password}).encode())
    with urllib.request.urlopen(login, timeout=10) as answer:
        assert json.loads(answer.read())["agent"] == agent
    assert re.search(r"wallboard http://\S+/wallboard  sign in as \d+ \(a supervisor\)",
                     "".join(head))
    rest, err = proc.communicate(timeout=60)
    out = "".join(head) + rest
    assert proc.returncode == 0, (out, err)
    redis_pid = int(re.search(r"redis-server pid (\d+)", out).group(1))
    sim_pid = int(re.search(r"simulator pid (\d+)", out).group(1))
    workdir = re.search(r"(/\S+/acd-demo-[^/\s]+)/admin-token", out).group(1)
    assert re.search(r"admin token \S{20,} ", out)
    assert re.search(r"API http://127\.0\.0\.1:\d+/api/v1", out)
    assert len([line for line in out.splitlines() if line.startswith("t=")]) >= 5
    summary = re.search(r"acd demo summary after \d+ s: offered (\d+), answered (\d+), "
                        r"abandoned (\d+), overflowed (\d+)", out)
    assert summary, out
    offered, answered = int(summary.group(1)), int(summary.group(2))
    assert offered >= 8 and answered > 0
    assert re.search(r"service level \d+% answered within 20 s .*average wait \d+\.\d s", out)
    assert not _alive(redis_pid) and not _alive(sim_pid)
    assert not os.path.exists(workdir)
    assert _processes_mentioning(workdir) == []


def test_a_startup_failure_is_one_line_and_exit_status_1():
    proc = subprocess.run([sys.executable, "-m", "acd.demo", "--duration", "1"], cwd=ROOT,
                          env=_env(ACD_REDIS_SERVER="/nonexistent/redis-server"),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith("acd demo: cannot start: redis-server not found")
    assert proc.stderr.count("\n") == 1


# -- the call center ----------------------------------------------------------------------------

@pytest.mark.parametrize("n_agents", [demo.MIN_AGENTS, 4, 5, 7, demo.AGENTS, 40, demo.MAX_AGENTS])
def test_the_call_center_is_a_valid_config_for_any_number_of_agents(n_agents):
    center, phones = demo.call_center(n_agents, demo.random.Random(1))
    config = parse_config(dict(center, http={"admin-token": "t"}, freeswitch={"password": "p"}),
                          "demo", env={})
    assert not [w for w in config.warnings if "no tiers" in w or "in no queue" in w]
    assert [q.name for q in config.queues] == list(demo.QUEUE_MIX) == list(demo.EXTENSIONS)
    assert {q.name: q.strategy for q in config.queues} == {
        "support": "longest-idle-agent", "sales": "round-robin", "reception": "ring-all",
        "hotline": "sequentially-by-agent-order"}
    assert config.queue("support").overflow.target == "sales"
    assert any(len(config.queues_of(a.id)) >= 2 for a in config.agents)
    assert all(2 <= a.wrap_up_time <= 3 for a in config.agents)
    assert [p.id for p in phones] == [a.id for a in config.agents]


def test_twelve_agents_two_of_them_flaky_the_others_answer_and_hang_up():
    center, phones = demo.call_center(12, demo.random.Random(7))
    config = parse_config(dict(center), "demo", env={})
    assert len(config.agents) == 12
    assert [p.id for p in phones if p.flaky] == ["1006", "1012"]
    assert {t.level for t in config.queue("sales").tiers} == {1, 2}
    rng = demo.random.Random(3)
    for phone in phones:
        for _ in range(20):
            settings = phone.roll(rng)
            if "answer-after" in settings and settings["answer-after"] != "never":
                assert 0.5 <= settings["answer-after"] <= 2.0
                assert 5.0 <= settings["hangup-after"] <= 20.0
            else:
                assert phone.flaky


def test_the_simulator_world_parks_each_queue_number_with_its_queue():
    _, phones = demo.call_center(12, demo.random.Random(1))
    world = demo.sim_config("pw", phones, demo.random.Random(1))
    assert world["dialplan"]["5000"] == [["set", "acd_queue=support"], ["answer"], ["park"]]
    assert sorted(world["users"]) == [p.id for p in phones]


# -- counting and drawing -----------------------------------------------------------------------

def _call(queue, number="+1"):
    return types.SimpleNamespace(queue=queue, caller_number=number, uuid="u-" + number)


def _tally():
    tally = demo.Tally(threshold=20)
    for n, queue in enumerate(["support"] * 4 + ["sales"] * 2):
        tally("enqueue", _call(queue, str(n)), "-", {"position": 1})
    tally("bridge", _call("support"), "1001", {"wait": 5.0})
    tally("done", _call("support"), "1001", {"result": "answered", "wait": 5.0})
    tally("overflow", _call("sales"), "-", {"from_queue": "support", "result": "overflowed"})
    tally("bridge", _call("sales"), "1006", {"wait": 25.0})
    tally("done", _call("support"), "-", {"result": "abandoned", "wait": 30.0})
    tally("done", _call("sales"), "-", {"result": "abandoned", "wait": 3.0})
    tally("offer", _call("sales"), "1007", {})
    return tally


def test_the_tally_counts_answers_at_the_bridge_and_short_abandons_not_in_the_sl():
    tally = _tally()
    assert tally.totals() == {"offered": 6, "answered": 2, "abandoned": 2, "overflowed": 1,
                              "ended_otherwise": 0}
    assert tally.answered == {"support": 1, "sales": 1}
    assert tally.overflowed == {"support": 1}
    # 1 answered within 20 s / (2 answered + 1 abandoned after 20 s); the 3 s abandon is left out
    assert tally.service_level() == pytest.approx(1 / 3)
    assert tally.average_wait() == pytest.approx(15.0)
    empty = demo.Tally()
    assert empty.service_level() is None and empty.average_wait() is None


QUEUES = [
    {"name": name, "strategy": strategy, "waiting": waiting, "longest_wait": longest,
     "agents": {"total": 5, "available": avail}}
    for name, strategy, waiting, longest, avail in [
        ("support", "longest-idle-agent", 3, 14.2, 0), ("sales", "round-robin", 0, 0.0, 2),
        ("reception", "ring-all", 1, 2.0, 1), ("hotline", "sequentially-by-agent-order", 0, 0, 1)]]


def _agents(n):
    states = ["in-call", "waiting", "ringing", "wrap-up", "reserved"]
    return [{"id": str(1001 + i), "name": f"Agent{i}", "state": states[i % 5],
             "status": "on-break" if i == 1 else "available"} for i in range(n)]


INFO = {"elapsed": 75.4, "rate": 0.5, "seed": 42, "api": "http://127.0.0.1:4321/api/v1",
        "token_file": "/tmp/acd-demo-abc/admin-token"}


def test_the_screen_fits_one_terminal_and_shows_queues_agents_and_totals():
    lines = demo.render_screen(QUEUES, _agents(12), _tally(), INFO)
    text = "\n".join(lines)
    assert len(lines) <= 25 and max(map(len, lines)) <= 80
    assert lines[0].startswith("acd demo  up 00:01:15  0.5 calls/s  seed 42  Ctrl-C stops")
    assert "http://127.0.0.1:4321/api/v1" in text and "/tmp/acd-demo-abc/admin-token" in text
    support = next(line for line in lines if line.startswith("support"))
    assert support.split() == ["support", "longest-idle", "3", "14", "s", "0/5", "4", "1", "1",
                               "1"]
    assert next(line for line in lines if line.startswith("hotline")).split()[1:3] == [
        "hunt", "(order)"]
    assert "agents  waiting 3  reserved 2  ringing 2  in-call 3  wrap-up 2" in text
    assert "available 11  on-break 1  logged-out 0" in text
    assert "1002  Agent1   on-break" in text and "1001  Agent0   in-call" in text
    assert "offered 6  answered 2  abandoned 2  overflowed 1  waiting now 4" in text
    assert "service level 33% answered within 20 s" in text
    assert "average wait 15.0 s" in text


def test_the_screen_with_many_agents_still_fits():
    lines = demo.render_screen(QUEUES, _agents(200), demo.Tally(), dict(INFO, remaining=12.3))
    assert len(lines) <= 25 and max(map(len, lines)) <= 80
    assert lines[0].endswith("ends in 12 s")
    assert any(line.rstrip().endswith("... 183 more") for line in lines)
    assert "service level - answered" in "\n".join(lines)


def test_the_line_and_the_summary():
    line = demo.render_line(QUEUES, _agents(12), _tally(), 9.6)
    assert line.startswith("t=10s waiting: support=3 sales=0 reception=1 hotline=0 longest=14s")
    assert "offered=6 answered=2 abandoned=2 overflowed=1 sl20=33% avg_wait=15.0 s" in line
    summary = demo.render_summary(_tally(), 61)
    assert summary[0] == ("acd demo summary after 61 s: offered 6, answered 2, abandoned 2, "
                          "overflowed 1 (2 still waiting at the end)")
    assert summary[1].startswith("service level 33% answered within 20 s")


def test_the_supervisor_ends_a_break_after_BREAK_seconds():
    changed = []
    service = types.SimpleNamespace(set_agent_status=lambda a, s: changed.append((a, s)))
    supervisor = demo.Supervisor(service)
    on_break = [{"id": "1006", "status": "on-break"}, {"id": "1001", "status": "available"}]
    supervisor.check(on_break, 100.0)
    supervisor.check(on_break, 100.0 + demo.BREAK - 1)
    assert changed == []
    supervisor.check(on_break, 100.0 + demo.BREAK)
    assert changed == [("1006", "available")]


# -- options ------------------------------------------------------------------------------------

def _parse(argv):
    parser = argparse.ArgumentParser(prog="acd")
    demo.add_demo_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_options_come_from_flags_or_ACD_DEMO_variables(monkeypatch):
    for name in list(os.environ):
        if name.startswith("ACD_DEMO_"):
            monkeypatch.delenv(name)
    args = _parse(["demo"])
    assert (args.duration, args.rate, args.agents, args.seed, args.no_screen) == (
        demo.DURATION, demo.RATE, demo.AGENTS, None, False)
    assert args.func is demo.run
    for name, value in [("DURATION", "30"), ("RATE", "2.5"), ("AGENTS", "20"), ("SEED", "7"),
                        ("NO_SCREEN", "1")]:
        monkeypatch.setenv(f"ACD_DEMO_{name}", value)
    args = _parse(["demo"])
    assert (args.duration, args.rate, args.agents, args.seed, args.no_screen) == (
        30.0, 2.5, 20, 7, True)
    assert _parse(["demo", "--rate", "1", "--agents", "5"]).rate == 1.0


@pytest.mark.parametrize("argv", [["--rate", "0"], ["--agents", "2"], ["--agents", "201"],
                                  ["--duration", "-1"], ["--rate", "fast"]])
def test_bad_options_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        _parse(["demo"] + argv)
    assert "expected" in capsys.readouterr().err
