"""Recordings (``uuid_record``, ``record_session``): events and real WAV files (capture
record_consent).

Theory of operation: no audio flows, but a recording keeps the time line of its file: spans of
running time, each masked or not; paused time is left out. ``start`` fires RECORD_START (which
still carries the previous recording's ``record_*`` variables, as captured) and MEDIA_BUG_START
(``Media-Bug-Function: session_record``, ``Media-Bug-Target`` = the path); mask, unmask, pause and
resume fire nothing. ``stop`` (uuid_record stop, ``stop all``, stop_record_session, hangup)
writes the file -- 8 kHz 16-bit PCM, mono or (``RECORD_STEREO=true`` on the channel when the
recording starts, as ``switch_ivr_record_session`` reads it) two channels, a +-1 LSB hiss where unmasked (the near-silence of a
real call without audio) and exact digital zero where masked: 44 + 2 bytes per sample, like
FreeSWITCH's -- sets ``record_file_size/_samples/_seconds/_ms/_completion_cause`` and fires
RECORD_STOP then MEDIA_BUG_STOP. The completion cause is ``success-maxtime`` for a stop and
``success-silence`` when the call hangs up. As FreeSWITCH opens the file when the recording
starts, an empty WAV exists from the start on.

Files on the switch host: FreeSWITCH has no api that deletes a file; mod_commands' ``system``
runs a shell command and answers ``+OK`` whatever it did, ``file_exists`` answers ``true`` or
``false``. The simulator runs no shell: ``system`` carries out ``rm -f -- PATH`` (what acd sends
to delete a revoked recording) and logs anything else without running it.
"""

import logging
import os
import wave

from acd.clock import monotonic

log = logging.getLogger("acd.sim.recording")

RATE = 8000
_HISS = b"\x00\x00\x01\x00\x00\x00\xff\xff"    # 0, +1, 0, -1 (little-endian int16)
USAGE = ("-USAGE: <uuid> [start|stop|mask|unmask|pause|resume] <path> [<limit>] "
         "[<recording_vars>]\n")
_FAILURES = {"start": "-ERR Cannot record session!\n",
             "stop": "-ERR Cannot stop record session!\n",
             "mask": "-ERR Cannot mask recording session!\n",
             "unmask": "-ERR Cannot unmask recording session!\n",
             "pause": "-ERR Cannot pause recording session!\n",
             "resume": "-ERR Cannot resume recording session!\n"}


class Recording:
    """The time line of one file: ``spans`` [(samples, masked)] and the running span."""

    def __init__(self, path, now, channels=1):
        self.path = path
        self.channels = channels
        self.spans = []
        self.since = now
        self.masked = False
        self.paused = False

    def _close_span(self, now):
        if not self.paused:
            self.spans.append((int(round((now - self.since) * RATE)), self.masked))
        self.since = now

    def mask(self, on, now):
        self._close_span(now)
        self.masked = on

    def pause(self, on, now):
        self._close_span(now)
        self.paused = on

    def finish(self, now):
        self._close_span(now)
        self.paused = True
        return self.spans


def start(session, path):
    """RECORD_START then MEDIA_BUG_START; a second start on the same path is ignored."""
    if path in session.recordings:
        return
    sw, ch = session.sw, session.ch
    stereo = str(ch.get_var("RECORD_STEREO", "")).lower() in ("true", "yes", "on", "1")
    recording = session.recordings[path] = Recording(path, monotonic(), 2 if stereo else 1)
    write_wav(path, [], recording.channels)     # opened at the start: an empty file
    sw.fire_channel(ch, "RECORD_START", post=[("Record-File-Path", path)])
    sw.fire_channel(ch, "MEDIA_BUG_START", pre=_bug(path))


