"""Bridging two legs: ``uuid_bridge`` (both legs leave what they run) and the ``bridge`` app.

Theory of operation: ``link`` is what the API does at once: it joins the legs (``Other-Type``/
``Other-Leg-*``, new caller profiles), moves both toward CS_HIBERNATE and asks both sessions to
bridge. Each session then leaves its current application and runs its side
(``run_uuid_bridge``): A (the first argument) CS_HIBERNATE, CS_RESET, CS_SOFT_EXECUTE,
CHANNEL_EXECUTE uuid_bridge, CHANNEL_BRIDGE (fired once, on A); B the same states then
CS_EXCHANGE_MEDIA and CALL_UPDATE. While bridged both run queued messages. When B hangs up, A
fires CHANNEL_UNBRIDGE and returns to CS_EXECUTE to continue its extension (or parks with
``park_after_bridge=true``, hangs up with ``hangup_after_bridge=true``); when A hangs up, B is hung
up with it (switch.hangup).
"""

import uuid as uuidlib

from acd.sim import originate

A, B = "A", "B"


def can_bridge(ch):
    return ch is not None and not ch.hung_up and ch.session is not None and ch.session.running


def link(sw, a, b):
    """``uuid_bridge a b``: join the legs and ask both sessions to bridge."""
    now = sw.now_us()
    history = "%d:%s:uuid_br:" % (now // 1000000, uuidlib.uuid4())
    a_original = a.profile
    if a.peer is not None and a.peer.profile is not None:
        # mod_loopback shows the far leg's number on the A leg (as captured, no event)
        a.peer.profile.cid_name = a.peer.profile.cid_number = b.profile.callee_number
    a.profile = _new_profile(a.profile, now, history + b.uuid,
                             callee_name="", callee_number=b.profile.callee_number)
    b.profile = _new_profile(b.profile, now, history + a.uuid,
                             cid_name=a_original.cid_name, cid_number=a_original.cid_number)
    join(a, b, a_original)
    b.hit_dialplan = False
    a.set_var("uuid_bridge", b.uuid)
    for me, other in ((a, b), (b, a)):
        _bridge_variables(me, other, history + other.uuid)
        me.state = 8
    a.session.ask("bridge", A, b)
    b.session.ask("bridge", B, a)


def join(a, b, a_profile=None):
    """Make ``a`` the originator side of a bridge with ``b`` (Other-Type/Other-Leg-*)."""
    a.partner, b.partner = b, a
    a.other_type = "originatee"
    a.other_profile = b.profile.clone(logical_direction="inbound", index="", transfer_source="",
                                      times=b.profile.times.copy())
    b.other_type = "originator"
    b.other_profile = (a_profile or a.profile).clone(index="", times=None)


def _new_profile(profile, now, transfer_source, **changes):
    twin = profile.clone(index=(profile.index or 1) + 1, transfer_source=transfer_source,
                         **changes)
    twin.times = profile.times.copy()
    twin.times.profile_created = now
    return twin


def _bridge_variables(me, other, transfer):
    me.set_var("bridge_channel", other.name)
    me.set_var("bridge_uuid", other.uuid)
    me.set_var("signal_bond", other.uuid)
    me.set_var("original_destination_number", me.profile.destination)
    me.set_var("original_caller_id_name", me.profile.cid_name)
    me.set_var("original_caller_id_number", me.profile.cid_number)
    me.set_var("transfer_history", transfer)
    me.set_var("transfer_source", transfer)


def run_uuid_bridge(session, role, other):
    """One side of uuid_bridge, in that leg's session."""
    sw, ch = session.sw, session.ch
    if ch.hung_up:
        return
    ch.unset_var("uuid_bridge")
    for state in ("CS_HIBERNATE", "CS_RESET", "CS_SOFT_EXECUTE"):
        sw.running_state(ch, state)
    calling = "BRIDGE_EXECUTE_A" if role == A else "BRIDGE_EXECUTE_B"
    ch.application = ("uuid_bridge", other.uuid)
    sw.fire_channel(ch, "CHANNEL_EXECUTE", calling=calling, post=[
        ("Application", "uuid_bridge"), ("Application-Data", other.uuid)])
    if role == A:
        _bridged(session, other, originator=True)
    else:
        _bridged_b(session, other)


def _bridged_b(session, other):
    sw, ch = session.sw, session.ch
    sw.running_state(ch, "CS_EXCHANGE_MEDIA")
    _call_update(sw, ch, other)
    _stay_bridged(session, other)
    if not ch.hung_up:
        _after_bridge(session)


def _bridged(session, other, originator):
    """The A side: CHANNEL_BRIDGE, stay, CHANNEL_UNBRIDGE, then what comes after a bridge."""
    sw, ch = session.sw, session.ch
    bridged_at = sw.now_us()
    for leg in (ch, other):
        leg.bridged_us = leg.profile.times.bridged = bridged_at
    other.call_uuid = ch.uuid
    other.set_var("call_uuid", ch.uuid)
    pair = [("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", other.uuid)]
    sw.fire_channel(ch, "CHANNEL_BRIDGE", pre=pair)
    _stay_bridged(session, other)
    ch.set_var("last_bridge_to", other.uuid)
    if other.hung_up:
        ch.set_var("bridge_hangup_cause", other.hangup_cause)
    if not other.destroyed:
        other.call_uuid = other.uuid
        other.set_var("call_uuid", other.uuid)
    sw.fire_channel(ch, "CHANNEL_UNBRIDGE", pre=pair)
    if not ch.hung_up:
        sw.running_state(ch, "CS_EXECUTE")
        _after_bridge(session)


def _stay_bridged(session, other):
    while not session.interrupted() and not other.hung_up:
        session.run_messages()
        session.wait()


def _after_bridge(session):
    ch = session.ch
    if _true(ch.get_var("hangup_after_bridge")):
        session.sw.hangup(ch, "NORMAL_CLEARING")
    elif _true(ch.get_var("park_after_bridge")):
        session.extension.insert(session.position, ("park", ""))


def _call_update(sw, ch, other):
    """B tells the caller's id to its phone: CALL_UPDATE SEND (a re-INVITE on SIP)."""
    other.set_var("last_sent_callee_id_name", ch.profile.cid_name)
    other.set_var("last_sent_callee_id_number", ch.profile.cid_number)
    for name in ("bridge_to", "last_bridge_to"):
        ch.set_var(name, other.uuid)
        other.set_var(name, ch.uuid)
    ch.set_var("last_sent_callee_id_name", other.profile.cid_name)
    ch.set_var("last_sent_callee_id_number", other.profile.cid_number)
    ch.listed_profile = ch.profile.clone()
    calling = "CALL_UPDATE_SOFIA" if ch.kind in ("user", "gateway") else "CALL_UPDATE"
    sw.fire_channel(ch, "CALL_UPDATE", calling=calling, pre=[
        ("Direction", "SEND"), ("Sent-Callee-ID-Name", other.profile.cid_name),
        ("Sent-Callee-ID-Number", other.profile.cid_number), ("Bridged-To", other.uuid)])


def _true(value):
    return (value or "").lower() in ("true", "yes", "on", "1")


# --- the bridge application ---------------------------------------------------------------

def run_bridge_app(session, dialstring):
    """``bridge <dialstring>``: ring new legs for this channel; bridge the one that answers."""
    sw, ch = session.sw, session.ch
    result = originate.ring_for_bridge(sw, ch, dialstring)
    if result.channel is None:
        ch.set_var("originate_disposition", result.cause)
        ch.set_var("DIALSTATUS", result.cause)
        ch.set_var("current_application_response", result.cause)
        return
    other = result.channel
    join(ch, other)
    ch.set_var("originate_disposition", "SUCCESS")
    _bridge_variables(ch, other, "")
    _bridge_variables(other, ch, "")
    other.session.start_custom(lambda leg_session: b_leg_of_bridge_app(leg_session, ch))
    _bridged_app(session, other)


def _bridged_app(session, other):
    sw, ch = session.sw, session.ch
    bridged_at = sw.now_us()
    for leg in (ch, other):
        leg.bridged_us = leg.profile.times.bridged = bridged_at
    pair = [("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", other.uuid)]
    sw.fire_channel(ch, "CHANNEL_BRIDGE", pre=pair)
    _stay_bridged(session, other)
    ch.set_var("last_bridge_to", other.uuid)
    sw.fire_channel(ch, "CHANNEL_UNBRIDGE", pre=pair)
    if not ch.hung_up:
        if _true(ch.get_var("hangup_after_bridge")):
            sw.hangup(ch, "NORMAL_CLEARING")
        elif _true(ch.get_var("park_after_bridge")):
            session.extension.insert(session.position, ("park", ""))


def b_leg_of_bridge_app(session, other):
    """The B leg of the bridge app, in its own session: exchange media until it ends."""
    sw, ch = session.sw, session.ch
    sw.running_state(ch, "CS_EXCHANGE_MEDIA")
    _call_update(sw, ch, other)
    _stay_bridged(session, other)
    if not ch.hung_up and _true(ch.get_var("park_after_bridge")):
        sw.running_state(ch, "CS_EXECUTE")
        session.execute("park", "")
