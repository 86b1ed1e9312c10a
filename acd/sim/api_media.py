"""API commands about media and digits: uuid_broadcast, uuid_break, uuid_recv_dtmf
(uuid_record is in recording.py, uuid_hold in hold.py, the phone's digits in dtmf.py).

Each is ``api_<name>(call)`` -> the reply text, FreeSWITCH 1.10.12's byte for byte.
"""

from acd.sim import dtmf, media
from acd.sim.api_calls import NO_SUCH_CHANNEL

CANNOT_LOCATE = "-ERR Cannot locate session!\n"


def api_uuid_broadcast(call):
    """``uuid_broadcast <uuid> <path>|<app>::<args> [aleg|bleg|both]``: about 200 ms later the
    legs play it; with ``both`` the partner's broadcast is made first, as captured."""
    args = call.args(4)
    ch = call.channel(args[0] if args else "")
    if ch is None or ch.session is None:
        return "-ERR invalid uuid\n"
    if len(args) < 2:
        return "-USAGE: <uuid> <path> [aleg|bleg|both]\n"
    where = args[2].lower() if len(args) > 2 else "aleg"
    partner = ch.partner if ch.partner is not None and not ch.left_bridge else None
    legs = {"bleg": [partner], "both": [partner, ch]}.get(where, [ch])
    for leg in legs:
        if leg is not None and leg.session is not None and not leg.hung_up:
            calling = "COMMAND_BROADCAST" if leg is ch else "COMMAND_BROADCAST_BLEG"
            media.broadcast(call.sw, leg, args[1], calling)
    return "+OK Message sent\n"


def api_uuid_break(call):
    args = call.arg.split()
    ch = call.channel(args[0] if args else "")
    if ch is None or ch.session is None:
        return NO_SUCH_CHANNEL
    ch.session.interrupt(flush=len(args) > 1 and args[1] == "all")
    return "+OK\n"


def api_uuid_recv_dtmf(call):
    args = call.args(2)
    ch = call.channel(args[0] if args else "")
    if ch is None or ch.session is None:
        return CANNOT_LOCATE
    if len(args) < 2:
        return "-USAGE: <uuid> <dtmf_data>\n"
    ch.session.inject_dtmf(dtmf.parse_digits(args[1]))
    return "+OK %s received DTMF %s.\n" % (ch.uuid, args[1])


def api_sim_dtmf(call):
    return dtmf.api_sim_dtmf(call.sw, call.arg)


COMMANDS = {
    "uuid_broadcast": api_uuid_broadcast, "uuid_break": api_uuid_break,
    "uuid_recv_dtmf": api_uuid_recv_dtmf, "sim_dtmf": api_sim_dtmf,
}
