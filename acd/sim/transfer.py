"""Blind transfer (``uuid_transfer`` and the ``transfer`` application), as FreeSWITCH's
switch_ivr_session_transfer does it (captured in blind_transfer).

Theory of operation: ``start`` runs in the caller's thread, at once: the channel gets a new caller
profile (the new destination, dialplan and context, ``Caller-RDNIS`` = the old destination,
``Caller-Transfer-Source``, a new profile index, profile times as switch_channel_set_caller_profile
carries them over), the variables ``max_forwards`` (70, then one less per transfer),
``transfer_source`` (``<epoch>:<uuid>:bl_xfer:<dest>/<context>/<dialplan>``) and
``transfer_history`` (pushed: ``ARRAY::<old>|:<new>``), ``signal_bond`` is cleared, the bridge
partner is forgotten (``Other-Leg-*`` belonged to the old profile) and the target state becomes
CS_ROUTING. The leg's session is then asked to leave what it runs -- a park, a playback (which
ends ``PLAYBACK ERROR``) or a bridge (whose B side then hangs up, the A side continues) -- and
``route`` runs the new extension: CS_ROUTING (an inbound leg rings again), the caller id flip of
an outbound leg that never ran a dialplan (CALL_UPDATE), the routing PRESENCE_IN of a SIP leg,
then CS_EXECUTE; a destination without an extension in that context hangs up
NO_ROUTE_DESTINATION in CS_ROUTING.
"""

import uuid as uuidlib

from acd.sim.channel import Times

MAX_FORWARDS = 70
USAGE = "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"


def start(sw, ch, destination, dialplan="XML", context="default"):
    """Give ``ch`` its transferred profile and ask its session to route again."""
    now = sw.now_us()
    source = "%d:%s:bl_xfer:%s/%s/%s" % (now // 1000000, uuidlib.uuid4(), destination, context,
                                         dialplan)
    old = ch.profile
    ch.profile = old.clone(destination=destination, dialplan=dialplan, context=context,
                           rdnis=old.destination, transfer_source=source,
                           index=(old.index or 1) + 1, times=carried_times(old.times, now))
    ch.other_profile = ch.other_type = None
    forwards = _int(ch.get_var("max_forwards"), MAX_FORWARDS + 1) - 1
    ch.set_var("max_forwards", forwards)
    ch.push_var("transfer_history", source)
    ch.set_var("transfer_source", source)
    bond = ch.get_var("signal_bond")
    if bond and sw.find(bond) is not None:
        sw.find(bond).unset_var("signal_bond")
    ch.unset_var("signal_bond")
    ch.set_state(number="CS_ROUTING")
    if ch.session is not None:
        ch.session.ask("transfer", destination, context)


def carried_times(old, now):
    """A new profile's times: switch_channel_set_caller_profile keeps created, answered,
    progress, progress_media and hungup; the rest starts at 0."""
    times = Times(old.created)
    times.profile_created = now
    times.answered, times.progress = old.answered, old.progress
    times.progress_media, times.hungup = old.progress_media, old.hungup
    return times


def route(session, destination, context):
    """The transferred leg's session runs the dialplan again (CS_ROUTING .. CS_EXECUTE)."""
    sw, ch = session.sw, session.ch
    sw.running_state(ch, "CS_ROUTING")
    extension = sw.extension_for(destination, context, ch)
    ch.set_var("call_uuid", ch.call_uuid)
    if ch.direction == "outbound" and not ch.hit_dialplan:
        sw.flip_cid(ch, swap=True)
    if extension is None:
        sw.hangup(ch, "NO_ROUTE_DESTINATION")
    else:
        ch.set_state(number="CS_EXECUTE")
    if ch.presence_id:
        sw.presence(ch, "routing")
    if extension is not None:
        session.extension, session.position = extension, 0
        session.enter_execute(set_call_uuid=False)


def api_uuid_transfer(call):
    """``uuid_transfer <uuid> [-bleg|-both] <dest> [<dialplan>] [<context>]`` -> ``+OK``."""
    args = call.args(5)
    ch = call.channel(args[0] if args else "")
    if ch is None or ch.session is None:
        return "-ERR No such channel!\n"
    flag = args[1].lower() if len(args) > 1 and args[1].lower() in ("-bleg", "-both") else ""
    rest = args[2:] if flag else args[1:]
    if not rest or not rest[0]:
        return USAGE
    destination = rest[0]
    dialplan = rest[1] if len(rest) > 1 and rest[1] else "XML"
    context = rest[2] if len(rest) > 2 and rest[2] else "default"
    partner = ch.partner if ch.partner is not None and not ch.partner.hung_up else None
    targets = {"": [ch], "-bleg": [partner], "-both": [ch, partner]}[flag]
    for leg in targets:
        if leg is not None:
            start(call.sw, leg, destination, dialplan, context)
    return "+OK\n"


def _int(text, default):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default
