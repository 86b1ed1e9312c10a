"""The ``eavesdrop <uuid>`` application: a supervisor listens to a call (capture eavesdrop).

Theory of operation: the supervisor's read codec becomes L16 (CODEC), the *target* gets a media
bug (MEDIA_BUG_START, ``Media-Bug-Function: eavesdrop``, ``Media-Bug-Target`` = the target's own
uuid: the supervisor's uuid is in no media-bug event) and the supervisor's phone is told whom it
hears (CALL_UPDATE SEND with the target's caller id). Then the application waits: the mode digits
``0``-``3`` (and any other but ``*``) change nothing visible -- only their DTMF events show --,
``*`` ends it, and so do the supervisor's or the target's hangup. At the end: MEDIA_BUG_STOP on
the target, the supervisor's read codec back (CODEC), and the application completes with
``_none_`` (an originate ``&eavesdrop()`` then has nothing left: NORMAL_CLEARING). An unknown
target completes at once with ``_none_`` too: there is no error to detect.

No audio flows, so whisper modes (``eavesdrop_whisper_aleg``/``_bleg``, digits 1-3) are only
variables here.
"""

from acd.sim.channel import L16

END_DIGIT = "*"


def eavesdrop(session, arg):
    sw, ch = session.sw, session.ch
    target = sw.find(arg.strip())
    if target is None or target is ch or target.hung_up:
        return
    codec = ch.read_codec
    _read_codec(sw, ch, L16)
    bug = [("Media-Bug-Function", "eavesdrop"), ("Media-Bug-Target", target.uuid)]
    sw.fire_channel(target, "MEDIA_BUG_START", pre=bug)
    name, number = target.profile.cid_name, target.profile.cid_number
    ch.set_vars((("last_sent_callee_id_name", name), ("last_sent_callee_id_number", number)))
    sw.fire_channel(ch, "CALL_UPDATE", calling="CALL_UPDATE_SOFIA", pre=[
        ("Direction", "SEND"), ("Sent-Callee-ID-Name", name), ("Sent-Callee-ID-Number", number)])
    session.digits.clear()
    target.watchers.add(ch)
    while not session.interrupted() and not target.hung_up:
        if END_DIGIT in session.digits:
            break
        session.digits.clear()
        session.wait()
    target.watchers.discard(ch)
    session.digits.clear()
    if not target.destroyed:
        sw.fire_channel(target, "MEDIA_BUG_STOP", pre=bug)
    if codec is not None:
        _read_codec(sw, ch, codec)


def _read_codec(sw, ch, codec):
    ch.read_codec = codec
    ch.set_vars((("read_codec", codec.name), ("read_rate", codec.rate)))
    sw.fire_channel(ch, "CODEC", with_vars=False, post=[
        ("channel-read-codec-name", codec.name), ("channel-read-codec-rate", codec.rate),
        ("channel-read-codec-bit-rate", codec.bit_rate)])
