"""API commands (``api`` / ``bgapi``), with FreeSWITCH 1.10.12's exact reply texts.

Theory of operation: ``run`` is switch_api_execute: it looks the command up in ``COMMANDS``,
runs it (an unknown command answers ``-ERR <cmd> Command not found!``), fires the API event
(stamped with the start time, fired at the end), and hands the reply to ``report`` -- the
connection writes it, or bgapi fires BACKGROUND_JOB. Work a command defers with ``later``
(originate: starting the answered leg's application, destroying failed legs) runs after that,
so its events follow the reply as on a real switch.
"""

import logging

from acd.sim import bridge, fsparse, latency, listing, media, originate, trace, users
from acd.sim.causes import parse_cause
from acd.sim.dialstring import UsageError, parse_originate
from acd.sim.fsparse import ParseError
from acd.sim.session import Message

log = logging.getLogger("acd.sim.api")

NO_SUCH_CHANNEL = "-ERR No such channel!\n"
CANNOT_LOCATE = "-ERR Cannot locate session!\n"


class Call:
    """One API invocation: the switch, the argument, and work deferred past the reply."""

    def __init__(self, sw, arg):
        self.sw = sw
        self.arg = arg
        self.deferred = []

    def later(self, work):
        self.deferred.append(work)

    def channel(self, uuid):
        return self.sw.find(uuid)

    def args(self, limit):
        """The argument cut as mod_commands cuts it: at blanks, quotes and backslash escapes
        honoured, at most ``limit`` pieces (the last keeps the rest of the line)."""
        return fsparse.separate_string(self.arg, " ", limit) if self.arg.strip() else []


def run(sw, command, arg, report):
    """Execute ``command arg``; ``report(reply)`` gets the reply before deferred work runs."""
    started = sw.clock()
    call = Call(sw, arg or "")
    handler = COMMANDS.get(command)
    if handler is None:
        reply = "-ERR %s Command not found!\n" % command
    else:
        try:
            reply = handler(call)
        except Exception:  # noqa: BLE001 - a simulator bug answers like a failed command
            log.exception("api %s %s failed", command, arg)
            reply = "-ERR %s failed\n" % command
    api_headers = [("API-Command", command)] if command else []
    if arg:
        api_headers.append(("API-Command-Argument", arg))
    sw.fire("API", lambda: api_headers, now=started)
    report(reply)
    for work in call.deferred:
        work()
    return reply


# --- calls ---------------------------------------------------------------------------------

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


def api_uuid_transfer(call):
    args = call.args(5)
    if args and args[0] in ("-bleg", "-both"):
        args = args[1:]
    ch = call.channel(args[0] if args else "")
    if ch is None or ch.session is None:
        return NO_SUCH_CHANNEL
    if len(args) < 2:
        return "-USAGE: [-bleg|-both] <uuid> <dest-exten> [<dialplan>] [<context>]\n"
    extension = call.sw.extension_for(args[1])
    if extension is None:
        call.sw.hangup(ch, "NO_ROUTE_DESTINATION")
    else:
        ch.session.ask("transfer", extension, args[1])
    return "+OK\n"


def api_uuid_park(call):
    args = call.args(2)
    ch = call.channel(args[0] if args else "")
    if ch is None or ch.session is None:
        return NO_SUCH_CHANNEL
    ch.session.ask("transfer", [("park", "")], ch.profile.destination)
    return "+OK\n"


def api_uuid_answer(call):
    args = call.args(2)
    ch = call.channel(args[0] if args else "")
    if ch is None:
        return "-ERROR\n"
    call.sw.answer(ch)
    return "+OK\n"


def api_uuid_hold(call):
    return "+OK Success\n"


# --- variables -------------------------------------------------------------------------------

def api_uuid_setvar(call):
    args = call.args(3)
    ch = call.channel(args[0] if args else "")
    if ch is None:
        return NO_SUCH_CHANNEL
    if len(args) < 2 or not args[1]:
        return "-USAGE: <uuid> <var> [value]\n"
    ch.set_var(args[1], args[2] if len(args) > 2 else None)
    return "+OK\n"


def api_uuid_getvar(call):
    args = call.args(4)
    ch = call.channel(args[0] if args else "")
    if ch is None:
        return NO_SUCH_CHANNEL
    if len(args) < 2:
        return "-USAGE: <uuid> <var>\n"
    return ch.get_var(args[1], "_undef_")


def api_uuid_exists(call):
    return "true" if call.channel(call.arg.strip()) is not None else "false"


