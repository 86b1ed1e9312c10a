"""Metrics and call records end to end: a scripted call center (the simulator as FreeSWITCH, a
private Redis, a daemon serving HTTP), then /metrics fetched over HTTP and ``acd report`` must
both say exactly what the scenario did. Plus the observer fed directly for the IVR events and
the service-level rules."""

import collections
import http.client
import io
import json
import math
import time

import gevent
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from acd import cli
from acd.config import parse_config
from acd.core.model import classify_cause
from acd.metrics import Metrics
from acd.calls import QueueCall
from tests.blocking import blocking
from tests.acd_world import World


def _http_get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def http_get(port, path, headers=None):
    """GET while the daemon's gevent server in this process keeps serving."""
    return blocking(_http_get, port, path, headers)


class Scrape:
    """One /metrics scrape: ``value(name, **labels)`` (None if absent)."""

    def __init__(self, text):
        self.text = text
        self.samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def value(self, name, **labels):
        found = [s.value for s in self.samples if s.name == name and s.labels == labels]
        return found[0] if found else None

    def series(self, name):
        return {tuple(sorted(s.labels.items())): s.value for s in self.samples if s.name == name}


def scrape(port):
    status, headers, body = http_get(port, "/metrics")
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return Scrape(body.decode())


QUEUES = {
    "support": {"strategy": "sequentially-by-agent-order", "ring-timeout": 2,
                "tiers": [{"agent": "2101", "position": 1}, {"agent": "2102", "position": 2},
                          {"agent": "2001", "position": 3}, {"agent": "2002", "position": 4}]},
    "front": {"max-wait-time": 1.5, "overflow": {"queue": "support"}, "tiers": ["2104"]},
    "billing": {"service-level-count-short-abandons": True, "tiers": ["2103"]},
}
AGENTS = {"2001": {"wrap-up-time": 0.2}, "2002": {"wrap-up-time": 0.2},
          "2101": {"no-answer-delay-time": 300}, "2102": {"busy-delay-time": 300},
          "2103": {"reject-delay-time": 300}}


@pytest.fixture
def world(tmp_path, redis_url):
    world = World(tmp_path, redis_url, QUEUES, AGENTS)
    yield world
    world.close()


def talk(world, queue):
    caller = world.call(queue)
    agent = world.bridged(caller, timeout=15)
    world.hangup(caller)
    world.hung_up(caller)
    return agent


def run_scenario(world):
    """7 answered (one after an overflow), 2 abandoned, 1 overflowed; offers no-answer, busy,
    unregistered, rejected. Returns the agents who answered."""
    answered = [talk(world, "support")]      # 2101 no answer, 2102 busy, then 2001
    assert world.rings()[:3] == ["2101", "2102", "2001"]
    answered += [talk(world, "support") for _ in range(5)]
    answered.append(talk(world, "front"))    # 2104 unregistered; overflows to support at 1.5 s
    first = world.call("billing")            # 2103 rejects: abandoned while waiting on
    leg = world.rang("2103")
    world.hung_up(leg.uuid)
    world.wait_agent("2103", state="waiting")
    world.hangup(first)
    second = world.call("billing")           # nobody left: abandoned
    world.hangup(second)
    world.hung_up(second)
    return answered


def offers_seen_by_freeswitch(world):
    """(queue, result) -> offers, from the agents' legs FreeSWITCH reported: bridged legs were
    answered, the others ended with their hangup cause; 2104's phone is not registered, so its
    one offer (from "front") made no channel."""
    world.drain()
    bridged = {e["Bridge-B-Unique-ID"] for e in world.seen if e.name == "CHANNEL_BRIDGE"}
    offers = collections.Counter({("front", "unregistered"): 1})
    for legs in world.legs_by_agent().values():
        for create, hangup in legs:
            result = "answered" if create.uuid in bridged else classify_cause(
                hangup["Hangup-Cause"])
            offers[(create["variable_acd_queue_name"], result)] += 1
    return offers


def wait_for(predicate, timeout=10.0, what="condition"):
    with gevent.Timeout(timeout, AssertionError(f"no {what} within {timeout} s")):
        while True:
            result = predicate()
            if result:
                return result
            gevent.sleep(0.05)


