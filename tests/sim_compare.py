"""Comparing what the simulator emitted with a real FreeSWITCH capture, leg by leg.

Shared by the conformance test modules (test_sim_conformance.py, test_sim_cti_conformance.py);
what is compared, and the one explicit allowance (``SIP_ONLY``), is described in
test_sim_conformance.py's docstring.
"""

import difflib
import pathlib
import re

from tests.rawesl import read_frames

DATA = pathlib.Path(__file__).parent / "data"

#: Variables only a real SIP/RTP stack or FreeSWITCH's example directory has.
SIP_ONLY = re.compile(
    r"^(sip_|rtp_|sofia_|recovery_profile_name|switch_[rm]_sdp|ep_codec_string|local_media_|"
    r"advertised_media_ip|remote_media_|(remote_)?(audio|video|text)_media_flow|dtmf_type|"
    r"record_stereo|default_gateway|default_areacode|transfer_fallback_extension|toll_allow|"
    r"callgroup|proto_specific_hangup_cause|last_bridge_proto_specific_hangup_cause)")

#: Set by one leg's thread on the other leg at the end of a bridge: in FreeSWITCH it lands on
#: whichever event that leg fires next, so its first appearance is timing, not protocol.
TIMING_VARIABLES = frozenset(("variable_bridge_hangup_cause",))

#: Reset on the B leg by the A leg's thread when a bridge ends: where that lands in the B leg's
#: variable order is thread timing (both interleavings are captured). Present, order unchecked.
TIMING_ORDER = frozenset(("variable_call_uuid",))

KEY_VALUES = (
    "Event-Calling-File", "Event-Calling-Function", "Event-Calling-Line-Number",
    "Channel-State", "Channel-State-Number", "Channel-Call-State", "Answer-State",
    "Hangup-Cause", "Call-Direction", "Channel-HIT-Dialplan", "Application",
    "Application-Response", "Original-Channel-Call-State", "Channel-Call-State-Number",
    "Other-Type", "Playback-Status", "Playback-File-Type", "DTMF-Digit", "DTMF-Duration",
    "DTMF-Source", "Record-Completion-Cause", "Media-Bug-Function", "Caller-Caller-ID-Name",
    "Caller-Caller-ID-Number", "Caller-Destination-Number", "Caller-Context", "Caller-Source",
    "Caller-Profile-Index", "variable_read_result", "variable_acd_choice",
    "variable_dialed_user", "variable_acd_queue", "variable_endpoint_disposition",
)

# --- comparing -------------------------------------------------------------------------------

def capture_events(name):
    frames = read_frames((DATA / (name + ".recv")).read_bytes())
    return [frame.event() for frame in frames if frame.is_event]


def by_leg(events, leg_name=None):
    """{leg: [events]} by Channel-Name (#2, #3 for a name seen again); '' = no channel.
    ``leg_name`` maps a Channel-Name to the name legs are grouped by."""
    legs, names, seen = {}, {}, {}
    for event in events:
        uid = event.get("Unique-ID")
        if not uid or event.name in ("API", "BACKGROUND_JOB", "HEARTBEAT", "RE_SCHEDULE"):
            legs.setdefault("", []).append(event)
            continue
        if uid not in names:
            base = event.get("Channel-Name")
            base = leg_name(base) if leg_name else base
            seen[base] = seen.get(base, 0) + 1
            names[uid] = base + ("#%d" % seen[base] if seen[base] > 1 else "")
        legs.setdefault(names[uid], []).append(event)
    return legs


def shape(event):
    out = []
    for name in event.names:
        if name.startswith("variable_"):
            if not out or out[-1] != "<variables>":
                out.append("<variables>")
        else:
            out.append(name)
    return out


def variables(event):
    return [n for n in event.names if n.startswith("variable_") and not SIP_ONLY.match(n[9:])
            and n not in TIMING_VARIABLES]


def assert_leg(leg, captured, simulated, ordered, keys=()):
    names = [e.name for e in captured]
    assert [e.name for e in simulated] == names, "%s:\n%s" % (leg, "\n".join(
        difflib.unified_diff(names, [e.name for e in simulated], "captured", "simulated",
                             lineterm="")))
    for i, (real, sim) in enumerate(zip(captured, simulated)):
        where = "%s #%d %s" % (leg, i, real.name)
        assert shape(sim) == shape(real), "%s: %s" % (where, _first_difference(
            shape(sim), shape(real)))
        for key in KEY_VALUES + tuple(keys):
            assert sim.get(key) == real.get(key), "%s %s" % (where, key)
        if ordered:
            mine, theirs = _ordered(variables(sim)), _ordered(variables(real))
            assert mine == theirs, "%s:\n%s" % (where, "\n".join(
                difflib.unified_diff(theirs, mine, "captured", "simulated", lineterm="")))
        else:
            mine, theirs = set(variables(sim)), set(variables(real))
            assert mine == theirs, "%s: only simulated %s, only captured %s" % (
                where, sorted(mine - theirs), sorted(theirs - mine))


def assert_global(captured, simulated):
    def summary(events):
        return [(e.name, e.get("API-Command"), shape(e), e.body.split(b" ")[0].strip())
                for e in events if e.name in ("API", "BACKGROUND_JOB")]
    assert summary(simulated) == summary(captured)


def assert_scenario(name, simulated, skip=(), ordered=False, keys=(), leg_name=None,
                    captured=None):
    """``captured``: the capture's events, if the caller had to adjust them (an allowance)."""
    captured = capture_events(name) if captured is None else captured
    real, sim = by_leg(captured, leg_name), by_leg(simulated, leg_name)
    assert sorted(sim) == sorted(real)
    for leg, events in real.items():
        if leg == "":
            assert_global(events, sim[leg])
        elif leg not in skip:
            assert_leg(leg, events, sim[leg], ordered, keys)


def _ordered(names):
    """Names in order, TIMING_ORDER ones sorted to the end (their presence still counts)."""
    return [n for n in names if n not in TIMING_ORDER] + sorted(
        n for n in names if n in TIMING_ORDER)


def _first_difference(mine, theirs):
    for i, (a, b) in enumerate(zip(mine, theirs)):
        if a != b:
            return "header #%d simulated %s, captured %s" % (i, a, b)
    return "simulated %d headers, captured %d" % (len(mine), len(theirs))
