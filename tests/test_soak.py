"""The soak's bookkeeping (acd/bench/soak_ledger.py) and its fault schedule, from made-up
switch events; ``make soak`` itself runs for minutes and is not part of make test."""

from acd.bench import soak
from acd.bench.soak_ledger import Ledger
from acd.esl import Event


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def event(name, **headers):
    return Event(dict({"Event-Name": name}, **{k.replace("__", "-"): v
                                               for k, v in headers.items()}))


def park(ledger, sim, uuid, a_leg):
    ledger.on_event(sim, event("CHANNEL_PARK", Unique__ID=uuid, variable_acd_queue="soak",
                               variable_other_loopback_leg_uuid=a_leg))


def ring_and_bridge(ledger, sim, caller, leg, agent):
    ledger.on_event(sim, event("CHANNEL_CREATE", Unique__ID=leg, variable_acd_agent=agent))
    ledger.on_event(sim, event("CHANNEL_BRIDGE", Bridge__A__Unique__ID=caller,
                               Bridge__B__Unique__ID=leg))


def test_outcomes_of_callers_and_what_counts_as_lost():
    clock = Clock()
    ledger = Ledger(clock)
    for n in range(5):
        park(ledger, n % 2, f"c{n}", f"a{n}")
    clock.now = 2.0
    ring_and_bridge(ledger, 0, "c0", "l0", "x1")
    assert ledger.abandon(ledger.by_a_leg["a1"])          # patience ran out
    ledger.on_event(1, event("CHANNEL_HANGUP", Unique__ID="c1"))
    assert not ledger.abandon(ledger.callers["c0"])       # already answered: not abandoned
    ledger.switch_gone(0)                                 # c2 and c4 wait on switch 0: gone
    ledger.on_event(1, event("CHANNEL_HANGUP", Unique__ID="a3"))   # c3: hung up, never bridged
    figures = ledger.figures()
    assert (figures["offered"], figures["answered"], figures["abandoned"],
            figures["gone_with_their_switch"], figures["lost"]) == (5, 1, 1, 2, 1)
    assert [c["uuid"] for c in figures["lost_examples"]] == ["c3"]
    assert figures["wait_s"]["max"] == 2.0


def test_an_agent_bridged_twice_at_once_is_a_double_offer():
    clock = Clock()
    ledger = Ledger(clock)
    for n in range(3):
        park(ledger, n % 2, f"c{n}", f"a{n}")
    ring_and_bridge(ledger, 0, "c0", "l0", "x1")
    clock.now = 1.0
    ledger.on_event(0, event("CHANNEL_HANGUP", Unique__ID="l0"))
    ring_and_bridge(ledger, 1, "c1", "l1", "x1")          # after the first: fine
    assert ledger.double_offers() == 0
    ring_and_bridge(ledger, 0, "c2", "l2", "x1")          # while the second talks: double
    assert ledger.double_offers() == 1


def test_times_are_when_the_switch_says_an_event_happened_not_when_it_was_read():
    clock, wall = Clock(), Clock()
    wall.now = 1000.0
    ledger = Ledger(clock, wall)
    for n in range(2):
        park(ledger, n % 2, f"c{n}", f"a{n}")
    ring_and_bridge(ledger, 0, "c0", "l0", "x1")
    clock.now, wall.now = 2.0, 1002.0
    ring_and_bridge(ledger, 1, "c1", "l1", "x1")          # read before the first one's hangup,
    clock.now, wall.now = 2.2, 1002.2                     # which happened 0.5 s before it
    ledger.on_event(0, event("CHANNEL_HANGUP", Unique__ID="l0",
                             Event__Date__Timestamp=str(int(1001.5e6))))
    assert ledger.double_offers() == 0
    assert abs(ledger.legs["l0"].ended - 1.5) < 1e-6


def test_the_extra_wait_a_fault_added():
    clock = Clock()
    ledger = Ledger(clock)
    park(ledger, 0, "calm", "a0")
    clock.now = 0.5
    ring_and_bridge(ledger, 0, "calm", "l0", "x1")        # baseline: 0.5 s
    clock.now = 10.0
    park(ledger, 0, "hit", "a1")
    clock.now = 11.0
    ledger.fault("daemon-kill", "#0")
    clock.now = 14.0
    ring_and_bridge(ledger, 0, "hit", "l1", "x2")         # waited 4 s across the fault
    faults = ledger.figures()["faults"]
    assert faults["baseline_longest_wait_s"] == 0.5
    assert faults["longest_extra_wait_s"] == {"daemon-kill": 3.5}


def test_the_schedule_kills_a_daemon_every_30_s_and_has_every_other_fault_in_between():
    plan = soak.schedule(600)
    kills = [t for t, fault, _ in plan if fault == "daemon-kill"]
    assert kills[:3] == [30.0, 60.0, 90.0] and all(b - a == 30 for a, b in zip(kills, kills[1:]))
    assert {which for _, fault, which in plan if fault == "daemon-kill"} == {0, 1}
    others = [fault for _, fault, _ in plan if fault != "daemon-kill"]
    assert set(others) == set(soak.OTHER_FAULTS) and plan[0] == (15.0, "esl-drop", 0)
    assert {f for t, f, _ in soak.schedule(120)} == {"daemon-kill", *soak.OTHER_FAULTS}
