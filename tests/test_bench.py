"""``acd bench`` keeps working: a seconds-long run end to end, the simulator's trace, the pairing
of trace records into decision latencies, and the /metrics histogram reader. No figure is
asserted here (targets are checked by the benchmark, never by timed tests)."""

import json
import os
import subprocess
import sys

import pytest

from acd.bench import latency, probes, report
from acd.esl import EslClient, commands
from acd.sim.process import SimProcess


def test_acd_bench_smoke(tmp_path):
    """A whole run in a few seconds: every section of the report is there and the calls went
    through (all answered, a latency measured for each)."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "acd", "bench", "--agents", "20", "--rate", "10", "--duration",
         "2", "--warmup", "0", "--talk", "0.5", "--answer-after", "0.1", "--waiting", "3",
         "--sim-ceiling", "0.5", "--selection", "10,100", "--selection-decisions", "5",
         "--selection-rounds", "1", "--json", str(out), "--quiet"],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, ACD_BENCH_PROFILE=""))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    step = result["load"]["steps"][0]
    assert step["offered"] >= 15 and step["originate_failed"] == 0
    assert step["answered"] >= step["offered"] - 3      # the last callers may still ring
    assert step["latency_ms"]["call_arrived"]["count"] >= step["answered"] - 3
    assert result["load"]["backlog"] == 3 and result["load"]["daemon_peak_rss_mb"] > 0
    assert result["sim_ceiling"]["completed"] > 0
    assert set(result["selection"]["longest-idle"]["sizes"]) == {"10", "100"}
    assert "decision latency (simulator) call_arrived p50" in proc.stdout


def test_bench_fails_clearly_when_a_piece_cannot_start(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "acd", "bench", "--rate", "0", "--selection", "10", "--quiet"],
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, ACD_REDIS_SERVER=str(tmp_path / "no-such-redis-server")))
    assert proc.returncode == 1
    assert "acd bench: failed: redis-server not found" in proc.stderr


@pytest.fixture()
def sim(tmp_path):
    config = tmp_path / "sim.yaml"
    config.write_text(json.dumps({
        "users": {"3001": {"answer-after": 0.1, "hangup-after": 0.2}},
        "dialplan": {"7000": [["set", "acd_queue=q"], ["answer"], ["park"]]}}))
    with SimProcess(config, password="pw") as process:
        client = EslClient("127.0.0.1", process.port, "pw", reconnect=False)
        client.connect()
        yield client
        client.stop()


def test_sim_trace_records_park_originate_and_agent_hangup(sim):
    assert sim.api("sim_trace dump") == "[]\n"
    assert sim.api("sim_trace on") == "+OK tracing\n"
    caller = sim.bgapi(commands.originate(commands.dial_string("loopback/7000/default", {})))
    caller_uuid = caller.wait_result(5).value
    # the -b leg is the parked caller: find it as acd would, from the trace itself
    parks = [r for r in json.loads(sim.api("sim_trace dump")) if r[0] == "park"]
    assert len(parks) == 1 and parks[0][4] == "q"
    parked = parks[0][2]
    agent = sim.bgapi(commands.originate(commands.dial_string(
        [commands.leg("user/3001", {})], {"acd_role": "agent", "acd_call": parked})))
    assert agent.wait_result(5).ok
    import gevent
    gevent.sleep(0.5)                        # the phone hangs up after 0.2 s of talk
    records = json.loads(sim.api("sim_trace dump"))
    kinds = [(r[0], r[3]) for r in records]
    assert ("originate", parked) in kinds and ("agent-hangup", parked) in kinds
    assert records == sorted(records, key=lambda r: r[1])
    assert sim.api("sim_trace off") == "+OK not tracing\n"
    sim.api(commands.uuid_kill(caller_uuid))
    assert sim.api("sim_trace dump") == "[]\n"
    assert sim.api("sim_trace bogus").startswith("-USAGE")


def test_pairing_classifies_arrivals_and_freed_agents():
    records = [
        ["park", 1.0, "c1", "c1", "q"],            # an agent is free: call_arrived
        ["originate", 1.002, "", "c1", ""],
        ["park", 2.0, "c2", "c2", "q"],            # the only agent is busy: waits
        ["park", 2.5, "b1", "b1", "backlog"],      # ignored queue
        ["agent-hangup", 3.0, "l1", "c1", ""],     # frees the agent while c2 waits
        ["originate", 3.004, "", "c2", ""],        # agent_freed
        ["originate", 3.5, "", "c2", ""],          # a retry: not a latency
    ]
    pairs = latency.pair(records, agents=1, ignore_queues=("backlog",))
    assert [round(x, 6) for x in pairs["call_arrived"]] == [0.002]
    assert [round(x, 6) for x in pairs["agent_freed"]] == [0.004]


def test_percentiles_nearest_rank():
    summary = latency.percentiles([i / 1000 for i in range(1, 101)])
    assert (summary["p50"], summary["p99"], summary["max"]) == (0.05, 0.099, 0.1)
    assert latency.percentiles([])["p50"] is None


def test_metrics_histogram_quantiles_and_difference():
    def text(n_fast, n_slow):
        return "\n".join([
            "# TYPE acd_routing_decision_seconds histogram",
            f'acd_routing_decision_seconds_bucket{{kind="call_arrived",le="0.001"}} {n_fast}',
            f'acd_routing_decision_seconds_bucket{{kind="call_arrived",le="0.01"}} {n_fast + n_slow}',
            f'acd_routing_decision_seconds_bucket{{kind="call_arrived",le="+Inf"}} {n_fast + n_slow}',
            f'acd_routing_decision_seconds_count{{kind="call_arrived"}} {n_fast + n_slow}',
            'acd_routing_decision_seconds_sum{kind="call_arrived"} 0.5'])
    before, after = probes.histogram(text(10, 0)), probes.histogram(text(110, 100))
    step = probes.minus(after, before)["call_arrived"]
    assert step["count"] == 200 and step["buckets"][0] == (0.001, 100)
    assert probes.quantile(0.5, step["buckets"]) == pytest.approx(0.001)
    assert probes.quantile(0.99, step["buckets"]) == pytest.approx(0.001 + 0.009 * 0.98)
    assert report._histogram_ms(None) is None


def test_decision_log_counts():
    lines = ["2026-01-01 INFO acd.decisions: bridge call=a queue=bench agent=x leg=l wait=0.1",
             "2026-01-01 INFO acd.decisions: done call=b queue=bench agent=- result=abandoned "
             "wait=3.0",
             "2026-01-01 INFO acd.decisions: done call=c queue=other agent=- result=abandoned "
             "wait=3.0",
             "2026-01-01 INFO acd.decisions: offer-failed call=d queue=bench agent=x cause=X"]
    assert report.decisions(lines, "bench") == {"answered": 1, "abandoned": 1, "offer_failed": 1}
