"""Dialplan applications, run by a Session (dialplan, ``&app()`` of originate, sendmsg execute).

Each application is ``app(session, arg)``; it may block (park, sleep, playback...) by waiting on
the session, and sets ``current_application_response`` when FreeSWITCH's would. Application
names are data: ``APPLICATIONS`` maps the name used on the wire to the function.
"""

import re

from acd.clock import monotonic
from acd.sim import bridge, eavesdrop, media, recording, transfer
from acd.sim.causes import parse_cause

READ_TIMEOUT_DEFAULT_MS = 5000


def answer(s, arg):
    s.sw.answer(s.ch)


def pre_answer(s, arg):
    s.sw.pre_answer(s.ch)


def ring_ready(s, arg):
    s.sw.ring_ready(s.ch)


def hangup(s, arg):
    s.sw.hangup(s.ch, parse_cause(arg or None))


def set_variable(s, arg):
    name, _, value = arg.partition("=")
    if name:
        s.ch.set_var(name.strip(), value if value else None)


def unset_variable(s, arg):
    s.ch.unset_var(arg.strip())


def export_variable(s, arg):
    """Like set, and remembered in ``export_vars`` (FreeSWITCH copies them to new B legs)."""
    name, _, value = arg.partition("=")
    name = name.strip().replace("nolocal:", "")
    if not name:
        return
    s.ch.set_var(name, value if value else None)
    exported = [v for v in (s.ch.get_var("export_vars") or "").split(",") if v]
    if name not in exported:
        s.ch.set_var("export_vars", ",".join(exported + [name]))


def park(s, arg):
    """Wait, running queued messages, until hangup or a request (bridge/transfer)."""
    s.sw.fire_channel(s.ch, "CHANNEL_PARK")
    s.idle()
    s.sw.fire_channel(s.ch, "CHANNEL_UNPARK")


def sleep(s, arg):
    millis = _int(arg, 0)
    s.idle(until=monotonic() + millis / 1000.0)


def playback(s, arg):
    """A playback cut by a transfer reports ``PLAYBACK ERROR`` (as captured), else FILE PLAYED."""
    if arg:
        media.play(s, arg)
        transferred = s.request is not None and s.request[0] == "transfer"
        s.ch.set_var("current_application_response",
                     "PLAYBACK ERROR" if transferred else "FILE PLAYED")


def acknowledge_call(s, arg):
    """Tells an unanswered caller the call is being handled; an answered one: nothing."""


def play_and_get_digits(s, arg):
    """min max tries timeout terminators file invalid_file [var [regexp [digit_timeout]]].

    As mod_dptools/switch_ivr_play_say.c: timeout below 1000 ms is 1000 ms; each try clears
    ``var`` and ``read_result``; the prompt is cut by the first digit; digits matching
    ``regexp`` go to ``var``, digits that do not go to ``<var>_invalid`` (cleared at the start);
    too few digits leave what was typed in ``var`` (FreeSWITCH does so too) and fail; the
    invalid file plays after every failed try, timeouts included; a lone terminator with
    max 1 counts as no input."""
    args = arg.split(" ")
    if len(args) < 7:
        return
    minimum, maximum, tries, timeout = (_int(v, 0) for v in args[:4])
    terminators, prompt, invalid = args[4] or "#", args[5], args[6]
    var_name, regexp = (args + ["", ""])[7:9]
    minimum = max(minimum, 0)
    maximum = max(maximum, minimum)
    timeout = max(timeout, 1000)
    digit_timeout = (_int(args[9], 0) if len(args) > 9 else 0) or timeout
    if regexp and var_name:
        s.ch.unset_var(var_name + "_invalid")
    for _ in range(max(tries, 0)):
        digits, result = _read(s, prompt, minimum, maximum, timeout, digit_timeout, terminators,
                               var_name)
        if s.interrupted():
            return
        if result != "failure" and digits:
            if not regexp or _matches(regexp, digits):
                return
            s.ch.unset_var(var_name)
            if var_name:
                s.ch.set_var(var_name + "_invalid", digits)
        if invalid:
            media.play(s, invalid)


def _read(s, prompt, minimum, maximum, timeout, digit_timeout, terminators, var_name):
    """switch_ivr_read: -> (digits, read_result)."""
    s.ch.unset_var("read_result")
    if var_name:
        s.ch.unset_var(var_name)
    s.digits.clear()
    if prompt and prompt.lower() != "silence":
        media.play(s, prompt, digits_stop=True)
    collected, terminator = "", None
    deadline = monotonic() + timeout / 1000.0
    while not s.interrupted() and len(collected) < maximum:
        if s.digits:
            digit = s.digits.popleft()
            if digit in terminators:
                terminator = digit
                break
            collected += digit
            deadline = monotonic() + digit_timeout / 1000.0
            continue
        remaining = deadline - monotonic()
        if remaining <= 0:
            break
        s.wait(remaining, messages=False)
    if terminator:
        s.ch.set_var("read_terminator_used", terminator)
    timed_out = terminator is None and len(collected) < maximum
    result = "failure" if minimum and len(collected) < minimum else (
        "timeout" if timed_out else "success")
    s.ch.set_var("read_result", result)
    if var_name and collected:
        s.ch.set_var(var_name, collected)
    return collected, result


def _matches(regexp, digits):
    try:
        return re.search(regexp, digits) is not None
    except re.error:
        return False


def record_session(s, arg):
    path = arg.split(" ")[0] if arg else ""
    if path:
        recording.start(s, path)


def stop_record_session(s, arg):
    path = arg.split(" ")[0] if arg else ""
    if path == "all" or not path:
        recording.stop_all(s, "success-maxtime")
    else:
        recording.stop(s, path)


def transfer_app(s, arg):
    """transfer <destination> [dialplan] [context]: leave this extension for another one."""
    words = (arg or "").split()
    if words:
        transfer.start(s.sw, s.ch, words[0], words[1] if len(words) > 1 else "XML",
                       words[2] if len(words) > 2 else "default")


def bridge_app(s, arg):
    bridge.run_bridge_app(s, arg)


def _int(text, default):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


APPLICATIONS = {
    "answer": answer, "pre_answer": pre_answer, "ring_ready": ring_ready, "hangup": hangup,
    "set": set_variable, "unset": unset_variable, "export": export_variable, "park": park,
    "sleep": sleep, "playback": playback, "play_and_get_digits": play_and_get_digits,
    "record_session": record_session, "stop_record_session": stop_record_session,
    "transfer": transfer_app, "bridge": bridge_app, "acknowledge_call": acknowledge_call,
    "eavesdrop": eavesdrop.eavesdrop,
}
