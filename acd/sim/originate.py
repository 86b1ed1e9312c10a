"""``originate`` and the bridge app's dialing: ring legs, pick a winner, report the result.

Theory of operation: a dial string is a list of *attempts* made one after another (``|``); each
attempt rings its legs together (``,``). ``ring`` prepares the legs (endpoints.py), fires their
start-up events, starts their far ends, then waits on the attempt's ``changed`` event -- set by
every answer, early media or hangup of one of its legs -- until a leg is up, all failed, or the
deadline passes. Deadlines count whole seconds of the wall clock, as FreeSWITCH does: a timeout
of T seconds gives up between T-1 and T seconds after the originate (``originate_timeout`` ->
NO_ANSWER; a per-leg ``leg_timeout`` -> ALLOTTED_TIMEOUT, NO_ANSWER through user/). Losers are
hung up LOSE_RACE before the result is reported; failed legs fire CHANNEL_DESTROY after it.
"""

import math

import gevent
import gevent.event

from acd.sim import endpoints
from acd.sim.dialstring import parse_dialstring
from acd.sim.fsparse import ParseError

DEFAULT_TIMEOUT = 60


class Attempt:
    """Legs rung together. ``originator``: the channel whose bridge app rings them."""

    def __init__(self, originator=None):
        self.changed = gevent.event.Event()
        self.originator = originator


class RingResult:
    def __init__(self, channel, cause, finished):
        self.channel = channel      # the leg that answered, or None
        self.cause = cause          # why it failed
        self.finished = finished    # failed legs still to be destroyed


def originate(sw, request, report_later):
    """Run an ``originate``; returns the API reply. ``report_later(fn)`` defers work until
    after the reply/BACKGROUND_JOB has been fired."""
    started = sw.clock()
    timeout = _timeout(request)
    deadline = math.floor(started) + timeout
    cause = "NO_ANSWER"
    for legs in request.attempts:
        result = ring(sw, _with_caller_id(legs, request), deadline, started)
        report_later(lambda done=result.finished: _destroy(sw, done))
        if result.channel is not None:
            report_later(lambda ch=result.channel: _start_target(sw, ch, request))
            return "+OK %s\n" % result.channel.uuid
        cause = result.cause
        if sw.clock() >= deadline:
            break
    return "-ERR %s\n" % cause


def ring_for_bridge(sw, caller, dialstring, answered=None):
    """The bridge app: ring the dial string for ``caller``; returns the answered leg or None.
    The new legs show the caller's ``effective_caller_id_name``/``_number`` unless their own
    origination_caller_id_* say otherwise; ``answered(leg)`` runs when one answers, before the
    winner's after-answer events."""
    started = sw.clock()
    try:
        attempts = parse_dialstring(dialstring)
    except ParseError:
        attempts = []
    if not attempts:
        return RingResult(None, "DESTINATION_OUT_OF_ORDER", [])
    timeout = _int(attempts[0][0].variables.get("originate_timeout"), DEFAULT_TIMEOUT)
    deadline = math.floor(started) + timeout
    cid = {"origination_caller_id_name": caller.get_var("effective_caller_id_name")
           or caller.profile.cid_name,
           "origination_caller_id_number": caller.get_var("effective_caller_id_number")
           or caller.profile.cid_number}
    result = RingResult(None, "NO_ANSWER", [])
    for legs in attempts:
        for leg in legs:
            leg.inherited = {name: value for name, value in cid.items()
                             if name not in leg.variables}
        result = ring(sw, legs, deadline, started, caller, answered)
        _destroy(sw, result.finished)
        if result.channel is not None or caller.hung_up:
            break
    return result


def ring(sw, legs, deadline, started, originator=None, answered=None):
    attempt = Attempt(originator)
    prepared, cause = [], "NO_ANSWER"
    for leg in legs:
        try:
            prepared.append(endpoints.prepare(sw, leg, attempt))
        except endpoints.LegFailure as failure:
            cause = failure.cause
    if not prepared:
        return RingResult(None, cause, [])
    _announce(prepared)
    for item in prepared:
        item.start()
        _arm_leg_timeout(sw, item, started)
    winner = _wait_for_winner(sw, prepared, attempt, deadline)
    if winner is not None and answered is not None:
        answered(winner.channel)
    return _settle(sw, prepared, winner)


def _announce(prepared):
    ring_all = len(prepared) > 1
    for item in prepared:
        item.announce_early(ring_all)
    for item in prepared:
        item.announce()


def _arm_leg_timeout(sw, item, started):
    seconds = _int(item.leg.variables.get("leg_timeout"), 0)
    if seconds <= 0:
        return
    delay = math.floor(started) + seconds - sw.clock()
    ch = item.channel
    ch.timers.append(gevent.spawn_later(max(delay, 0), _leg_timeout, sw, item))


def _leg_timeout(sw, item):
    if not item.channel.answered:
        sw.hangup(item.channel, item.timeout_cause)


def _wait_for_winner(sw, prepared, attempt, deadline):
    while True:
        attempt.changed.clear()
        for item in prepared:
            ch = item.channel
            if not ch.hung_up and (ch.answered or (ch.answer_state == "early" and item.early_ok)):
                return item
        alive = [item for item in prepared if not item.channel.hung_up]
        if not alive:
            return None
        remaining = deadline - sw.clock()
        if remaining <= 0:
            for item in alive:
                sw.hangup(item.channel, "NO_ANSWER")
            return None
        attempt.changed.wait(remaining)


def _settle(sw, prepared, winner):
    """Hang up the losers, run their teardown, and the winner's after-answer events."""
    finished, cause = [], "NO_ANSWER"
    for item in prepared:
        ch = item.channel
        ch.originating = None
        if item is winner:
            continue
        if winner is not None and not ch.hung_up:
            ch.set_var("group_dial_status", "loser")
            ch.completed_elsewhere = True
        sw.hangup(ch, "LOSE_RACE")
        cause = ch.hangup_cause
        sw.hangup_phase(ch)
        finished.append(ch)
    if winner is None:
        return RingResult(None, cause, finished)
    winner.after_answer(single=len(prepared) == 1)
    return RingResult(winner.channel, None, finished)


def _destroy(sw, channels):
    for ch in channels:
        sw.destroy(ch)


def _start_target(sw, ch, request):
    """The answered leg runs ``&app(args)``, or the dialplan for ``<exten>``."""
    if request.app is not None:
        ch.session.start([(request.app, request.app_arg)])
        return
    extension = sw.extension_for(request.exten)
    ch.profile.destination = request.exten
    ch.profile.context = request.context
    ch.profile.dialplan = request.dialplan
    if extension is None:
        sw.hangup(ch, "NO_ROUTE_DESTINATION")
        extension = []
    ch.session.start(extension, routing=True)


def _with_caller_id(legs, request):
    for leg in legs:
        if request.cid_name is not None:
            leg.variables["origination_caller_id_name"] = request.cid_name
        if request.cid_number is not None:
            leg.variables["origination_caller_id_number"] = request.cid_number
    return legs


def _timeout(request):
    if request.timeout:
        return request.timeout
    first = request.attempts[0][0].variables if request.attempts and request.attempts[0] else {}
    return _int(first.get("originate_timeout"), DEFAULT_TIMEOUT)


def _int(text, default):
    try:
        value = int(text)
    except (TypeError, ValueError):
        return default
    return value if value > 0 else default
