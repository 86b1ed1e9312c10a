"""Simulated media: playback timing and events, recordings written as real WAV files.

Theory of operation: no audio flows. A playback lasts as long as the file would: the config's
``sounds`` globs for files, the tone script for ``tone_stream://``, the milliseconds of
``silence_stream://N``, forever for ``local_stream://`` (until uuid_break or hangup). A recording
remembers when it started; when it stops (``uuid_record stop``, ``stop_record_session``, hangup)
a WAV file of silence of that length is written (8 kHz, 16-bit mono, like FreeSWITCH's L16
recordings: 32000 bytes + 44 per 2 s), then RECORD_STOP/MEDIA_BUG_STOP are fired.
"""

import logging
import os
import re
import wave

from acd.clock import monotonic

log = logging.getLogger("acd.sim.media")

RATE = 8000
FOREVER = None
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
            if session.interrupted() or session.break_requested:
                return "break"
            if digits_stop and session.digits:
                return "break"
            remaining = None if deadline is None else deadline - monotonic()
            if remaining is not None and remaining <= 0:
                return "done"
            session.wait(remaining, messages=False)
    finally:
        session.playing = session.break_requested = False


# --- recording ----------------------------------------------------------------------------

class Recording:
    __slots__ = ("path", "started")

    def __init__(self, path, started):
        self.path = path
        self.started = started


def start_recording(session, path):
    """RECORD_START then MEDIA_BUG_START; a second start on the same path is ignored."""
    if path in session.recordings:
        return
    session.recordings[path] = Recording(path, monotonic())
    sw, ch = session.sw, session.ch
    sw.fire_channel(ch, "RECORD_START", post=[("Record-File-Path", path)])
    sw.fire_channel(ch, "MEDIA_BUG_START", pre=_bug(path))


def stop_recording(session, path, cause="success-maxtime"):
    """Write the WAV file, set record_* variables, RECORD_STOP then MEDIA_BUG_STOP."""
    recording = session.recordings.pop(path, None)
    if recording is None:
        return False
    sw, ch = session.sw, session.ch
    samples = int((monotonic() - recording.started) * RATE)
    size = write_silence(path, samples)
    ch.set_var("record_file_size", size)
    ch.set_var("record_samples", samples)
    ch.set_var("record_seconds", samples // RATE)
    ch.set_var("record_ms", samples * 1000 // RATE)
    ch.set_var("record_completion_cause", cause)
    sw.fire_channel(ch, "RECORD_STOP", post=[("Record-File-Path", path),
                                             ("Record-Completion-Cause", cause)])
    sw.fire_channel(ch, "MEDIA_BUG_STOP", pre=_bug(path))
    return True


def stop_all_recordings(session, cause):
    for path in list(session.recordings):
        stop_recording(session, path, cause)


def _bug(path):
    return [("Media-Bug-Function", "session_record"), ("Media-Bug-Target", path)]


def write_silence(path, samples):
    """A valid 8 kHz 16-bit mono WAV of ``samples`` samples; returns its size in bytes."""
    try:
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with wave.open(path, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(b"\x00\x00" * samples)
        return os.path.getsize(path)
    except OSError as exc:
        log.warning("cannot write recording %s: %s", path, exc)
        return 0
