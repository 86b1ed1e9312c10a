"""API commands (``api`` / ``bgapi``), with FreeSWITCH 1.10.12's exact reply texts.

Theory of operation: ``run`` is switch_api_execute: it looks the command up in ``COMMANDS``,
runs it (an unknown command answers ``-ERR <cmd> Command not found!``), fires the API event
(stamped with the start time, fired at the end), and hands the reply to ``report`` -- the
connection writes it, or bgapi fires BACKGROUND_JOB. Work a command defers with ``later``
(originate: starting the answered leg's application, destroying failed legs) runs after that,
so its events follow the reply as on a real switch.

The commands live by subject: calls (api_calls.py), media and digits (api_media.py), transfer
(transfer.py), hold (hold.py), recording (recording.py), the inbound SIP caller (inbound.py);
variables and reports are here.
"""

import logging

from acd.sim import (api_calls, api_media, fsparse, hold, inbound, latency, links, listing,
                     recording, trace, transfer, users)
from acd.sim.api_calls import NO_SUCH_CHANNEL

log = logging.getLogger("acd.sim.api")


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


def api_sim_esl(call):
    return links.api_sim_esl(call.sw, call.arg)


def api_sim_call(call):
    return inbound.api_sim_call(call.sw, call.arg)


COMMANDS = {
    "uuid_setvar": api_uuid_setvar, "uuid_getvar": api_uuid_getvar,
    "uuid_exists": api_uuid_exists, "uuid_dump": api_uuid_dump,
    "uuid_transfer": transfer.api_uuid_transfer, "uuid_hold": hold.api_uuid_hold,
    "uuid_record": recording.api_uuid_record,
    "system": recording.api_system, "file_exists": recording.api_file_exists,
    "show": api_show, "status": api_status, "version": api_version,
    "sim_user": api_sim_user, "sim_users": api_sim_users, "sim_trace": api_sim_trace,
    "sim_latency": api_sim_latency, "sim_esl": api_sim_esl,
    "sim_call": api_sim_call,
}
COMMANDS.update(api_calls.COMMANDS)
COMMANDS.update(api_media.COMMANDS)
