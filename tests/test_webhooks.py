"""Webhooks end to end: real local receivers (tests/crm_servers.Receiver) check every signature
with the standard library's hmac; they drop deliveries, go down, come back; two daemons share
one Redis and each event is delivered once."""

import collections
import io

import gevent

from acd.cli_webhooks import run_webhooks
from tests import cti_world
from tests.crm_servers import Receiver

cti_factory = cti_world.cti_factory   # the fixture

SECRET = "whsec-test-0123456789"
CALL_EVENTS = ["call.queued", "call.offered", "call.answered", "call.ended"]


def with_hooks(world, receiver, events=None, **settings):
    from acd.config import parse_config

    world.data["webhooks"] = [dict({"url": receiver.url + "/hooks/acd",
                                    "events": events or CALL_EVENTS + ["agent.status"],
                                    "secret": "${ACD_WEBHOOK_SECRET}"}, **settings)]
    world.world.config = parse_config(world.data, source="test.yaml",
                                      env={"ACD_WEBHOOK_SECRET": SECRET})
    return world


def quick(daemon):
    daemon.webhooks.retry_base = 0.05      # retries after 0.05, 0.1, 0.2 ... s
    return daemon


def until(check, timeout=15.0, what="deliveries"):
    with gevent.Timeout(timeout, AssertionError(f"no {what} within {timeout} s")):
        while not check():
            gevent.sleep(0.05)


def answered_call(world):
    caller = world.call("support")
    assert world.bridged(caller)
    world.hangup(caller)
    return caller


def test_deliveries_are_signed_retried_and_in_order_per_call(cti_factory):
    receiver = Receiver(SECRET, drop=3)
    try:
        world = with_hooks(cti_factory({"support": {"tiers": ["2001"]}}), receiver)
        daemon, _ = world.daemon()
        quick(daemon)
        caller = answered_call(world)
        until(lambda: [d["event"] for d in receiver.of_call(caller)] == CALL_EVENTS)
        assert not receiver.bad, "a signature did not verify"
        assert len(receiver.refused) == 3           # the first three were dropped and retried
        ids = [d["id"] for d in receiver.received]
        assert len(ids) == len(set(ids))            # each delivered once
        first = receiver.of_call(caller)[0]
        assert first["body"]["call"] == caller and first["body"]["queue"] == "support"
        # a retry keeps its delivery id (a refused agent.status may still be on its way back)
        until(lambda: {d["id"] for d in receiver.refused} <= {d["id"] for d in receiver.received},
              what="the refused deliveries again, with their ids")
        until(lambda: any(d["event"] == "agent.status" for d in receiver.received))
    finally:
        receiver.stop()


def test_a_receiver_down_for_max_age_gets_dead_letters_then_a_replay(cti_factory, monkeypatch,
                                                                     tmp_path):
    receiver = Receiver(SECRET)
    receiver.down = True
    try:
        world = with_hooks(cti_factory({"support": {"tiers": ["2001"]}}), receiver,
                           events=CALL_EVENTS, **{"max-age": "1s"})
        daemon, _ = world.daemon()
        quick(daemon)
        caller = answered_call(world)
        until(lambda: daemon.webhooks.dead == 4, what="dead letters")
        assert receiver.received == []
        monkeypatch.setenv("ACD_WEBHOOK_SECRET", SECRET)
        config = tmp_path / "acd.yaml"
        import yaml
        config.write_text(yaml.safe_dump(world.data))
        out = io.StringIO()
        assert run_webhooks(_args(config, "list-failed"), out) == 0
        lines = out.getvalue().splitlines()[1:]
        assert [line.split("\t")[1] for line in lines] == CALL_EVENTS
        receiver.down = False
        out = io.StringIO()
        assert run_webhooks(_args(config, "replay", all=True), out) == 0
        until(lambda: [d["event"] for d in receiver.of_call(caller)] == CALL_EVENTS)
        out = io.StringIO()
        run_webhooks(_args(config, "list-failed"), out)
        assert out.getvalue().splitlines()[1:] == []
        assert not receiver.bad
    finally:
        receiver.stop()


def test_two_daemons_deliver_each_event_once(cti_factory):
    receiver = Receiver(SECRET)
    try:
        queues = {"support": {"tiers": ["2001", "2002"]}}
        east = with_hooks(cti_factory(queues), receiver, events=CALL_EVENTS)
        west = with_hooks(cti_factory(queues), receiver, events=CALL_EVENTS)  # one Redis
        quick(east.daemon(owner="east")[0]), quick(west.daemon(owner="west")[0])
        callers = [answered_call(world) for world in (east, west, east, west)]
        until(lambda: all(len(receiver.of_call(c)) == 4 for c in callers))
        gevent.sleep(0.5)                   # nothing more comes
        counts = collections.Counter((d["body"]["call"], d["event"]) for d in receiver.received)
        assert set(counts.values()) == {1}, counts
        for caller in callers:
            assert [d["event"] for d in receiver.of_call(caller)] == CALL_EVENTS
        assert not receiver.bad
    finally:
        receiver.stop()


def _args(config, action, all=False, ids=()):
    import argparse
    return argparse.Namespace(config=str(config), action=action, all=all, ids=list(ids))
