"""The queues of a callcenter.conf.xml as acd's (acd import-callcenter; acd/callcenter_import.py
has the theory of operation): each ``<param>`` mapped by name where acd shares its meaning, a note
for the rest, and notes on what mod_callcenter did differently with the values given.
"""

from acd import defaults
from acd.callcenter_values import STATUSES, boolean, expand, seconds
from acd.config_queues import STRATEGIES

#: mod_callcenter's defaults for the queue parameters acd shares (mod_callcenter.c,
#: queue_set_config), where they differ from acd's or matter for a note.
_MCC_QUEUE_DEFAULTS = {"tier-rule-wait-second": 0, "tier-rule-wait-multiply-level": False,
                       "tier-rule-no-agent-no-wait": True, "time-base-score": "queue"}
_SAME_SECONDS = ("max-wait-time", "max-wait-time-with-no-agent",
                 "max-wait-time-with-no-agent-time-reached", "discard-abandoned-after",
                 "tier-rule-wait-second", "announce-frequency")
_SAME_BOOLEANS = ("tier-rules-apply", "abandoned-resume-allowed")
_ACD_QUEUE_DEFAULTS = {
    "strategy": defaults.QUEUE_STRATEGY, "moh-sound": defaults.QUEUE_MOH_SOUND,
    "max-wait-time": defaults.QUEUE_MAX_WAIT_TIME,
    "max-wait-time-with-no-agent": defaults.QUEUE_MAX_WAIT_TIME_WITH_NO_AGENT,
    "max-wait-time-with-no-agent-time-reached":
        defaults.QUEUE_MAX_WAIT_TIME_WITH_NO_AGENT_TIME_REACHED,
    "discard-abandoned-after": defaults.QUEUE_DISCARD_ABANDONED_AFTER,
    "tier-rule-wait-second": defaults.QUEUE_TIER_RULE_WAIT_SECOND,
    "announce-frequency": defaults.QUEUE_ANNOUNCE_FREQUENCY,
    "tier-rules-apply": defaults.QUEUE_TIER_RULES_APPLY,
    "abandoned-resume-allowed": defaults.QUEUE_ABANDONED_RESUME_ALLOWED}
#: Parameters acd has no equivalent for, with the reason.
_QUEUE_UNMAPPED = {
    "record-template": "acd records a call only with the consent of caller and agent; set "
                       "queues[].recording (mode: consent, purpose, announcement, path-template "
                       "with {date} {call_uuid} {queue} {agent}) by hand, see docs/recording.md",
    "ring-progressively-delay": "acd's ring-progressively adds the next agent every "
                                "ring-timeout seconds (queues[].ring-timeout)",
    "skip-agents-with-external-calls": "acd knows only the calls it distributes; an agent on "
                                       "another call is busy (USER_BUSY) and gets busy-delay-time",
}


def read_queue(element, notes, variables, ids):
    raw_name = element.get("name", "")
    where = f"queue {raw_name!r}"
    if not raw_name:
        notes.add("queues", "a <queue> without a name: skipped")
        return None
    name = ids.make("queue", raw_name, where)
    if name is None:
        notes.add(where, "defined twice: the second definition is skipped")
        return None
    params = {}
    for param in element.findall("param"):
        key = param.get("name", "")
        if key in params:
            notes.add(where, f"{key}: given twice; the last one is used (as mod_callcenter does)")
        params[key] = param.get("value", "")
    queue = {"name": name}
    settings = {}
    for key, value in params.items():
        _queue_param(key, value, settings, params, where, notes, variables)
    _queue_consistency(settings, params, where, notes)
    queue.update((k, v) for k, v in settings.items() if v != _ACD_QUEUE_DEFAULTS.get(k, object()))
    if "tier-rule-wait-second" not in params and boolean(params.get("tier-rules-apply")):
        queue["tier-rule-wait-second"] = _MCC_QUEUE_DEFAULTS["tier-rule-wait-second"]
    queue["tiers"] = []
    return queue