def test_metrics_and_report_match_the_scenario(world, tmp_path, capsys):
    started = time.time()
    daemon = world.daemon(http=True)
    port = daemon.http.server_port
    answered_by = run_scenario(world)
    assert set(answered_by) <= {"2001", "2002"}

    def finished():
        s = scrape(port)
        total = sum(s.series("acd_calls_total").values())
        return s if total >= 10 and s.value("acd_call_talk_seconds_count", queue="support") == 7 \
            else None
    s = wait_for(finished, what="10 queue calls in /metrics")

    assert s.series("acd_calls_total") == {
        (("queue", "support"), ("result", "answered")): 7,
        (("queue", "billing"), ("result", "abandoned")): 2,
        (("queue", "front"), ("result", "overflowed")): 1}
    wait_counts = {k: v for k, v in s.series("acd_queue_wait_seconds_count").items()}
    assert wait_counts == s.series("acd_calls_total")
    offers = offers_seen_by_freeswitch(world)
    assert offers[("support", "answered")] == 7 and offers[("support", "busy")] == 1
    assert offers[("support", "no_answer")] >= 1 and offers[("billing", "rejected")] == 1
    assert s.series("acd_agent_offers_total") == {
        (("queue", q), ("result", r)): n for (q, r), n in offers.items()}
    assert s.value("acd_call_talk_seconds_count", queue="support") == 7
    assert s.value("acd_call_wrap_up_seconds_count", queue="support") == 7
    assert s.value("acd_call_wrap_up_seconds_sum", queue="support") == pytest.approx(1.4)
    assert s.value("acd_routing_decision_seconds_count", kind="call_arrived") == 9
    assert s.value("acd_routing_decision_seconds_count", kind="agent_freed") >= 7
    assert s.value("acd_esl_command_seconds_count", command="originate") == sum(offers.values())
    assert s.value("acd_esl_command_seconds_count", command="uuid_bridge") == 7
    assert s.value("acd_esl_events_total", event="CHANNEL_PARK") >= 9
    assert s.value("acd_esl_connected") == 1
    assert s.series("acd_esl_reconnects_total") == {
        (("reason", r),): 0 for r in ("connection-lost", "heartbeat-timeout", "command-timeout")}
    assert s.value("acd_redis_up") == 1 and s.value("acd_redis_errors_total") == 0
    # gauges: nobody waits now; the service level over the window; the shared agent states
    for queue in QUEUES:
        assert s.value("acd_queue_calls_waiting", queue=queue) == 0
        assert s.value("acd_queue_longest_wait_seconds", queue=queue) == 0
    assert s.value("acd_queue_service_level_ratio", queue="support") == 1.0
    assert s.value("acd_queue_service_level_ratio", queue="billing") == 1.0  # short abandons met
    assert math.isnan(s.value("acd_queue_service_level_ratio", queue="front"))
    assert s.series("acd_queue_service_level_calls_total") == {
        (("met", "true"), ("queue", "support")): 7, (("met", "true"), ("queue", "billing")): 2}
    assert sum(s.series("acd_agents").values()) == 6
    assert s.value("acd_agents", status="available", state="in-call") == 0
    assert s.value("acd_queue_agents_available", queue="billing") == 0  # 2103 in its delay

    # acd report over the same interval says the same
    config_path = tmp_path / "acd.yaml"
    config_path.write_text(yaml.safe_dump(world.data))
    assert cli.main(["report", "--config", str(config_path), "--from", str(started - 1),
                     "--to", str(time.time() + 1), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    queues = {row["name"]: row for row in report["queues"]}
    assert {name: (q["offered"], q["answered"], q["abandoned"], q["overflowed"])
            for name, q in queues.items()} == {
        "support": (7, 7, 0, 0), "billing": (2, 0, 2, 0), "front": (1, 0, 0, 1)}
    support = queues["support"]
    asa = s.value("acd_queue_wait_seconds_sum", queue="support", result="answered") / 7
    assert support["asa"] == pytest.approx(asa, abs=0.01)
    aht = (s.value("acd_call_talk_seconds_sum", queue="support") + 1.4) / 7
    assert support["aht"] == pytest.approx(aht, abs=0.01)
    assert support["service_level"] == 1.0 and queues["billing"]["service_level"] == 1.0
    assert queues["front"]["service_level"] is None
    agents = {row["name"]: row for row in report["agents"]}
    assert {a: (agents[a]["offered"], agents[a]["answered"], agents[a]["abandoned"])
            for a in ("2101", "2102", "2103", "2104")} == {
        "2101": (1, 0, 0), "2102": (1, 0, 0), "2103": (1, 0, 1), "2104": (1, 0, 0)}
    assert agents["2001"]["answered"] + agents.get("2002", {"answered": 0})["answered"] == 7

    # the CSV form and a one-queue report
    assert cli.main(["report", "--config", str(config_path), "--from", str(started - 1),
                     "--to", str(time.time() + 1), "--queue", "billing"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("scope,name,offered,answered,abandoned,overflowed,timed_out,exited,"
                        "service_level,asa,aht")
    assert lines[1] == "queue,billing,2,0,2,0,0,0,1.0,,"
    assert lines[2].startswith("agent,2103,1,0,1,")


def test_metrics_need_no_token_and_honour_openmetrics(world):
    daemon = world.daemon(http=True)
    status, headers, body = http_get(daemon.http.server_port, "/metrics",
                                     {"Accept": "application/openmetrics-text; version=1.0.0"})
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")
    status, _, _ = http_get(daemon.http.server_port, "/api/v1/queues")
    assert status == 401  # the API still wants its token


def test_call_records_hold_each_queue_call(world):
    world.daemon()
    talk(world, "front")
    records = wait_for(lambda: world.store.redis.xrange("acd:records") if len(
        world.store.redis.xrange("acd:records")) == 2 else None, what="two records")
    front, support = (fields for _, fields in records)
    assert (front["queue"], front["result"], front["offered_to"], front["agent"]) == \
        ("front", "overflowed", "2104", "")
    assert float(front["wait"]) >= 1.5
    assert (support["queue"], support["result"], support["from_queue"]) == \
        ("support", "answered", "front")
    assert support["agent"] in ("2001", "2002") and support["uuid"] == front["uuid"]
    assert support["caller_number"] == front["caller_number"] != ""
    assert float(support["enqueued_at"]) == pytest.approx(float(front["ended_at"]), abs=0.2)
    assert float(support["answered_at"]) <= float(support["ended_at"])
    assert float(support["wrap_up"]) == 0.2 and float(support["talk"]) >= 0


# -- the observer fed directly ---------------------------------------------------------------------

def metrics_for(queues, clock, **metrics):
    config = parse_config({"agents": [{"id": "a1", "contact": "user/a1"}],
                           "queues": queues, "metrics": metrics})
    return Metrics(config, clock=clock)


def exposed(m):
    return Scrape(m.exposition()[1].decode())


def test_ivr_events_become_counters_by_menu():
    m = metrics_for([{"name": "q"}], clock=lambda: 0.0)
    for what, details in [("ivr-enter", {"menu": "main"}), ("ivr-enter", {"menu": "main"}),
                          ("ivr-option", {"menu": "main", "option": "1", "action": "queue"}),
                          ("ivr-timeout", {"menu": "main"}), ("ivr-invalid", {"menu": "main",
                                                                              "digits": "9"}),
                          ("ivr-failure", {"menu": "sub"}), ("ivr-closed", {"menu": "night"}),
                          ("ivr-hangup", {"menu": "sub"}), ("ivr-exit", {"menu": "main"})]:
        m.observe(what, None, "-", dict(details, call_uuid="c1"))
    s = exposed(m)
    assert s.value("acd_ivr_entered_total", menu="main") == 2
    assert s.value("acd_ivr_options_total", menu="main", option="1") == 1
    assert s.value("acd_ivr_timeouts_total", menu="main") == 1
    assert s.value("acd_ivr_invalid_total", menu="main") == 1
    assert s.value("acd_ivr_failures_total", menu="sub") == 1
    assert s.value("acd_ivr_closed_total", menu="night") == 1
    assert s.value("acd_ivr_hangups_total", menu="sub") == 1


def caller(uuid, queue, since):
    return QueueCall(uuid, queue, since, caller_number="+4930")


def test_service_level_window_threshold_and_short_abandons():
    now = [1000.0]
    m = metrics_for([{"name": "strict", "service-level-threshold": 10},
                     {"name": "lenient", "service-level-threshold": 10,
                      "service-level-count-short-abandons": True}],
                    clock=lambda: now[0], **{"service-level-window": 60})
    for queue in ("strict", "lenient"):
        fast, slow = caller(f"{queue}-1", queue, now[0] - 5), caller(f"{queue}-2", queue, now[0] - 30)
        short, long_ = caller(f"{queue}-3", queue, now[0] - 3), caller(f"{queue}-4", queue, now[0] - 40)
        for call in (fast, slow):
            call.answered_at = now[0]
            m.observe("bridge", call, "a1", {"leg": "x", "wait": 1})
        for call in (short, long_):
            m.observe("done", call, "-", {"result": "abandoned", "wait": 1})
    sl = m.service_level
    assert sl.ratio("strict", now[0]) == pytest.approx(1 / 4)     # only the fast answer
    assert sl.ratio("lenient", now[0]) == pytest.approx(2 / 4)    # and the short abandon
    now[0] += 61                                                  # all out of the window
    assert math.isnan(sl.ratio("strict", now[0]))


def test_per_agent_series_only_when_asked():
    call = caller("c1", "q", 0.0)
    call.answered_at = 2.0
    for per_agent, present in ((False, False), (True, True)):
        m = metrics_for([{"name": "q", "tiers": [{"agent": "a1"}]}], clock=lambda: 5.0,
                        **{"per-agent": per_agent})
        m.observe("offer", call, "a1", {"leg": "l1"})
        m.observe("bridge", call, "a1", {"leg": "l1"})
        m.observe("call-ended", call, "a1", {"talk": 3.0})
        s = exposed(m)
        assert (s.value("acd_agent_offer_results_total", agent="a1", result="answered") == 1) \
            is present
        assert (s.value("acd_agent_talk_seconds_total", agent="a1") == 3.0) is present
        assert s.value("acd_agent_offers_total", queue="q", result="answered") == 1


def test_json_logs_carry_call_queue_and_agent():
    import logging

    from acd.logs import configure

    out = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure("INFO", "json", out)
        logging.getLogger("acd.decisions").info("%s call=%s queue=%s agent=%s %s", "offer",
                                                "u-1", "support", "1001", "leg=l-1 ring_timeout=15")
        logging.getLogger("acd.daemon").warning("plain %s", "text")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    decision, plain = (json.loads(line) for line in out.getvalue().splitlines())
    assert {k: decision[k] for k in ("decision", "call", "queue", "agent", "leg",
                                     "ring_timeout")} == {
        "decision": "offer", "call": "u-1", "queue": "support", "agent": "1001", "leg": "l-1",
        "ring_timeout": "15"}
    assert plain["message"] == "plain text" and plain["level"] == "WARNING"


# -- configuration ----------------------------------------------------------------------------------

def test_observability_config_defaults_and_values():
    config = parse_config({"queues": [{"name": "q"}]})
    assert (config.metrics.per_agent, config.metrics.service_level_window) == (False, 900.0)
    assert (config.records.max_length, config.records.retention) == (100_000, 30 * 86400.0)
    queue = config.queue("q")
    assert (queue.service_level_threshold, queue.service_level_count_short_abandons) == (20.0, False)
    config = parse_config({"metrics": {"per-agent": True, "service-level-window": 300},
                           "records": {"max-length": 0, "retention": "12h"},
                           "queues": [{"name": "q", "service-level-threshold": 30,
                                       "service-level-count-short-abandons": True}]})
    assert (config.metrics.per_agent, config.metrics.service_level_window) == (True, 300.0)
    assert (config.records.max_length, config.records.retention) == (0, 43200.0)
    assert config.queue("q").service_level_threshold == 30.0
    assert parse_config({"records": {"retention": 3600}}).records.retention == 3600.0


def test_observability_config_errors_name_the_key():
    from acd.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_config({"metrics": {"per-agent": "yes", "service-level-window": 0, "window": 1},
                      "records": {"max-length": -1, "retention": "7w"},
                      "queues": [{"name": "q", "service-level-threshold": -5}]}, source="a.yaml")
    assert set(caught.value.problems) == {
        "a.yaml: metrics.window: unknown key (allowed: per-agent, service-level-window)",
        "a.yaml: metrics.per-agent: expected true or false, got 'yes'",
        "a.yaml: metrics.service-level-window: expected a number of seconds > 0, got 0",
        "a.yaml: records.max-length: expected a whole number >= 0, got -1",
        "a.yaml: records.retention: expected seconds or a duration such as 30d, 12h, 15m, "
        "got '7w'",
        "a.yaml: queues[0].service-level-threshold: expected a number of seconds >= 0, got -5"}


def test_no_records_when_max_length_is_zero(tmp_path, redis_url):
    world = World(tmp_path, redis_url, {"support": {"tiers": ["2001"]}})
    try:
        world.data["records"] = {"max-length": 0}
        world.config = parse_config(world.data, source="test.yaml")
        world.daemon(metrics=False)
        talk(world, "support")
        wait_for(lambda: not world.store.live_calls(), what="the call's end")
        gevent.sleep(0.2)
        assert world.store.redis.exists("acd:records") == 0
    finally:
        world.close()


def test_only_one_of_two_daemons_exports_the_shared_agent_gauges(world):
    first, second = world.daemon(http=True), world.daemon(http=True)
    talk(world, "support")
    scrapes = [scrape(d.http.server_port) for d in (first, second, first, second)]
    exporters = [s.value("acd_agents", status="available", state="waiting") is not None
                 for s in scrapes]
    assert exporters in ([True, False, True, False], [False, True, False, True])
    shared = scrapes[exporters.index(True)]
    assert sum(shared.series("acd_agents").values()) == 6
    for s in scrapes:  # every daemon exports its own calls and health
        assert s.value("acd_redis_up") == 1 and s.value("acd_esl_connected") == 1
    total = sum(s.value("acd_calls_total", queue="support", result="answered") or 0
                for s in scrapes[:2])
    assert total == 1   # the call was handled by one daemon, counted once
