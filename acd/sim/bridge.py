"""Bridging two legs: ``uuid_bridge`` (both legs leave what they run) and the ``bridge`` app.

Theory of operation: ``link`` is what the API does at once: it joins the legs (``Other-Type``/
``Other-Leg-*``, new caller profiles), moves both toward CS_HIBERNATE and asks both sessions to
bridge. Each session then leaves its current application and runs its side
(``run_uuid_bridge``): A (the first argument) CS_HIBERNATE, CS_RESET, CS_SOFT_EXECUTE,
CHANNEL_EXECUTE uuid_bridge, CHANNEL_BRIDGE (fired once, on A; a SIP A leg then tells its phone:
CALL_UPDATE SEND); B the same states, waits for A's CHANNEL_BRIDGE, then CS_EXCHANGE_MEDIA, the
bridge variables of both legs in the captured order, and CALL_UPDATE. While bridged both run
queued messages (broadcasts, hold music). When B hangs up, A waits for B's hangup report, fires
CHANNEL_UNBRIDGE and returns to CS_EXECUTE to continue its extension (or parks with
``park_after_bridge=true``, hangs up with ``hangup_after_bridge=true``); when A hangs up, B is hung
up with it (switch.hangup). A leg that a transfer takes out of the bridge leaves it
(``left_bridge``): the other side's bridge ends too, and both forget the partner.

The ``bridge`` application rings its legs as their "originator" (originate.ring_for_bridge), waits
in RING_WAIT, and on failure sets DIALSTATUS and friends and hangs up with the cause unless
``continue_on_fail`` says otherwise (capture click_to_dial).
"""

import uuid as uuidlib

import gevent

from acd.sim import originate
from acd.sim.causes import CAUSES

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
    a.bridge_started = b.bridge_started = False
    b.session.ask("bridge", B, a)     # the B leg's thread is the first to move, as captured
    a.session.ask("bridge", A, b)


def join(a, b, a_profile=None):
    """Make ``a`` the originator side of a bridge with ``b`` (Other-Type/Other-Leg-*)."""
    a.partner, b.partner = b, a
    a.left_bridge = b.left_bridge = False
    a.other_type = "originatee"
    a.other_profile = b.profile.clone(logical_direction="inbound", index="", transfer_source="",
                                      times=b.profile.times.copy())
    b.other_type = "originator"
    b.other_profile = (a_profile or a.profile).clone(index="", transfer_source="", times=None)


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
    me.push_var("transfer_history", transfer)
    me.set_var("transfer_source", transfer)


def run_uuid_bridge(session, role, other):
    """One side of uuid_bridge, in that leg's session."""
    sw, ch = session.sw, session.ch
    if ch.hung_up:
        return
    ch.unset_var("uuid_bridge")
    for state in ("CS_HIBERNATE", "CS_RESET", "CS_SOFT_EXECUTE"):
        sw.running_state(ch, state)
    if role == B:
        ch.set_var("call_uuid", ch.call_uuid)   # as captured: moved, still its own
    calling = "BRIDGE_EXECUTE_A" if role == A else "BRIDGE_EXECUTE_B"
    ch.application = ("uuid_bridge", other.uuid)
    sw.fire_channel(ch, "CHANNEL_EXECUTE", calling=calling, post=[
        ("Application", "uuid_bridge"), ("Application-Data", other.uuid)])
    if role == A:
        _bridged(session, other, originator=True)
    else:
        _bridged_b(session, other)


def _bridged_b(session, other):
    """The B side: wait for the A side's CHANNEL_BRIDGE, then exchange media until it ends."""
    sw, ch = session.sw, session.ch
    while not (ch.bridge_started or session.interrupted() or other.hung_up):
        session.wait(messages=False)
    if session.interrupted() or other.hung_up:
        return
    sw.running_state(ch, "CS_EXCHANGE_MEDIA")
    _exchange(sw, ch, other, (other.profile.cid_name, other.profile.cid_number))
    _stay_bridged(session, other)
    if not ch.hung_up and not _transferred(session):
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
    ch.bridge_started = other.bridge_started = True
    other.signal.set()
    if ch.is_sip:
        gevent.sleep(0)     # the B leg tells its phone first, as captured
        _tell_callee(sw, ch, other)
    _stay_bridged(session, other)
    _await_report(session, other)
    if ch.get_var("last_bridge_to") != other.uuid:
        ch.set_var("last_bridge_to", other.uuid)
    if other.hung_up:
        ch.set_var("bridge_hangup_cause", other.hangup_cause)
    if not other.destroyed:
        other.call_uuid = other.uuid
        other.set_var("call_uuid", other.uuid)
    sw.fire_channel(ch, "CHANNEL_UNBRIDGE", pre=pair)
    if not ch.hung_up and not _transferred(session):
        session.enter_execute()   # the state handler sets call_uuid again
        _after_bridge(session)


