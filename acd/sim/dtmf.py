"""DTMF: digits a leg receives, and where a bridge carries them (capture record_consent).

Theory of operation: a digit reaches a leg as ``uuid_recv_dtmf`` (DTMF-Source APP, DTMF-Duration
as given, default 2000), as a phone's SIP INFO (``sim_dtmf ... info``: RECV_INFO with the INFO body
nested, then DTMF-Source ENDPOINT) or as a phone's RFC 2833 event (``sim_dtmf ... rfc2833``:
DTMF-Source RTP); a phone's DTMF-Duration is in 8 kHz samples (160 ms -> 1280). The leg's session
dequeues it (``received``): the DTMF event, ``digits_dialed``, and the digit for applications that
read digits. A leg in a bridge then writes the digit to its partner: a SIP partner sends it to
its phone (no event), a loopback partner hands it to its other loopback leg, which receives it
(a DTMF event there, same source and duration). So an agent phone's digits show on the agent leg
and on ``loopback/...-a``, never on the caller's ``-b`` leg, as on the real switch.
"""

SAMPLES_PER_MS = 8
PHONE_DIGIT_MS = 160
DIGITS = "0123456789*#ABCDabcd"
INFO_HEADERS = ("SIP-Content-Type", "application/dtmf-relay")


def received(session, digit, duration, source, info=None):
    """The session dequeues one digit (``info``: the SIP INFO body that brought it)."""
    sw, ch = session.sw, session.ch
    if info is not None:
        sw.fire_channel(ch, "RECV_INFO", calling="RECV_INFO", with_vars=False,
                        pre=_info_headers(sw, ch), body=info)
    ch.dtmf_log += digit
    sw.fire_channel(ch, "DTMF", with_vars=False, post=[
        ("DTMF-Digit", digit), ("DTMF-Duration", str(duration)), ("DTMF-Source", source)])
    session.digits.append(digit)
    _forward(session, digit, duration, source)


def _forward(session, digit, duration, source):
    other = session.bridged_to
    if other is None or other.hung_up or other.kind != "loopback" or other.peer is None:
        return
    far = other.peer
    if not far.hung_up and far.session is not None:
        far.session.inject_dtmf([(digit, duration)], source)


def _info_headers(sw, ch):
    user = ch.get_var("dialed_user") or ch.profile.username or ch.profile.destination
    first = ch.first_profile or ch.profile
    host = sw.identity.ipv4
    return [INFO_HEADERS, ("SIP-From-User", user), ("SIP-From-Host", host),
            ("SIP-To-User", first.cid_number), ("SIP-To-Host", host),
            ("SIP-Contact-User", user), ("SIP-Contact-Host", host)]


def parse_digits(text, default_ms=2000):
    """``12#`` or ``1@500,2@500`` -> [(digit, duration_ms)] (uuid_recv_dtmf's syntax)."""
    digits = []
    for part in text.split(","):
        keys, _, duration = part.partition("@")
        ms = int(duration) if duration.isdigit() else default_ms
        digits.extend((key, ms) for key in keys if key in DIGITS)
    return digits


def api_sim_dtmf(sw, arg):
    """``sim_dtmf <uuid> <digits> [info|rfc2833] [<ms>]``: the SIP phone of a leg sends digits."""
    words = arg.split()
    if len(words) < 2 or len(words) > 4:
        return "-USAGE: sim_dtmf <uuid> <digits> [info|rfc2833] [<ms>]\n"
    ch = sw.find(words[0])
    if ch is None or ch.session is None:
        return "-ERR No such channel!\n"
    if not ch.is_sip:
        return "-ERR %s is not a SIP leg\n" % ch.uuid
    mode = words[2].lower() if len(words) > 2 else "rfc2833"
    millis = words[3] if len(words) > 3 else str(PHONE_DIGIT_MS)
    if mode not in ("info", "rfc2833") or not millis.isdigit() or not 0 < int(millis) < 10000:
        return "-USAGE: sim_dtmf <uuid> <digits> [info|rfc2833] [<ms>]\n"
    digits = [d for d in words[1] if d in DIGITS]
    if not digits or len(digits) != len(words[1]):
        return "-ERR invalid DTMF digits %s\n" % words[1]
    samples = int(millis) * SAMPLES_PER_MS
    for digit in digits:
        if mode == "info":
            body = "Signal=%s\r\nDuration=%s\r\n" % (digit, millis)
            ch.session.pending_dtmf.append((digit, samples, "ENDPOINT", body))
        else:
            ch.session.pending_dtmf.append((digit, samples, "RTP", None))
    ch.session.wake()
    return "+OK %s phone sent DTMF %s by %s\n" % (ch.uuid, words[1], mode)
