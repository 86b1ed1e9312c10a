"""A channel's session: the greenlet that runs its applications, like a FreeSWITCH session thread.

Theory of operation: once a leg is up (an inbound loopback leg at once, an outbound leg when its
originate succeeds), ``Session.start`` runs its extension -- the dialplan applications or the
``&app()`` of originate -- one application at a time (CHANNEL_EXECUTE ... CHANNEL_EXECUTE_COMPLETE).
Blocking applications wait on the channel's signal, never poll; they end early when the channel
hangs up or a *request* arrives (``uuid_bridge``, ``uuid_transfer``, ``uuid_park``,
``uuid_break``). Messages queued by ``sendmsg``/``uuid_broadcast``/hold music run when the session
is idle (park, sleep, bridged, between applications), each followed by PRIVATE_COMMAND (``loops:
-1`` repeats until broken). Digits the leg receives (``uuid_recv_dtmf``, its phone's ``sim_dtmf``)
are dequeued here (dtmf.py: the DTMF event, carried on through a bridge) and handed to
applications that read digits.

When the extension is used up the channel hangs up NORMAL_CLEARING; the session then runs the
hangup teardown (CS_HANGUP .. CHANNEL_DESTROY).
"""

import collections
import logging
import uuid as uuidlib

import gevent
import gevent.event

from acd.clock import monotonic
from acd.sim import apps, bridge, dtmf, recording, transfer
from acd.sim.causes import parse_cause

log = logging.getLogger("acd.sim.session")


class Message:
    """A queued private event: ``lead`` headers come before the PRIVATE_COMMAND's own.
    ``done`` is set once it has run; ``timer`` delivers a broadcast later."""

    __slots__ = ("lead", "fields", "body", "done", "timer")

    def __init__(self, lead, fields, body=None):
        self.lead = lead
        self.fields = fields  # lower-cased header name -> value
        self.body = body
        self.done = gevent.event.Event()
        self.timer = None