def _stay_bridged(session, other):
    """Run queued messages (broadcasts) until this leg or the partner hangs up or leaves."""
    ch = session.ch
    session.bridged_to = other
    while not session.interrupted() and not other.hung_up and not other.left_bridge:
        session.run_messages()
        session.wait()
    session.bridged_to = None
    if not ch.hung_up and session.request is not None:
        ch.left_bridge = True      # a transfer takes this leg out; the partner is told
        other.signal.set()
    ch.unset_var("bridge_to")
    if not ch.hung_up and not other.hung_up and ch.partner is other:
        ch.partner = None          # the bridge is over for legs that live on


def _await_report(session, other):
    """A hung-up B leg reports (CHANNEL_HANGUP_COMPLETE) before the A side's CHANNEL_UNBRIDGE,
    and is destroyed after it (one of the captured interleavings)."""
    signal = session.ch.signal
    while (other.hung_up and not other.destroyed
           and other.running not in ("CS_REPORTING", "CS_DESTROY")):
        signal.clear()
        if not signal.wait(1.0):
            break


def _transferred(session):
    return session.request is not None and session.request[0] == "transfer"


def _after_bridge(session):
    ch = session.ch
    if _true(ch.get_var("hangup_after_bridge")):
        session.sw.hangup(ch, "NORMAL_CLEARING")
    elif _true(ch.get_var("park_after_bridge")):
        session.extension.insert(session.position, ("park", ""))


def _exchange(sw, ch, other, told):
    """The B leg's side of a starting bridge: the bridge variables of both legs (in the
    captured order), then B's phone is told ``told`` (name, number): CALL_UPDATE SEND."""
    for name in ("bridge_to", "last_bridge_to"):
        ch.set_var(name, other.uuid)
        other.set_var(name, ch.uuid)
    for me, peer in ((ch, other), (other, ch)):
        me.set_vars((("bridge_channel", peer.name), ("bridge_uuid", peer.uuid),
                     ("signal_bond", peer.uuid)))
    other.set_var("last_sent_callee_id_name", ch.profile.cid_name)
    other.set_var("last_sent_callee_id_number", ch.profile.cid_number)
    _tell_phone(sw, ch, told[0], told[1], other)


def _tell_callee(sw, ch, other):
    """The A leg of a bridge tells its phone the callee it reached (a number as its name)."""
    profile = ch.profile
    _tell_phone(sw, ch, profile.callee_name or profile.callee_number, profile.callee_number,
                other)


def _tell_phone(sw, ch, name, number, other):
    """CALL_UPDATE SEND: the leg's phone is told whom it talks to (a re-INVITE on SIP)."""
    ch.set_var("last_sent_callee_id_name", name)
    ch.set_var("last_sent_callee_id_number", number)
    ch.listed_profile = ch.profile.clone()
    calling = "CALL_UPDATE_SOFIA" if ch.is_sip else "CALL_UPDATE"
    sw.fire_channel(ch, "CALL_UPDATE", calling=calling, pre=[
        ("Direction", "SEND"), ("Sent-Callee-ID-Name", name),
        ("Sent-Callee-ID-Number", number), ("Bridged-To", other.uuid)])


def _true(value):
    return (value or "").lower() in ("true", "yes", "on", "1")


# --- the bridge application ---------------------------------------------------------------

#: DIALSTATUS of a failed bridge app, by cause (switch_ivr_originate); others: the cause.
DIALSTATUS = {"ORIGINATOR_CANCEL": "CANCEL", "USER_BUSY": "BUSY", "NO_ANSWER": "NOANSWER",
              "INVALID_NUMBER_FORMAT": "INVALIDARGS", "INVALID_PROFILE": "INVALIDARGS",
              "CALL_REJECTED": "DONTCALL"}
#: The SIP response a simulated phone's failure stands for.
SIP_RESPONSES = {"USER_BUSY": 486, "CALL_REJECTED": 603, "UNALLOCATED_NUMBER": 404,
                 "NO_USER_RESPONSE": 408, "SUBSCRIBER_ABSENT": 480,
                 "NORMAL_TEMPORARY_FAILURE": 503, "NORMAL_CIRCUIT_CONGESTION": 503}


