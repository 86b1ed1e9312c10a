"""The switch-under-load scenario: ``acd bench --switch-latency ... [--event-delay S]``.

Theory of operation
-------------------
A real FreeSWITCH under CPU pressure answers commands late, and mod_event_socket runs an inline
``api`` (and ``sendmsg``) in the thread that delivers that connection's events: one slow
command freezes the connection. The simulator models it (acd/sim/latency.py): each named
command takes its seconds, and every event can be delivered late. In this mode the bench:

1. sets the latencies with the simulator-only ``sim_latency set`` after the phones are created
   and the simulator's ceiling is measured, before the daemon starts (the daemon meets a slow
   switch from its first command; the bench's own callers, sent with ``bgapi``, are slowed the
   same way, as everything on a loaded switch is);
2. after each step, waits until the step's calls are over (the simulator's channel count is back
   to where it was before the step, or ``drain_limit`` seconds passed), so every agent leg's fate
   is in the simulator's trace;
3. counts from the trace (acd/sim/trace.py), for the callers who parked during the step:
   ``bridged`` (callers whose agent leg was bridged), ``agent_legs`` (agent legs the daemon
   originated for them), ``agents_dropped`` (agent legs that answered and were hung up without
   ever being bridged: an agent who picked up for nothing), and the time from each caller's
   CHANNEL_PARK to the first originate for that caller (queueing included; the decision latency
   proper, a park while an agent is free, is the step's ``call_arrived``).

Everything here but :func:`parse_latency`'s validation is pure: data in, data out.
"""

import argparse

from acd.bench import latency

#: Seconds a step may take to drain beyond the agents' talk time.
DRAIN_SECONDS = 30.0


def parse_latency(text):
    """``uuid_bridge=2.0,sendmsg=0.05`` -> ``{"uuid_bridge": 2.0, "sendmsg": 0.05}`` (for
    argparse); checked by the simulator's own config validation."""
    from acd.sim.config import ConfigError, validate_latency
    commands = {}
    for part in (part.strip() for part in text.split(",")):
        if not part:
            continue
        name, sep, seconds = (piece.strip() for piece in part.partition("="))
        if not sep:
            raise argparse.ArgumentTypeError(
                f"expected COMMAND=SECONDS[,COMMAND=SECONDS...], got {part!r}")
        try:
            commands[name] = float(seconds)
        except ValueError:
            commands[name] = seconds        # the validation below names the problem
    try:
        validated, _ = validate_latency({"command-latency": commands})
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("command-latency.", "", 1)) from None
    return validated


def settings(commands, event_delay):
    """The ``sim_latency set`` payload."""
    return {"command-latency": dict(commands), "event-delay": event_delay}


def enabled(args):
    return bool(args.switch_latency) or args.event_delay > 0


def channel_count(reply):
    """``show channels count`` -> the number (``\\n3 total.\\n``)."""
    words = reply.split()
    if not words or not words[0].isdigit():
        raise RuntimeError(f"show channels count: unexpected reply {reply.strip()!r}")
    return int(words[0])


def figures(trace, offered, undrained, ignore_queues=()):
    """The switch-side figures of one step from its trace records."""
    parked, first_originate, bridged = {}, {}, set()
    agent_legs = dropped = 0
    for kind, t, _uuid, caller, queue in trace:
        if kind == "park" and queue not in ignore_queues:
            parked.setdefault(caller, t)
        elif kind == "originate" and caller in parked:
            first_originate.setdefault(caller, t)
        elif kind == "agent-hangup" and caller in parked:
            agent_legs += 1
        elif kind == "agent-bridged" and caller in parked:
            bridged.add(caller)
        elif kind == "agent-dropped" and caller in parked:
            dropped += 1
    waits = [first_originate[c] - t for c, t in parked.items() if c in first_originate]
    return {"offered": offered, "parked": len(parked), "bridged": len(bridged),
            "never_bridged": len(parked) - len(bridged), "agent_legs": agent_legs,
            "agents_dropped": dropped, "undrained_channels": undrained,
            "park_to_first_originate_ms": {
                k: (round(v * 1000, 3) if isinstance(v, float) else v)
                for k, v in latency.percentiles(waits, (50, 95)).items()}}


def describe(options):
    """``uuid_bridge=2 sendmsg=0.05, event delay 0 s``."""
    commands = " ".join(f"{name}={seconds:g}" for name, seconds in
                        sorted((options.get("switch_latency") or {}).items()))
    return f"{commands or 'no command latency'}, event delay {options.get('event_delay', 0):g} s"


def summary_lines(step):
    """The human summary of one step's ``switch`` section."""
    s = step.get("switch")
    if not s:
        return []
    arrived = step["latency_ms"]["call_arrived"]
    wait = s["park_to_first_originate_ms"]
    return [
        f"    switch: offered {s['offered']}, parked {s['parked']}, bridged {s['bridged']} "
        f"(never bridged {s['never_bridged']}), agent legs {s['agent_legs']}, answered then "
        f"dropped {s['agents_dropped']}, channels left after the drain "
        f"{s['undrained_channels']}",
        f"    CHANNEL_PARK -> originate (decision, agent free): {_pmax(arrived)}; "
        f"park -> first originate (every caller): {_pmax(wait)}"]


def _pmax(entry):
    if not entry or not entry.get("count"):
        return "-"
    return (f"p50 {entry['p50']:.1f} p95 {entry['p95']:.1f} max {entry['max']:.1f} ms "
            f"(n={entry['count']})")
