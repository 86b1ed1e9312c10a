"""API commands that make, join, move and end calls: originate, uuid_kill, hupall,
uuid_bridge, uuid_park, uuid_answer (uuid_transfer is in transfer.py, uuid_hold in hold.py).

Each is ``api_<name>(call)`` -> the reply text, FreeSWITCH 1.10.12's byte for byte; ``call`` is
api.Call (the switch, the argument, work deferred past the reply).
"""

from acd.sim import bridge, originate
from acd.sim.causes import parse_cause
from acd.sim.dialstring import UsageError, parse_originate
from acd.sim.fsparse import ParseError

NO_SUCH_CHANNEL = "-ERR No such channel!\n"


def api_originate(call):
    try:
        request = parse_originate(call.arg)
    except UsageError as usage:
        return str(usage)
    except ParseError:
        return "-ERR DESTINATION_OUT_OF_ORDER\n"
    if not request.attempts:
        return "-ERR DESTINATION_OUT_OF_ORDER\n"
    return originate.originate(call.sw, request, call.later)


def api_uuid_kill(call):
    args = call.args(2)
    ch = call.channel(args[0] if args else "")
    if ch is None:
        return NO_SUCH_CHANNEL
    call.sw.hangup(ch, parse_cause(args[1] if len(args) > 1 else None))
    return "+OK\n"


def api_hupall(call):
    args = call.args(11)
    cause = parse_cause(args[0] if args else None, "MANAGER_REQUEST")
    match = args[1:3] if len(args) >= 3 else None
    for ch in list(call.sw.channels.values()):
        if match is None or ch.get_var(match[0]) == match[1]:
            call.sw.hangup(ch, cause)
    return "+OK hangup all channels with cause %s\n" % cause


def api_uuid_bridge(call):
    args = call.args(4)
    if len(args) < 2:
        return "-USAGE: <uuid> <other_uuid>\n"
    a, b = call.channel(args[0]), call.channel(args[1])
    if not (bridge.can_bridge(a) and bridge.can_bridge(b)) or a is b:
        return "-ERR Invalid uuid\n"
    bridge.link(call.sw, a, b)
    return "+OK %s\n" % b.uuid


def api_uuid_park(call):
    args = call.args(2)
    ch = call.channel(args[0] if args else "")
    if ch is None or ch.session is None:
        return NO_SUCH_CHANNEL
    ch.session.ask("park", [("park", "")], ch.profile.destination)
    return "+OK\n"


def api_uuid_answer(call):
    args = call.args(2)
    ch = call.channel(args[0] if args else "")
    if ch is None:
        return "-ERROR\n"
    call.sw.answer(ch)
    return "+OK\n"


COMMANDS = {
    "originate": api_originate, "uuid_kill": api_uuid_kill, "hupall": api_hupall,
    "uuid_bridge": api_uuid_bridge, "uuid_park": api_uuid_park, "uuid_answer": api_uuid_answer,
}