def run_bridge_app(session, dialstring):
    """``bridge <dialstring>``: ring new legs for this channel (an answered caller waits in
    RING_WAIT); bridge the one that answers. When none does, the channel hangs up with the
    failure's cause -- the app's "no continue_on_fail" -- after the variables DIALSTATUS,
    originate_disposition, last_bridge_hangup_cause and friends (capture click_to_dial)."""
    sw, ch = session.sw, session.ch
    waiting = ch.answered and not ch.hung_up
    if waiting:
        sw.callstate(ch, "RING_WAIT")

    def answered(leg=None):
        if leg is not None:     # the caller now knows whom it reached
            ch.profile.callee_name = leg.profile.callee_name
            ch.profile.callee_number = leg.profile.callee_number
            join(ch, leg)
        if waiting and not ch.hung_up:
            sw.callstate(ch, "ACTIVE")
    result = originate.ring_for_bridge(sw, ch, dialstring, answered)
    if result.channel is None:
        answered()
        _bridge_failed(sw, ch, result)
        return
    other = result.channel
    for _ in range(2):      # the user/ endpoint's inner and outer originate both record it
        ch.push_var("originated_legs", _leg_record(other))
        ch.push_var("originate_causes", "%s;NONE" % other.uuid)
    ch.set_vars((("originate_disposition", "SUCCESS"), ("DIALSTATUS", "SUCCESS"),
                 ("signal_bond", other.uuid)))
    other.session.start_custom(lambda leg_session: b_leg_of_bridge_app(leg_session, ch))
    _bridged_app(session, other)


def _leg_record(leg):
    return "%s;%s;%s" % (leg.uuid, leg.profile.callee_name, leg.profile.callee_number)


def _bridge_failed(sw, ch, result):
    cause = result.cause or "NORMAL_CLEARING"
    failed = result.finished[-1] if result.finished else None
    if failed is not None:
        ch.set_var("originate_signal_bond", failed.uuid)
        ch.push_var("originated_legs", _leg_record(failed))
        ch.set_var("last_bridge_hangup_cause", cause)
        if cause in SIP_RESPONSES and failed.is_sip:
            ch.set_var("last_bridge_proto_specific_hangup_cause",
                       "sip:%d" % SIP_RESPONSES[cause])
        ch.push_var("originate_causes", "%s;%s" % (failed.uuid, cause))
    ch.set_vars((("originate_disposition", cause), ("DIALSTATUS", DIALSTATUS.get(cause, cause)),
                 ("originate_failed_cause", cause)))
    if not ch.hung_up and not _continue_on_fail(ch.get_var("continue_on_fail"), cause):
        sw.hangup(ch, cause)


def _continue_on_fail(setting, cause):
    """``continue_on_fail``: true, or a list of causes (names or Q.850 numbers)."""
    if _true(setting):
        return True
    wanted = {item.strip().upper() for item in (setting or "").split(",") if item.strip()}
    return cause in wanted or str(CAUSES.get(cause, "")) in wanted


def _bridged_app(session, other):
    sw, ch = session.sw, session.ch
    bridged_at = sw.now_us()
    for leg in (ch, other):
        leg.bridged_us = leg.profile.times.bridged = bridged_at
    other.call_uuid = ch.uuid
    pair = [("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", other.uuid)]
    sw.fire_channel(ch, "CHANNEL_BRIDGE", pre=pair)
    if ch.is_sip:
        gevent.sleep(0)     # the B leg tells its phone first, as captured
        _tell_callee(sw, ch, other)
    _stay_bridged(session, other)
    if ch.get_var("last_bridge_to") != other.uuid:
        ch.set_var("last_bridge_to", other.uuid)
    sw.fire_channel(ch, "CHANNEL_UNBRIDGE", pre=pair)
    if not ch.hung_up and not _transferred(session):
        if _true(ch.get_var("hangup_after_bridge")):
            sw.hangup(ch, "NORMAL_CLEARING")
        elif _true(ch.get_var("park_after_bridge")):
            session.extension.insert(session.position, ("park", ""))


def b_leg_of_bridge_app(session, other):
    """The B leg of the bridge app, in its own session: exchange media until it ends."""
    sw, ch = session.sw, session.ch
    ch.set_var("call_uuid", other.uuid)
    sw.running_state(ch, "CS_EXCHANGE_MEDIA")
    _exchange(sw, ch, other, (ch.profile.cid_name, ch.profile.cid_number))
    _stay_bridged(session, other)
    if not ch.hung_up and not _transferred(session) and _true(
            ch.get_var("park_after_bridge")):
        sw.running_state(ch, "CS_EXECUTE")
        session.execute("park", "")