def api_uuid_dump(call):
    args = call.args(2)
    ch = call.channel(args[0] if args else "")
    if ch is None or ch.profile is None:
        return NO_SUCH_CHANNEL
    return listing.dump(call.sw, ch, args[1] if len(args) > 1 else "")


# --- media ---------------------------------------------------------------------------------

def api_uuid_broadcast(call):
    args = call.args(4)
    ch = call.channel(args[0] if args else "")
    if ch is None or ch.session is None:
        return "-ERR invalid uuid\n"
    if len(args) < 2:
        return "-USAGE: <uuid> <path> [aleg|bleg|both]\n"
    legs = {"bleg": [ch.partner], "both": [ch, ch.partner]}.get(
        args[2] if len(args) > 2 else "aleg", [ch])
    for leg in legs:
        if leg is not None and leg.session is not None:
            leg.session.queue_message(_broadcast(call.sw, args[1]))
    return "+OK Message sent\n"


def _broadcast(sw, path):
    app, sep, app_arg = path.partition("::")
    if not sep:
        app, app_arg = "playback", path
    fields = [("call-command", "execute"), ("execute-app-name", app),
              ("execute-app-arg", app_arg), ("event-lock", "true"), ("lead-frames", "5")]
    lead = sw.identity.standard_headers("COMMAND", "COMMAND_BROADCAST") + fields
    return Message(lead, {k: v for k, v in fields})


def api_uuid_break(call):
    args = call.arg.split()
    ch = call.channel(args[0] if args else "")
    if ch is None or ch.session is None:
        return NO_SUCH_CHANNEL
    ch.session.interrupt(flush=len(args) > 1 and args[1] == "all")
    return "+OK\n"


def api_uuid_record(call):
    args = call.args(5)
    ch = call.channel(args[0] if args else "")
    if ch is None or ch.session is None:
        return CANNOT_LOCATE
    if len(args) < 3:
        return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
    action, path = args[1], args[2]
    if action == "start":
        media.start_recording(ch.session, path)
    elif action == "stop":
        if path == "all":
            media.stop_all_recordings(ch.session, "success-maxtime")
        elif not media.stop_recording(ch.session, path):
            return "-ERR Cannot stop record session!\n"
    elif action not in ("mask", "unmask"):
        return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
    return "+OK Success\n"


def api_uuid_recv_dtmf(call):
    args = call.args(2)
    ch = call.channel(args[0] if args else "")
    if ch is None or ch.session is None:
        return CANNOT_LOCATE
    if len(args) < 2:
        return "-USAGE: <uuid> <dtmf_data>\n"
    ch.session.inject_dtmf(_dtmf(args[1]))
    return "+OK %s received DTMF %s.\n" % (ch.uuid, args[1])


def _dtmf(text, default_ms=2000):
    """``12#`` or ``1@500,2@500`` -> [(digit, duration_ms)]."""
    digits = []
    for part in text.split(","):
        keys, _, duration = part.partition("@")
        ms = int(duration) if duration.isdigit() else default_ms
        digits.extend((key, ms) for key in keys if key in "0123456789*#ABCDabcd")
    return digits


# --- reports -------------------------------------------------------------------------------

def api_show(call):
    return listing.show(call.sw, call.arg)


def api_status(call):
    return listing.status_text(call.sw)


def api_version(call):
    return listing.VERSION_TEXT


def api_sim_user(call):
    return users.api_sim_user(call.sw, call.arg)


def api_sim_users(call):
    return users.api_sim_users(call.sw, call.arg)


def api_sim_trace(call):
    return trace.api_sim_trace(call.sw, call.arg)


def api_sim_latency(call):
    return latency.api_sim_latency(call.sw, call.arg)


COMMANDS = {
    "originate": api_originate, "uuid_kill": api_uuid_kill, "hupall": api_hupall,
    "uuid_bridge": api_uuid_bridge, "uuid_transfer": api_uuid_transfer,
    "uuid_park": api_uuid_park, "uuid_answer": api_uuid_answer, "uuid_hold": api_uuid_hold,
    "uuid_setvar": api_uuid_setvar, "uuid_getvar": api_uuid_getvar,
    "uuid_exists": api_uuid_exists, "uuid_dump": api_uuid_dump,
    "uuid_broadcast": api_uuid_broadcast, "uuid_break": api_uuid_break,
    "uuid_record": api_uuid_record, "uuid_recv_dtmf": api_uuid_recv_dtmf,
    "show": api_show, "status": api_status, "version": api_version,
    "sim_user": api_sim_user, "sim_users": api_sim_users, "sim_trace": api_sim_trace,
    "sim_latency": api_sim_latency,
}
