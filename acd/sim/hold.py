"""``uuid_hold [off|toggle] <uuid>``: hold and unhold as FreeSWITCH 1.10.12 (capture hold_unhold).

Theory of operation: holding a SIP leg re-INVITEs its phone (``a=sendonly``): CHANNEL_CALLSTATE
ACTIVE -> HELD, ``Caller-Channel-Last-Hold`` stamped, CHANNEL_HOLD -- all in the API's tick --
and its bridge partner gets the hold music (``hold_music``, default ``local_stream://moh``) as a
looping broadcast that starts about 200 ms later (CHANNEL_EXECUTE playback, PLAYBACK_START). The
phone's answer also names the far end on the held leg (``Caller-Callee-ID-Name``, as captured).
Taking it off hold: CALLSTATE HELD -> UNHELD, ``Caller-Channel-Hold-Accum`` grows by the held
time, UNHELD -> ACTIVE, the partner's music is broken (PLAYBACK_STOP, EXECUTE_COMPLETE
``FILE PLAYED``, the COMMAND/PRIVATE_COMMAND), then CHANNEL_UNHOLD. ``toggle`` is one or the
other. A hold while HELD, or an off while not HELD, answers ``-ERR Operation failed``; an unknown
uuid answers ``+OK Success`` (sic).

A loopback leg has no SIP to re-INVITE: only CHANNEL_HOLD fires (the call state stays ACTIVE)
-- the partner still gets the music -- and since the leg never becomes HELD, ``off`` then fails:
hold the agent's SIP leg, not the loopback caller.
"""

from acd.sim import media

HOLD_MUSIC = "local_stream://moh"
SUCCESS = "+OK Success\n"
FAILED = "-ERR Operation failed\n"
USAGE = "-USAGE: [off|toggle] <uuid> [<display>]\n"


def api_uuid_hold(call):
    args = call.args(3)
    if not args:
        return USAGE
    action = args[0].lower() if args[0].lower() in ("off", "toggle") else ""
    uuid = (args[1] if len(args) > 1 else "") if action else args[0]
    ch = call.channel(uuid)
    if ch is None:
        return SUCCESS
    if action == "toggle":
        action = "off" if ch.callstate == "HELD" else ""
    done = unhold(call.sw, ch) if action == "off" else hold(call.sw, ch)
    return SUCCESS if done else FAILED


def hold(sw, ch):
    if ch.callstate == "HELD" or ch.hung_up:
        return False
    sip = ch.is_sip
    if sip:
        sw.callstate(ch, "HELD")
        ch.profile.times.last_hold = sw.now_us()
    sw.fire_channel(ch, "CHANNEL_HOLD")
    if sip and not ch.profile.callee_name:
        ch.profile.callee_name = ch.profile.callee_number
    partner = _partner(ch)
    if partner is not None:
        music = ch.get_var("hold_music") or HOLD_MUSIC
        ch.hold_music = (partner, media.broadcast(sw, partner, music, loops=-1))
    return True


def unhold(sw, ch):
    if ch.callstate != "HELD" or ch.hung_up:
        return False
    times, now = ch.profile.times, sw.now_us()
    sw.callstate(ch, "UNHELD")
    times.hold_accum += max(now - times.last_hold, 0)
    ch.hold_record.append((times.last_hold, now))
    sw.callstate(ch, "ACTIVE")
    if ch.hold_music is not None:
        partner, message = ch.hold_music
        ch.hold_music = None
        media.cancel(partner, message)
    sw.fire_channel(ch, "CHANNEL_UNHOLD")
    return True


def _partner(ch):
    other = ch.partner
    if other is None or other.hung_up or other.session is None or ch.left_bridge:
        return None
    return other