class Session:
    def __init__(self, sw, ch):
        self.sw = sw
        self.ch = ch
        self.extension = []
        self.position = 0
        self.messages = collections.deque()
        self.pending_dtmf = collections.deque()
        self.digits = collections.deque()
        self.request = None          # ("bridge", role, other) | ("transfer", dest, context)
        #                              | ("park", extension, destination)
        self.break_requested = False
        self.broken = False          # the last playback ended by a break
        self.bridged_to = None       # the partner while this leg is in a bridge
        self.recordings = {}
        self.greenlet = None
        self.playing = False
        self.finishing = False
        self.pending_hangup = None   # a cause: hang up once the current application returns

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def running(self):
        return self.greenlet is not None

    def start(self, extension, routing=False):
        self.extension, self.position = list(extension), 0
        self.greenlet = gevent.spawn(self._run, routing)

    def start_custom(self, body):
        """Run ``body(session)`` instead of an extension (the B leg of the bridge app)."""
        self.greenlet = gevent.spawn(self._run_custom, body)

    def _run_custom(self, body):
        try:
            body(self)
        except Exception:  # noqa: BLE001
            log.exception("session %s failed", self.ch.uuid)
            self.sw.hangup(self.ch, "NORMAL_TEMPORARY_FAILURE")
        self._finish()

    def _run(self, routing):
        try:
            if routing and not self.ch.hung_up:
                self.sw.running_state(self.ch, "CS_ROUTING")
                if self.ch.presence_id:
                    self.ch.set_state(number="CS_EXECUTE")
                    self.sw.presence(self.ch, "routing")
            self.enter_execute()
            self.run_extension()
        except Exception:  # noqa: BLE001 - a simulator bug must not leave a zombie channel
            log.exception("session %s failed", self.ch.uuid)
            self.sw.hangup(self.ch, "NORMAL_TEMPORARY_FAILURE")
        self._finish()

    def enter_execute(self, set_call_uuid=True):
        if not self.ch.hung_up:
            if set_call_uuid:
                self.ch.set_var("call_uuid", self.ch.call_uuid)
            self.sw.running_state(self.ch, "CS_EXECUTE")

    def run_extension(self):
        ch = self.ch
        while not ch.hung_up:
            if self.pending_hangup is not None:
                self.sw.hangup(ch, self.pending_hangup)
                break
            if self.request is not None:
                self._handle_request()
                continue
            self.run_messages()
            if ch.hung_up or self.request is not None:
                continue
            if self.position >= len(self.extension):
                self.sw.hangup(ch, "NORMAL_CLEARING")
                break
            name, arg = self.extension[self.position]
            self.position += 1
            self.execute(name, arg)

    def _finish(self):
        self.finishing = True
        if not self.ch.hung_up:
            self.sw.hangup(self.ch, self.pending_hangup or "NORMAL_CLEARING")
        self.sw.hangup_phase(self.ch)
        if self.ch.partner is not None:
            gevent.sleep(0)   # the bridge partner's thread ends the bridge before the destroy
        self.sw.destroy(self.ch)

    def _handle_request(self):
        kind = self.request[0]
        if kind == "bridge":
            _, role, other = self.request
            self.request = None
            bridge.run_uuid_bridge(self, role, other)
        elif kind == "transfer":
            _, destination, context = self.request
            self.request = None
            transfer.route(self, destination, context)
        elif kind == "park":
            _, extension, destination = self.request
            self.request = None
            self._park(extension, destination)
        else:
            self.request = None

    def _park(self, extension, destination):
        """uuid_park: leave what runs for a park (CS_ROUTING, CS_EXECUTE, park)."""
        ch = self.ch
        ch.profile = ch.profile.clone(index=(ch.profile.index or 1) + 1, destination=destination)
        ch.profile.times = ch.profile.times.copy()
        ch.profile.times.transferred = self.sw.now_us()
        self.extension, self.position = list(extension), 0
        self.sw.running_state(ch, "CS_ROUTING")
        self.enter_execute()

    # --- requests from outside (api, other legs) ---------------------------------------------

    def wake(self):
        self.ch.signal.set()

    def hangup_when_idle(self, cause):
        self.pending_hangup = cause
        self.wake()

    def queue_message(self, message):
        self.messages.append(message)
        self.wake()

    def ask(self, *request):
        self.request = request
        self.wake()

    def interrupt(self, flush=False):
        """uuid_break: stop the current playback; ``flush`` also drops queued messages."""
        self.break_requested = self.playing
        if flush:
            self.messages.clear()
        self.wake()

    def inject_dtmf(self, digits, source="APP"):
        """Digits (``[(digit, duration), ...]``) received on the leg, dequeued by the session."""
        self.pending_dtmf.extend((digit, duration, source, None) for digit, duration in digits)
        self.wake()

    # --- waiting ---------------------------------------------------------------------------

    def interrupted(self):
        return self.ch.hung_up or self.request is not None or self.pending_hangup is not None

    def wait(self, timeout=None, messages=True):
        """Block until something happens to the channel (or ``timeout`` seconds pass).

        ``messages``: whether queued messages count (only where they can be run)."""
        signal = self.ch.signal
        if not (self.pending_dtmf or self.interrupted() or self.break_requested
                or (messages and self.messages)):
            signal.wait(timeout)
        signal.clear()
        self.take_dtmf()

    def take_dtmf(self):
        while self.pending_dtmf:
            dtmf.received(self, *self.pending_dtmf.popleft())

    def bridge_over(self):
        """In a bridge whose partner hung up or left it (a playback there ends)."""
        other = self.bridged_to
        return other is not None and (other.hung_up or other.left_bridge)

    def idle(self, until=None, run_messages=True):
        """Wait (running queued messages) until interrupted or the deadline (monotonic)."""
        while not self.interrupted():
            if run_messages:
                self.run_messages()
                if self.interrupted():
                    break
            remaining = None if until is None else until - monotonic()
            if remaining is not None and remaining <= 0:
                return True
            self.wait(remaining)
        return False

    # --- applications ------------------------------------------------------------------------

    def execute(self, name, arg, app_uuid=None):
        ch, sw = self.ch, self.sw
        app = apps.APPLICATIONS.get(name)
        if app is None:
            log.warning("%s: invalid application %r", ch.name, name)
            return
        ch.set_var("current_application", name)
        ch.set_var("current_application_data", arg)
        if not arg:
            ch.unset_var("current_application_data")
        ch.unset_var("current_application_response")
        data = [("Application-Data", arg)] if arg else []
        app_uuid = app_uuid or str(uuidlib.uuid4())
        ch.application = (name, arg)
        sw.fire_channel(ch, "CHANNEL_EXECUTE", post=[("Application", name)] + data + [
            ("Application-UUID", app_uuid)])
        ch.set_var("current_application", name)
        app(self, arg)
        response = ch.get_var("current_application_response") or "_none_"
        sw.fire_channel(ch, "CHANNEL_EXECUTE_COMPLETE", post=[("Application", name)] + data + [
            ("Application-Response", response), ("Application-UUID", app_uuid)])

    def run_messages(self):
        while self.messages and not self.ch.hung_up:
            self._run_message(self.messages.popleft())

    def _run_message(self, message):
        ch, fields = self.ch, message.fields
        command = (fields.get("call-command") or "").lower()
        if command == "execute":
            self._execute_message(message)
        elif command == "hangup":
            self.sw.hangup(ch, parse_cause(fields.get("hangup-cause")))
        self.sw.fire_channel(ch, "PRIVATE_COMMAND", with_vars=False, body=message.body,
                             lead=message.lead)
        message.done.set()

    def _execute_message(self, message):
        fields, ch = message.fields, self.ch
        name = fields.get("execute-app-name")
        if not name:
            return
        arg = fields.get("execute-app-arg") or ""
        if not arg and (fields.get("content-type") or "").lower() == "text/plain":
            arg = (message.body or b"").decode("utf-8", "replace")
        loops = _int(fields.get("loops"), 1)
        loop, self.broken = 0, False
        while loop < max(loops, 1) or loops < 0:   # -1: until broken (hold music)
            loop += 1
            ch.set_var("current_loop", loop)
            ch.set_var("total_loops", loops)
            self.execute(name, arg, fields.get("event-uuid"))
            if self.interrupted() or self.broken or self.bridge_over():
                break
        ch.unset_var("current_loop")
        ch.unset_var("total_loops")

    def close_media(self, cause):
        recording.stop_all(self, cause)


def _int(text, default):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def message_from_sendmsg(command):
    """A sendmsg command -> the queued message (its headers lead the PRIVATE_COMMAND)."""
    fields = {name.lower(): value for name, value in command.headers}
    lead = [("Command", command.line)] + list(command.headers)
    return Message(lead, fields, command.body)
