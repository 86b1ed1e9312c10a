"""Simulated media: playback timing and events, and broadcasts (``uuid_broadcast``, hold music).

Theory of operation: no audio flows. A playback lasts as long as the file would: the config's
``sounds`` globs for files, the tone script for ``tone_stream://``, the milliseconds of
``silence_stream://N``, forever for ``local_stream://`` (until uuid_break, hangup, a transfer or
the end of the bridge it plays in). It ends ``break`` when broken (uuid_break, a digit that stops
a prompt, the bridge partner gone) and ``done`` otherwise -- a hangup too, as captured. A
broadcast is a COMMAND message (its creation-time standard headers lead the PRIVATE_COMMAND
fired when it has run) that reaches the leg's session about 200 ms later, as on the real switch
(captures caller_park, announce_in_bridge, hold_unhold). Recordings are in recording.py.
"""

import re

import gevent

from acd.clock import monotonic

RATE = 8000
FOREVER = None
#: Seconds between uuid_broadcast (or hold) and the playback starting on the leg.
BROADCAST_DELAY = 0.2
_TONE = re.compile(r"%\((\d+),(\d+)")
_LOOPS = re.compile(r"loops=(-?\d+)")


# --- playback ----------------------------------------------------------------------------

def duration(config, path):
    """Seconds a playback of ``path`` lasts; None = until broken."""
    scheme, sep, rest = path.partition("://")
    if not sep:
        return config.sound_seconds(path)
    if scheme == "local_stream":
        return FOREVER
    if scheme == "silence_stream":
        millis = _leading_int(rest, 1000)
        return FOREVER if millis < 0 else millis / 1000.0
    if scheme == "tone_stream":
        return _tone_seconds(rest)
    return config.sound_seconds(rest)


def _leading_int(text, default):
    match = re.match(r"-?\d+", text)
    return int(match.group()) if match else default


def _tone_seconds(script):
    cycles = [int(on) + int(off) for on, off in _TONE.findall(script)]
    if not cycles:
        return 1.0
    loops = _LOOPS.search(script)
    count = int(loops.group(1)) if loops else 1
    return FOREVER if count < 0 else sum(cycles) * max(count, 1) / 1000.0


def play(session, path, digits_stop=False):
    """Play one file: PLAYBACK_START, wait, PLAYBACK_STOP. Returns 'done' or 'break'."""
    sw, ch = session.sw, session.ch
    seconds = duration(sw.config, path)
    scheme, sep, _ = path.partition("://")
    kind = [("Playback-File-Type", scheme)] if sep and scheme != "silence_stream" else []
    target = [("Playback-File-Path", path)]
    sw.fire_channel(ch, "PLAYBACK_START", post=kind + target)
    started = monotonic()
    status = _wait_playback(session, seconds, digits_stop)
    played = monotonic() - started if status == "break" else (seconds or 0)
    millis = int(played * 1000)
    ch.set_var("playback_last_offset_pos", millis * RATE // 1000)
    ch.set_var("playback_seconds", millis // 1000)
    ch.set_var("playback_ms", millis)
    ch.set_var("playback_samples", millis * RATE // 1000)
    sw.fire_channel(ch, "PLAYBACK_STOP", post=kind + target + [("Playback-Status", status)])
    return status


def _wait_playback(session, seconds, digits_stop):
    deadline = None if seconds is None else monotonic() + seconds
    session.playing, session.break_requested = True, False
    try:
        while True:
            if session.interrupted():
                return "done"
            if session.break_requested or session.bridge_over():
                session.broken = True
                return "break"
            if digits_stop and session.digits:
                return "break"
            remaining = None if deadline is None else deadline - monotonic()
            if remaining is not None and remaining <= 0:
                return "done"
            session.wait(remaining, messages=False)
    finally:
        session.playing = session.break_requested = False




# --- broadcast ----------------------------------------------------------------------------

def broadcast(sw, ch, path, calling="COMMAND_BROADCAST", loops=None):
    """Queue ``path`` (or ``app::args``) on ``ch`` as switch_ivr_broadcast does; the message
    reaches the session BROADCAST_DELAY later. Returns the Message (``done`` once it ran)."""
    from acd.sim.session import Message  # session imports media
    app, sep, app_arg = path.partition("::")
    if not sep:
        app, app_arg = "playback", path
    fields = [("call-command", "execute"), ("execute-app-name", app),
              ("execute-app-arg", app_arg), ("event-lock", "true"), ("lead-frames", "5")]
    if loops is not None:
        fields.append(("loops", str(loops)))
    lead = sw.identity.standard_headers("COMMAND", calling) + fields
    message = Message(lead, dict(fields))
    message.timer = gevent.spawn_later(BROADCAST_DELAY, _deliver, ch, message)
    ch.timers.append(message.timer)
    return message


def _deliver(ch, message):
    if not ch.hung_up and ch.session is not None:
        ch.session.queue_message(message)


def cancel(ch, message):
    """Take back a broadcast: not yet delivered -> dropped; running -> broken and waited for
    (its PLAYBACK_STOP, EXECUTE_COMPLETE and PRIVATE_COMMAND are then out)."""
    session = ch.session
    if message.timer is not None and not message.timer.dead:
        message.timer.kill(block=False)
        return
    if session is None or message.done.is_set():
        return
    if message in session.messages:
        session.messages.remove(message)
        return
    session.interrupt()
    message.done.wait(2.0)
