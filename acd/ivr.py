"""IVR menus run by acd over ESL: the caller chooses the department by keypress.

Theory of operation
-------------------
The daemon hands the IVR, from its one inbox greenlet, every CHANNEL_PARK, CHANNEL_HANGUP, DTMF
and CHANNEL_EXECUTE_COMPLETE; whatever is not about a caller in the IVR goes on to the router.

* A caller parks with ``acd_ivr=<menu>``: an :class:`IvrSession` is opened (memory only: a
  caller who hangs up leaves nothing behind) and the menu entered. A caller that parks with
  ``acd_queue`` naming a queue whose ``schedule`` is closed gets the queue's closed-action
  instead of the queue, so the router never hears of schedules.
* Entering a menu checks its schedule (closed: its closed-action), then sends one
  ``play_and_get_digits`` (tries 1: acd counts and retries itself) with an Event-UUID. The
  greeting is cut by the first digit; the digit comes back in ``acd_ivr_digits`` on the
  CHANNEL_EXECUTE_COMPLETE carrying that Application-UUID (a key that is no option in
  ``acd_ivr_digits_invalid``, nothing at all on a timeout). Completions of anything else are
  ignored, so a late or repeated event changes nothing.
* Invalid input and timeouts count against ``max-failures``; then ``on-failure`` runs (hang up
  when there is none). Actions chain through ``then``; ``menu``/``back``/``repeat`` move inside
  the IVR; ``queue``/``agent`` hand the caller to the router with the IVR path and collected
  digits as call data (the router owns it from then on); ``transfer``/``dial``/``hangup`` leave.
* After a restart or ESL reconnect, :meth:`Ivr.resync` restarts the menu of every caller still
  in the IVR from its greeting (a half-heard prompt cannot be resumed).
* A queue that records with consent (``recording: {mode: consent}``) has the caller asked
  once before it is queued -- after the IVR, if there is one: the announcement with one
  ``play_and_get_digits`` (the accept or decline key, ``prompt-timeout``); the answer
  (accepted, declined, or timeout: silence is never consent) goes to acd.recording, then the
  caller is queued exactly as it would have been.

Every step is reported like a routing decision: one line on ``acd.decisions`` and each of the
router's observers called as ``observer(what, None, "-", details)``.
"""

import logging
import re
import uuid as uuidlib

from acd import defaults
from acd.esl import commands as cmd
from acd.ivr_config import IvrAction
from acd.schedule import is_open

log = logging.getLogger("acd.ivr")
decisions = logging.getLogger("acd.decisions")

#: The variable play_and_get_digits fills with a menu choice (and ``..._invalid``).
DIGITS_VAR = "acd_ivr_digits"
#: The variable that receives the caller's answer to the recording announcement.
CONSENT_VAR = "acd_recording_consent"
#: What play_and_get_digits plays after a wrong key (tries 1: nothing follows it).
_CONSENT_INVALID = "silence_stream://250"
#: Steps a caller may take without pressing a key (closed -> menu -> closed ...) before acd
#: assumes a loop in the config and hangs up.
MAX_HOPS = 16
_KEYS = "0123456789*#"
_SAFE_LANGUAGE = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")
_CAUSE = re.compile(r"[A-Z][A-Z0-9_]{0,63}\Z")
_HANGUP = IvrAction("hangup", defaults.HANGUP_CAUSE)
#: Applications a caller still in the IVR may be running when a restarted daemon finds it.
_IVR_APPLICATIONS = ("park", "play_and_get_digits", "playback")


class IvrSession:
    """One caller in the IVR."""

    def __init__(self, uuid, caller_number, caller_name, priority, language):
        self.uuid = uuid
        self.caller_number = caller_number
        self.caller_name = caller_name
        self.priority = priority
        self.language = language    # acd_language: the caller's choice wins over the menu's
        self.menu = None            # the IvrMenu the caller is in (None: a queue's closed-action)
        self.parents = []           # names of the menus it came from, for back
        self.failures = 0
        self.pending = None         # (application uuid, what, payload) awaited
        self.collected = {}         # variable -> digits (collect)
        self.key = None             # the last option chosen
        self.hops = 0
        self.exited = False         # handed on or left; a hangup now is not an IVR hangup
        self.consent = None         # the answer to the recording announcement (acd.recording)
        self.park = None            # the CHANNEL_PARK of a caller asked before its queue

    def path(self):
        """``main>service>2``: the menus passed and the last key."""
        names = self.parents + ([self.menu.name] if self.menu else [])
        return ">".join(names + ([self.key] if self.key else []))