def _queue_param(key, value, settings, params, where, notes, variables):
    if key in _QUEUE_UNMAPPED:
        notes.add(where, f"{key}: not mapped: {_QUEUE_UNMAPPED[key]}")
    elif key == "strategy":
        if value in STRATEGIES and value != "skills":
            settings[key] = value
        else:
            notes.add(where, f"strategy: not mapped: {value!r} is not a mod_callcenter strategy "
                             f"acd knows; acd's default ({defaults.QUEUE_STRATEGY}) applies")
    elif key in ("moh-sound", "announce-sound"):
        expanded = expand(value, where, key, notes, variables)
        if expanded:
            settings[key] = expanded
    elif key in _SAME_SECONDS:
        parsed = seconds(value, where, key, notes)
        if parsed is not None:
            settings[key] = parsed
    elif key in _SAME_BOOLEANS:
        settings[key] = boolean(value)
    elif key in ("tier-rule-wait-multiply-level", "tier-rule-no-agent-no-wait"):
        pass  # _queue_consistency says how acd differs, once tier-rules-apply is known
    elif key == "time-base-score":
        if value.strip().lower() != "queue":
            notes.add(where, f"time-base-score: not mapped: {value!r} counted the time since "
                             "the call entered FreeSWITCH; acd orders callers by the time they "
                             "first joined an acd queue (kept through overflows and transfers; "
                             "time in the dialplan or IVR before that does not count)")
    elif key == "agent-no-answer-status":
        if STATUSES.get(value.strip().lower()) != "on-break":
            notes.add(where, f"agent-no-answer-status: not mapped: {value!r}: after "
                             "max-no-answer missed offers acd always puts the agent on-break")
    else:
        notes.add(where, f"{key}: not mapped: not a mod_callcenter queue parameter acd knows")


def _queue_consistency(settings, params, where, notes):
    """Notes on what mod_callcenter did differently with the values given."""
    if boolean(params.get("tier-rules-apply")):
        multiply = boolean(params.get("tier-rule-wait-multiply-level", "false"))
        wait = settings.get("tier-rule-wait-second", 0)
        if wait and multiply:
            notes.add(where, "tier-rule-wait-multiply-level: partly mapped: mod_callcenter "
                             f"opened level N after N x {wait} s, acd opens it after (N-1) x "
                             f"{wait} s (level 2 at {wait} s instead of {2 * wait} s)")
        elif wait:
            notes.add(where, "tier-rule-wait-multiply-level: partly mapped: false: mod_callcenter "
                             f"opened every further level at once after {wait} s, acd opens one "
                             f"more level every {wait} s")
        if boolean(params.get("tier-rule-no-agent-no-wait", "true")):
            notes.add(where, "tier-rule-no-agent-no-wait: not mapped: acd waits at a level even "
                             "when no agent of it is available (mod_callcenter's default, true, "
                             "skipped such a level)")
    else:
        for key in ("tier-rule-wait-multiply-level", "tier-rule-no-agent-no-wait"):
            if key in params:
                notes.add(where, f"{key}: not needed: tier-rules-apply is false (no effect in "
                                 "mod_callcenter either)")
    if settings.get("announce-frequency") and not settings.get("announce-sound"):
        notes.add(where, "announce-frequency: not mapped: no announce-sound to play")
        settings.pop("announce-frequency")
    if settings.get("announce-sound") and not settings.get("announce-frequency"):
        notes.add(where, "announce-sound: not mapped: announce-frequency is 0, so it is never "
                         "played (in mod_callcenter either)")
        settings.pop("announce-sound")
    if any(settings.get(k) for k in ("max-wait-time", "max-wait-time-with-no-agent")):
        notes.add(where, "max-wait-time: partly mapped: mod_callcenter returned a caller who "
                         "waited too long to the dialplan after the callcenter application; acd "
                         "hangs up unless the queue has an overflow: add overflow: {transfer: "
                         "\"DEST XML CONTEXT\"} (docs/config.md)")
