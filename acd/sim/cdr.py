"""The call-detail variables FreeSWITCH adds when a channel reaches CS_REPORTING.

Pure functions of the channel's timestamps: ``cdr_variables(ch, end_us)`` returns the
(name, value) pairs in FreeSWITCH's order (hangup_cause ... flow_billusec), which CHANNEL_HANGUP_COMPLETE
and CHANNEL_DESTROY then carry. ``*_stamp`` variables appear only for moments that happened.
"""

from acd.sim.causes import q850
from acd.sim.event import local_stamp

_SPANS = ("bill", "progress", "answer", "wait", "progress_media", "flow_bill")
_UNITS = (("sec", 1000000, "duration"), ("msec", 1000, "mduration"), ("usec", 1, "uduration"))


def cdr_variables(ch, end):
    times = ch.profile.times
    moments = {"start": ch.created_us, "profile_start": times.profile_created,
               "answer": ch.answered_us, "bridge": times.bridged, "hold": times.last_hold,
               "progress": ch.progress_us, "progress_media": times.progress_media, "end": end}
    pairs = [("hangup_cause", ch.hangup_cause), ("hangup_cause_q850", q850(ch.hangup_cause)),
             ("digits_dialed", ch.dtmf_log or "none")]
    stamps = _stamps(moments)
    if ch.hold_record:   # newest first, before end_stamp
        stamps.insert(-1, ("hold_events", "{%s}" % ",".join(
            "{%d,%d}" % span for span in reversed(ch.hold_record))))
    pairs += stamps
    pairs += _epochs(moments, times.hold_accum)
    pairs += [("last_app", ch.get_var("current_application", "")),
              ("last_arg", ch.get_var("current_application_data", "")),
              ("caller_id", _caller_id(ch.profile))]
    pairs += _durations(moments)
    return pairs


def _stamps(moments):
    return [(name + "_stamp", local_stamp(stamp // 1000000))
            for name, stamp in moments.items() if stamp]


def _epochs(moments, hold_accum):
    pairs = []
    for name in ("start", "profile_start", "answer", "bridge"):
        pairs += _epoch(name, moments.get(name, 0))
    pairs += _epoch("last_hold", moments["hold"])
    pairs += [("hold_accum_seconds", hold_accum // 1000000), ("hold_accum_usec", hold_accum),
              ("hold_accum_ms", hold_accum // 1000)]
    for name in ("resurrect", "progress", "progress_media", "end"):
        pairs += _epoch(name, moments.get(name, 0))
    return pairs


def _epoch(name, stamp):
    return [(name + "_epoch", stamp // 1000000), (name + "_uepoch", stamp)]


def _caller_id(profile):
    if profile.cid_name:
        return '"%s" <%s>' % (profile.cid_name, profile.cid_number)
    return profile.cid_number


def _durations(moments):
    start, end, answer = moments["start"], moments["end"], moments["answer"]
    spans = {"bill": end - answer if answer else 0,
             "progress": _since(start, moments["progress"]),
             "answer": _since(start, answer),
             "wait": _since(start, moments["bridge"]),
             "progress_media": _since(start, moments["progress_media"]),
             "flow_bill": end - start}
    pairs = []
    for unit, div, total in _UNITS:
        pairs.append((total, (end - start) // div))
        pairs += [(span + unit, spans[span] // div) for span in _SPANS]
    return pairs


def _since(start, moment):
    return moment - start if moment else 0
