"""``acd bench --switch-latency``: the slow-switch load mode end to end, its option, and the
counting of its figures from the simulator's trace. No figure of the daemon is asserted (the
benchmark checks targets, never a timed test)."""

import argparse
import json
import os
import subprocess
import sys

import pytest

from acd.bench import switch


def test_acd_bench_against_a_slow_switch(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "acd", "bench", "--agents", "10", "--rate", "2", "--duration", "2",
         "--warmup", "0", "--talk", "0.5", "--answer-after", "0.1", "--sim-ceiling", "0",
         "--selection", "0", "--switch-latency", "uuid_bridge=0.2,sendmsg=0.01,originate=0.1",
         "--event-delay", "0.01", "--json", str(out), "--quiet"],
        capture_output=True, text=True, timeout=180,
        env=dict(os.environ, ACD_BENCH_PROFILE=""))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["options"]["switch_latency"] == {"uuid_bridge": 0.2, "sendmsg": 0.01,
                                                   "originate": 0.1}
    figures = result["load"]["steps"][0]["switch"]
    assert figures["offered"] >= 3 and figures["parked"] == figures["offered"]
    assert figures["bridged"] >= 1
    assert figures["bridged"] + figures["never_bridged"] == figures["parked"]
    assert figures["agent_legs"] >= figures["bridged"]
    assert figures["park_to_first_originate_ms"]["count"] >= figures["bridged"]
    assert "slow switch: originate=0.1 sendmsg=0.01 uuid_bridge=0.2, event delay 0.01 s" in \
        proc.stdout
    assert "    switch: offered " in proc.stdout


def test_switch_latency_option_errors_are_clear():
    proc = subprocess.run(
        [sys.executable, "-m", "acd", "bench", "--switch-latency", "uuid_bridge=-1"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert ("argument --switch-latency: uuid_bridge: expected a number >= 0, got -1.0"
            in proc.stderr)
    help_text = subprocess.run([sys.executable, "-m", "acd", "bench", "--help"],
                               capture_output=True, text=True, timeout=60).stdout
    assert "--switch-latency" in help_text and "--event-delay" in help_text


def test_parse_latency():
    assert switch.parse_latency("uuid_bridge=2.0, sendmsg=0.05,originate=0.3") == {
        "uuid_bridge": 2.0, "sendmsg": 0.05, "originate": 0.3}
    assert switch.parse_latency("") == {}
    assert switch.parse_latency("uuid_kill=0") == {}
    for bad, problem in [("uuid_bridge", "expected COMMAND=SECONDS"),
                         ("uuid_bridge=soon", "uuid_bridge: expected a number >= 0, got 'soon'"),
                         ("uuid bridge=1", "uuid bridge: expected an api command name"),
                         ("=1", ": expected an api command name")]:
        with pytest.raises(argparse.ArgumentTypeError) as error:
            switch.parse_latency(bad)
        assert problem in str(error.value), (bad, str(error.value))


def test_figures_count_what_the_switch_saw_of_the_steps_callers():
    trace = [
        ["park", 1.0, "c1", "c1", "bench"],
        ["originate", 1.1, "", "c1", ""],
        ["park", 1.5, "b1", "b1", "backlog"],          # a backlog caller: not counted
        ["park", 2.0, "c2", "c2", "bench"],
        ["originate", 2.5, "", "c2", ""],
        ["agent-hangup", 3.0, "l2", "c2", ""],          # answered, dropped
        ["agent-dropped", 3.0, "l2", "c2", ""],
        ["originate", 3.2, "", "c2", ""],               # offered again
        ["agent-hangup", 4.0, "l0", "old", ""],         # a caller of an earlier step
        ["agent-bridged", 4.0, "l0", "old", ""],
        ["agent-hangup", 6.0, "l1", "c1", ""],
        ["agent-bridged", 6.0, "l1", "c1", ""],
        ["agent-hangup", 7.0, "l3", "c2", ""],
        ["agent-bridged", 7.0, "l3", "c2", ""],
        ["park", 8.0, "c3", "c3", "bench"],             # never offered
    ]
    figures = switch.figures(trace, offered=4, undrained=2, ignore_queues=("backlog",))
    assert {k: v for k, v in figures.items() if k != "park_to_first_originate_ms"} == {
        "offered": 4, "parked": 3, "bridged": 2, "never_bridged": 1, "agent_legs": 3,
        "agents_dropped": 1, "undrained_channels": 2}
    wait = figures["park_to_first_originate_ms"]
    assert (wait["count"], wait["p50"], wait["max"]) == (2, 100.0, 500.0)


def test_channel_count():
    assert switch.channel_count("\n12 total.\n") == 12
    with pytest.raises(RuntimeError):
        switch.channel_count("-ERR no\n")