def stop(session, path, cause="success-maxtime"):
    """Write the WAV file, set record_* variables, RECORD_STOP then MEDIA_BUG_STOP."""
    recording = session.recordings.pop(path, None)
    if recording is None:
        return False
    sw, ch = session.sw, session.ch
    spans = recording.finish(monotonic())
    samples = sum(count for count, _ in spans)
    size = write_wav(path, spans, recording.channels)
    ch.set_var("record_file_size", size)
    ch.set_var("record_samples", samples)
    ch.set_var("record_seconds", samples // RATE)
    ch.set_var("record_ms", samples * 1000 // RATE)
    ch.set_var("record_completion_cause", cause)
    sw.fire_channel(ch, "RECORD_STOP", post=[("Record-File-Path", path),
                                             ("Record-Completion-Cause", cause)])
    sw.fire_channel(ch, "MEDIA_BUG_STOP", pre=_bug(path))
    return True


def stop_all(session, cause):
    """Stop every recording of the session; False when there was none."""
    paths = list(session.recordings)
    for path in paths:
        stop(session, path, cause)
    return bool(paths)


def _bug(path):
    return [("Media-Bug-Function", "session_record"), ("Media-Bug-Target", path)]


def write_wav(path, spans, channels=1):
    """An 8 kHz 16-bit WAV of the spans (``channels`` 1 or 2: every channel alike); returns
    its size in bytes (0 if unwritable)."""
    try:
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with wave.open(path, "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(RATE)
            for samples, masked in spans:
                frames = b"\x00\x00" * samples if masked else _hiss(samples)
                out.writeframes(frames if channels == 1 else _interleave(frames, channels))
        return os.path.getsize(path)
    except OSError as exc:
        log.warning("cannot write recording %s: %s", path, exc)
        return 0


def _interleave(frames, channels):
    """Each 16-bit sample of ``frames`` on every channel."""
    out = bytearray(len(frames) * channels)
    step = 2 * channels
    for channel in range(channels):
        out[2 * channel::step] = frames[0::2]
        out[2 * channel + 1::step] = frames[1::2]
    return bytes(out)


def _hiss(samples):
    whole, rest = divmod(samples * 2, len(_HISS))
    return _HISS * whole + _HISS[:rest]


def api_uuid_record(call):
    """``uuid_record <uuid> start|stop|mask|unmask|pause|resume <path>|all``."""
    args = call.args(5)
    ch = call.channel(args[0] if args else "")
    if ch is None or ch.session is None:
        return "-ERR Cannot locate session!\n"
    if len(args) < 3:
        return USAGE
    action, path, session = args[1].lower(), args[2], ch.session
    if action not in _FAILURES:
        return USAGE
    if action == "start":
        start(session, path)
        return "+OK Success\n"
    if action == "stop":
        done = stop_all(session, "success-maxtime") if path == "all" else stop(session, path)
        return "+OK Success\n" if done else _FAILURES[action]
    recordings = list(session.recordings.values()) if path == "all" else [
        session.recordings[path]] if path in session.recordings else []
    if not recordings:
        return _FAILURES[action]
    now = monotonic()
    for recording in recordings:
        if action in ("mask", "unmask"):
            recording.mask(action == "mask", now)
        else:
            recording.pause(action == "pause", now)
    return "+OK Success\n"


def api_system(call):
    """``system <command>``: +OK whatever happens (mod_commands); only ``rm -f -- PATH`` is
    carried out here (no shell runs in the simulator)."""
    if not call.arg.strip():
        return "-USAGE: <command>\n"
    words = call.arg.split()
    if len(words) == 4 and words[:3] == ["rm", "-f", "--"] and words[3].startswith("/"):
        try:
            os.remove(words[3])
        except OSError:
            pass
    else:
        log.info("system %r not run (the simulator runs no shell)", call.arg)
    return "+OK\n"


def api_file_exists(call):
    """``file_exists <path>``: ``true`` or ``false`` (no newline)."""
    return "true" if call.arg.strip() and os.path.exists(call.arg.strip()) else "false"