class Ivr:
    def __init__(self, config, router, esl, clock):
        self.config = config
        self.router = router
        self.esl = esl
        self.clock = clock
        self.sessions = {}          # caller uuid -> IvrSession
        self.recordings = None      # acd.recording.Recordings (set by the daemon)

    # -- reporting ----------------------------------------------------------------------------

    def _note(self, what, s, **details):
        details = {"call_uuid": s.uuid, "menu": s.menu.name if s.menu else "-", **details}
        extra = " ".join(f"{k}={v}" for k, v in details.items() if k not in ("call_uuid", "queue"))
        decisions.info("%s call=%s queue=%s agent=- %s", what, s.uuid,
                       details.get("queue", "-"), extra)
        for observer in self.router.observers:
            try:
                observer(what, None, "-", details)
            except Exception:  # an observer never breaks the IVR
                log.exception("observer %r failed on %s", observer, what)

    def _execute(self, s, what, payload, build):
        """Send ``build(app_uuid)`` (a sendmsg) and await its completion as ``what``."""
        app = str(uuidlib.uuid4())
        try:
            raw = build(app)
        except cmd.UnsafeValue as exc:
            log.error("ivr %s: cannot run %s for %s: %s", s.menu and s.menu.name, what, s.uuid, exc)
            self._leave(s, IvrAction("hangup", "NORMAL_TEMPORARY_FAILURE"))
            return
        s.pending = (app, what, payload)
        self.esl.fire(raw)  # a failure is logged; the resync after a reconnect restarts it

    # -- channel facts ------------------------------------------------------------------------

    def on_park(self, event):
        uuid = event.uuid
        if uuid in self.sessions:
            return  # a repeated fact
        if (event.get("variable_acd_role") == "agent" or uuid in self.router.calls
                or uuid in self.router.legs):
            self.router.on_park(event)
            return
        menu, queue = event.get("variable_acd_ivr"), event.get("variable_acd_queue")
        if menu:
            s = self._open(event)
            if not self.config.has_ivr(menu):
                log.error("call %s asks for unknown ivr menu %r: hanging up", uuid, menu)
                self._leave(s, IvrAction("hangup", "NO_ROUTE_DESTINATION"))
                return
            self._enter(s, menu)
        elif queue and self._closed(queue):
            self._queue_closed(self._open(event), queue)
        elif queue and self._asks_consent(queue) and uuid not in self.router.ignored:
            s = self._open(event)
            s.park = event
            self._ask_consent(s, queue)
        else:
            self.router.on_park(event)

    def on_hangup(self, event):
        s = self.sessions.pop(event.uuid, None)
        if s is None:
            self.router.on_hangup(event)
        elif not s.exited:
            s.exited = True
            self._note("ivr-hangup", s)

    def on_dtmf(self, event):
        if event.uuid not in self.sessions:  # in the IVR play_and_get_digits reads the digits
            self.router.on_dtmf(event)

    def on_execute_complete(self, event):
        s = self.sessions.get(event.uuid)
        if s is None or s.pending is None or event.get("Application-UUID") != s.pending[0]:
            return
        _, what, payload = s.pending
        s.pending = None
        handler = {"menu": self._menu_input, "collect": self._collected, "playback": self._played,
                   "dial": self._dialed, "consent": self._consented}[what]
        handler(s, event, payload)

    def resync(self, channels):
        """After a restart or reconnect (``channels``: uuid -> row of ``show channels``), before
        the router's recovery: drop callers that are gone, restart the menu of those still in
        the IVR from its greeting, and claim parked callers the router has not queued yet that
        ask for a menu or for a queue that is closed now."""
        for uuid, s in list(self.sessions.items()):
            if uuid not in channels:
                self.sessions.pop(uuid)
                if not s.exited:
                    self._note("ivr-hangup", s)
            elif s.menu is not None and s.pending and s.pending[1] in ("menu", "collect"):
                self._restart(s, s.menu.name)
        for uuid, row in channels.items():
            if (uuid not in self.sessions and uuid not in self.router.calls
                    and uuid not in self.router.legs
                    and row.get("application") in _IVR_APPLICATIONS
                    and self.router.store.call(uuid) is None):
                self._claim(uuid, row)

    def _claim(self, uuid, row):
        if self._var(uuid, "acd_role") == "agent":
            return
        if not self.config.serves(self._var(uuid, "acd_instance")):
            return  # another deployment's caller
        menu, queue = self._var(uuid, "acd_ivr"), self._var(uuid, "acd_queue")
        if not self.config.has_ivr(menu) and not self._closed(queue):
            return
        s = IvrSession(uuid, row.get("cid_num", ""), row.get("cid_name", ""), 0, None)
        self.sessions[uuid] = s
        if self.config.has_ivr(menu):
            self._restart(s, menu)
        else:
            self.esl.fire(cmd.uuid_break(uuid, all_=True))
            self._queue_closed(s, queue)

    def _var(self, uuid, name):
        value = self.esl.api_reply(cmd.uuid_getvar(uuid, name)).strip()
        return "" if value.startswith("-ERR") or value == "_undef_" else value

    def _restart(self, s, menu):
        s.pending = None
        self.esl.fire(cmd.uuid_break(s.uuid, all_=True))
        s.menu, s.failures = None, 0
        self._enter(s, menu, push=False)

    # -- the caller's way ---------------------------------------------------------------------

    def _open(self, event):
        language = event.get("variable_acd_language") or None
        s = IvrSession(event.uuid, event.get("Caller-Caller-ID-Number", ""),
                       event.get("Caller-Caller-ID-Name", ""),
                       _priority(event.get("variable_acd_priority")),
                       language if language and _SAFE_LANGUAGE.match(language) else None)
        self.sessions[s.uuid] = s
        if event.get("Answer-State") != "answered":
            self.esl.fire(cmd.uuid_answer(s.uuid))
        return s

    def _closed(self, queue_name):
        if not self.config.has_queue(queue_name):
            return False
        schedule = self.config.queue(queue_name).schedule
        return bool(schedule) and not is_open(self.config.schedule(schedule), self.clock())

    def _enter(self, s, name, push=True):
        menu = self.config.ivr(name)
        if s.menu is not None and push:
            s.parents.append(s.menu.name)
        s.menu, s.failures, s.key = menu, 0, None
        self._note("ivr-enter", s)
        if menu.schedule and not is_open(self.config.schedule(menu.schedule), self.clock()):
            self._note("ivr-closed", s, schedule=menu.schedule)
            self._run(s, menu.closed_action)
        else:
            self._prompt(s)

    def _queue_closed(self, s, queue_name):
        queue = self.config.queue(queue_name)
        self._note("ivr-closed", s, queue=queue_name, schedule=queue.schedule)
        self._run(s, queue.closed_action)

    def _sound(self, s, path):
        language = s.language or (s.menu.language if s.menu else None) or defaults.IVR_LANGUAGE
        return path.replace("{lang}", language)

    def _prompt(self, s):
        menu = s.menu
        keys = "".join(sorted((k for k, _ in menu.options), key=_KEYS.index))
        self._execute(s, "menu", None, lambda app: cmd.play_and_get_digits(
            s.uuid, 1, 1, _ms(menu.timeout), "none", self._sound(s, menu.greeting),
            self._sound(s, menu.invalid_sound), DIGITS_VAR, f"[{keys}]",
            _ms(menu.digit_timeout), event_uuid=app))

    def _menu_input(self, s, event, _):
        digit = _dtmf(event.get(f"variable_{DIGITS_VAR}"))
        action = s.menu.option(digit) if digit else None
        if action is None:
            self._failed(s, _dtmf(event.get(f"variable_{DIGITS_VAR}_invalid")) or digit,
                         lambda: self._prompt(s))
            return
        s.hops, s.failures, s.key = 0, 0, digit
        self._note("ivr-option", s, option=digit, action=action.kind)
        self._run(s, action)

    def _failed(self, s, digits, retry):
        if digits:
            self._note("ivr-invalid", s, digits=digits)
        else:
            self._note("ivr-timeout", s)
        s.failures += 1
        if s.failures < (s.menu.max_failures if s.menu else defaults.IVR_MAX_FAILURES):
            retry()
            return
        self._note("ivr-failure", s)
        s.failures = 0
        self._run(s, (s.menu.on_failure if s.menu else None) or _HANGUP)

    # -- actions ------------------------------------------------------------------------------

    def _run(self, s, action):
        s.hops += 1
        if s.hops > MAX_HOPS:
            log.error("ivr: call %s went %d steps without a key press (a loop of closed menus "
                      "or queues?): hanging up", s.uuid, MAX_HOPS)
            action = _HANGUP
        kind = action.kind
        if kind == "menu":
            self._enter(s, action.target)
        elif kind == "back" and s.parents:
            self._enter(s, s.parents.pop(), push=False)
        elif kind in ("repeat", "back") and s.menu is not None:
            s.failures = 0
            self._prompt(s)
        elif kind == "queue":
            self._to_queue(s, action)
        elif kind == "agent":
            self._hand_over(s, None, action, agent=action.target)
        elif kind == "collect":
            self._collect(s, action)
        elif kind == "playback":
            self._execute(s, "playback", action.then, lambda app: cmd.sendmsg_execute(
                s.uuid, "playback", self._sound(s, action.target), event_uuid=app))
        elif kind == "set":
            self._set(s, action)
        else:
            self._leave(s, action if kind in ("transfer", "dial", "hangup") else _HANGUP)

    def _to_queue(self, s, action):
        queue = self.config.queue(action.target)
        if self._closed(queue.name):
            self._queue_closed(s, queue.name)
        else:
            self._hand_over(s, queue.name, action)

    def _hand_over(self, s, queue_name, action, agent=None):
        """To the router, which owns the caller from here on (asked for its consent to a
        recording first when the queue records)."""
        target = queue_name or next(iter(self.router._queues_of(agent)), None)
        if s.consent is None and target and self._asks_consent(target):
            self._ask_consent(s, target, (queue_name, action, agent))
            return
        self._exit(s, action.kind, queue_name or agent)
        self.esl.fire(cmd.uuid_setvar(s.uuid, "acd_ivr_path", s.path()))
        priority = action.priority if action.priority is not None else s.priority
        self.router.enqueue(s.uuid, queue_name, priority, s.caller_number, s.caller_name,
                            answered=True, skills=action.skills, agent=agent,
                            data={"ivr_path": s.path(), **s.collected})

    def _exit(self, s, kind, target):
        self._note("ivr-exit", s, action=kind, target=target)
        s.exited = True
        self.sessions.pop(s.uuid, None)

    def _leave(self, s, action):
        """transfer, dial or hangup: the caller leaves acd's hands."""
        if action.kind == "dial":
            self._note("ivr-exit", s, action="dial", target=action.target)
            s.exited = True  # the session stays until the bridge ends, to hang the caller up
            self._execute(s, "dial", None, lambda app: cmd.sendmsg_execute(
                s.uuid, "bridge", _dial(action.target), event_uuid=app))
            return
        self._exit(s, action.kind, action.target)
        if action.kind == "transfer":
            dest, *rest = action.target.split()
            self.esl.fire(cmd.uuid_unsetvar(s.uuid, "acd_ivr"))  # or it would park into the IVR again
            self.esl.fire(cmd.uuid_transfer(s.uuid, dest, *(rest + ["XML", "default"][len(rest):])))
        else:
            self.esl.fire(cmd.uuid_kill(s.uuid, action.target or defaults.HANGUP_CAUSE))

    def _set(self, s, action):
        for name, value in action.variables:
            self.esl.fire(cmd.uuid_setvar(s.uuid, name, value))
            if name == "acd_language" and _SAFE_LANGUAGE.match(value):
                s.language = value
        self._run(s, action.then)

    def _collect(self, s, action):
        c, menu = action.collect, s.menu
        timeout = c.timeout or (menu.timeout if menu else defaults.IVR_TIMEOUT)
        digit_timeout = c.digit_timeout or (menu.digit_timeout if menu else
                                            defaults.IVR_DIGIT_TIMEOUT)
        invalid = menu.invalid_sound if menu else defaults.IVR_INVALID_SOUND
        self._execute(s, "collect", action, lambda app: cmd.play_and_get_digits(
            s.uuid, c.min, c.max, _ms(timeout), "#", self._sound(s, c.prompt),
            self._sound(s, invalid), DIGITS_VAR, "^[0-9]+$", _ms(digit_timeout),
            event_uuid=app))

    def _collected(self, s, event, action):
        c = action.collect
        digits = _dtmf(event.get(f"variable_{DIGITS_VAR}"))
        if not (digits.isdigit() and c.min <= len(digits) <= c.max):
            invalid = digits or _dtmf(event.get(f"variable_{DIGITS_VAR}_invalid"))
            self._failed(s, invalid, lambda: self._collect(s, action))
            return
        s.hops, s.failures = 0, 0
        s.collected[c.var] = digits
        self.esl.fire(cmd.uuid_setvar(s.uuid, c.var, digits))
        self._run(s, action.then)

    def _played(self, s, event, then):
        self._run(s, then or _HANGUP)

    def _dialed(self, s, event, _):
        """The bridge of a dial action ended (or never started): the caller is done."""
        self.sessions.pop(s.uuid, None)
        cause = event.get("variable_originate_disposition") or ""
        if cause == "SUCCESS" or not _CAUSE.match(cause):
            cause = defaults.HANGUP_CAUSE
        self.esl.fire(cmd.uuid_kill(s.uuid, cause))


    # -- consent to recording (acd.recording) --------------------------------------------------

    def _asks_consent(self, queue_name):
        return self.recordings is not None and self.recordings.policy(queue_name) is not None

    def _ask_consent(self, s, queue_name, then=None):
        policy = self.recordings.policy(queue_name)
        keys = "".join(sorted({policy.accept_digit, policy.decline_digit}))
        self.recordings.caller_asked(s.uuid, queue_name)
        self._execute(s, "consent", (queue_name, then), lambda app: cmd.play_and_get_digits(
            s.uuid, 1, 1, _ms(policy.prompt_timeout), "none", policy.announcement,
            _CONSENT_INVALID, CONSENT_VAR, f"[{keys}]", _ms(policy.prompt_timeout),
            event_uuid=app))

    def _consented(self, s, event, payload):
        queue_name, then = payload
        policy = self.recordings.policy(queue_name)
        digit = _dtmf(event.get(f"variable_{CONSENT_VAR}"))
        s.consent = ("accepted" if policy and digit == policy.accept_digit else
                     "declined" if policy and digit == policy.decline_digit else "timeout")
        self.recordings.caller_answered(s.uuid, s.consent)
        if then is not None:
            self._hand_over(s, *then)
            return
        s.exited = True             # a caller that came for the queue, not for a menu
        self.sessions.pop(s.uuid, None)
        self.router.on_park(s.park)


def _dial(target):
    own, endpoint = cmd.parse_contact(target)
    return cmd.dial_string([cmd.leg(endpoint, own)])


def _ms(seconds):
    return max(int(round(seconds * 1000)), 1)


def _dtmf(value):
    """Digits from a channel variable: DTMF keys only (they are caller-controlled)."""
    return "".join(ch for ch in str(value or "") if ch in _KEYS)[:128]


def _priority(value):
    try:
        return int(value or 0)
    except ValueError:
        return 0
