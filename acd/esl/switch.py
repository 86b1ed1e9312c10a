"""One FreeSWITCH as acd uses it: an event connection and a few command connections.

Theory of operation
-------------------
mod_event_socket runs an inline ``api`` command (and a ``sendmsg``) in the listener thread that
also writes that connection's events; only ``bgapi`` gets a thread of its own. On a loaded
switch one slow ``uuid_bridge`` sent inline on the event connection froze every event and every
reply behind it for seconds (issue 12: CHANNEL_PARK 22 s late, answered agents hung up). So:

* The **event connection** carries events, subscriptions and ``bgapi`` only. Its commands are
  answered at once (bgapi replies ``+OK Job-UUID`` before the job runs), so nothing acd sends
  can hold up an event.
* ``originate`` and ``uuid_bridge`` -- the commands that take long (an originate lasts as long
  as the phone rings; a bridge waits for both channels) and that many calls need at the same
  moment -- go through ``bgapi``: FreeSWITCH runs each in its own thread, side by side, and the
  result comes back as BACKGROUND_JOB (:meth:`job`).
* Everything else about a call (``sendmsg``, ``uuid_break``, ``uuid_answer``, ``uuid_kill``,
  ``uuid_transfer``, ``uuid_setvar``, ``uuid_getvar``, ...) goes inline over one of
  ``connections`` **command connections** that never subscribe to events: the same call always
  uses the same one (chosen by its uuid), so its commands run in the order they were sent
  (break the music, then play the announcement; unset ``acd_ivr``, then transfer) while a slow
  command holds up only the calls that share its connection, never the events.

Each connection reconnects on its own (acd.esl.client); the event connection's ``on_connect``
is the daemon's cue to resynchronise. ``fire``/``api_reply`` keep the router's vocabulary: a
command whose reply nothing waits for, and one whose reply is read.
"""

import collections
import logging
import time
import zlib

from acd import defaults
from acd.esl import watchdog
from acd.esl.client import EslClient, EslError, NotConnectedError

log = logging.getLogger("acd.esl")

#: Commands sent with bgapi: long, and needed by many calls at once.
JOB_COMMANDS = frozenset(("originate", "uuid_bridge"))


class Switch:
    def __init__(self, host=defaults.ESL_HOST, port=defaults.ESL_PORT,
                 password=defaults.ESL_PASSWORD, *, connections=defaults.ESL_COMMAND_CONNECTIONS,
                 command_timeout=defaults.ESL_COMMAND_TIMEOUT, on_connect=None, on_command=None,
                 on_event=None, heartbeat_timeout=None, **client_options):
        """``connections``: command connections (>= 1). ``on_command(name, seconds)`` hears how
        long each command took to be answered -- for a bgapi job other than originate, until
        its result (the time the switch took to run it); ``on_event(name, lag)`` how late each
        event arrived. ``heartbeat_timeout``: the watchdog's limit (acd.esl.watchdog) on every
        connection -- silence on the event connection, an unanswered command on any."""
        self.host, self.port = host, port
        self.command_timeout = command_timeout
        self.on_command = on_command
        self.events = EslClient(host, port, password, command_timeout=command_timeout,
                                on_connect=on_connect, on_command=self._job_reply_timed,
                                on_event=on_event, heartbeat_timeout=heartbeat_timeout,
                                on_dead=self._event_connection_dead, **client_options)
        self.lines = [EslClient(host, port, password, command_timeout=command_timeout,
                                on_command=on_command, events=False,
                                heartbeat_timeout=heartbeat_timeout, **client_options)
                      for _ in range(max(1, int(connections)))]

    # -- the connections ----------------------------------------------------------------------

    @property
    def connections(self):
        return [self.events] + self.lines

    @property
    def connected(self):
        """Up when the event connection is (command connections reconnect on their own)."""
        return self.events.connected

    @property
    def reconnects(self):
        return self.events.reconnects

    @property
    def reconnect_reasons(self):
        """Reconnects by reason (acd.esl.watchdog.REASONS): the event connection's, plus the
        command connections' declared dead for a command that never answered."""
        reasons = collections.Counter(self.events.reconnect_reasons)
        for line in self.lines:
            reasons[watchdog.COMMAND_TIMEOUT] += line.reconnect_reasons[watchdog.COMMAND_TIMEOUT]
        return reasons

    @property
    def event_counts(self):
        return self.events.event_counts

    @property
    def inflight(self):
        """Commands and jobs sent to FreeSWITCH and not answered yet, on every connection."""
        return sum(conn.inflight for conn in self.connections)

    def start(self):
        for conn in self.connections:
            conn.start()

    def connect(self):
        for conn in self.connections:
            conn.connect()

    def wait_connected(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        for conn in self.connections:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not conn.wait_connected(left):
                return False
        return True

    def stop(self):
        for conn in self.connections:
            conn.stop()

    def register_handle(self, name, handler):
        self.events.register_handle(name, handler)

    def subscribe(self, *names, custom=()):
        self.events.subscribe(*names, custom=custom)

    def line(self, uuid):
        """The command connection of a call (its uuid), or the first one for other commands."""
        if not uuid or len(self.lines) == 1:
            return self.lines[0]
        return self.lines[zlib.crc32(uuid.encode()) % len(self.lines)]

    def _event_connection_dead(self, kind, reason):
        """The event connection went silent (acd.esl.watchdog): the command connections run
        over the same path to the same switch and are frozen too, almost always. Each would
        otherwise be found out only by a command of its own that waits the whole timeout --
        one after another, holding up the daemon's resync. Reconnect them all now."""
        for line in self.lines:
            line.drop(kind, f"the event connection to the same switch was declared dead "
                            f"({reason})")

    # -- commands -----------------------------------------------------------------------------

    def job(self, command):
        """``bgapi <command>`` on the event connection, not waiting: the :class:`Job` future
        (a refusal or a lost connection arrives as its exception)."""
        started = time.perf_counter()
        job = self.events.bgapi(command, wait=False)
        name = command.split(" ", 1)[0]
        if self.on_command is not None and name != "originate":
            job.rawlink(lambda done: done.successful() and self._timed(
                name, time.perf_counter() - started))
        return job

    def api(self, command, timeout=None, call=None):
        """An inline ``api`` on the command connection of the call it names (or ``call``);
        waits for the body (raises EslError / NotConnectedError)."""
        conn = self.line(call or _call_of(command))
        if not conn.connected and not conn.wait_connected(self.command_timeout):
            raise NotConnectedError(f"not connected to ESL at {self.host}:{self.port}")
        return conn.api(command, timeout)

    def api_reply(self, command, timeout=None, call=None):
        """Like :meth:`api`, but a failure (not connected, timeout, connection lost) is logged
        and comes back as the text ``-ERR <why>`` like FreeSWITCH's own errors."""
        try:
            return self.api(command, timeout, call)
        except (EslError, NotConnectedError) as exc:
            log.warning("api %s failed: %s", command.split(" ")[0], exc)
            return f"-ERR {exc}"

    def fire(self, data, call=None):
        """Send an ``api`` command (str without "api ") or a complete sendmsg (bytes) whose reply
        nothing waits for; originate and uuid_bridge go out as background jobs. ``call``: the
        call whose command connection to use (default: the uuid the command names), to keep a
        command in order with that call's others. A -ERR is logged at debug level when it
        comes, a failure to send as a warning."""
        name = data.split(" ", 1)[0] if isinstance(data, str) else "sendmsg"
        try:
            if name in JOB_COMMANDS:
                self.job(data).rawlink(lambda done: _log_job(name, done))
                return
            conn = self.line(call or _call_of(data))
            if isinstance(data, str):
                slot = conn.api_nowait(data)
            else:
                slot = conn.send_nowait(data)
        except (EslError, NotConnectedError) as exc:
            log.warning("%s failed: %s", name, exc)
            return
        slot.rawlink(lambda done: _log_reply(name, done))

    def _job_reply_timed(self, name, seconds):
        """The event connection's replies: bgapi acknowledgements (time to ``+OK Job-UUID``)
        and subscriptions. Only an originate's acknowledgement is reported as its time."""
        if name not in JOB_COMMANDS or name == "originate":
            self._timed(name, seconds)

    def _timed(self, name, seconds):
        if self.on_command is not None:
            try:
                self.on_command(name, seconds)
            except Exception:
                log.exception("on_command failed")


def _call_of(data):
    """The uuid a command is about: the first argument of ``uuid_* <uuid> ...``/``sendmsg
    <uuid>``; '' for other commands."""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data[:200]).split(b"\n", 1)[0].decode("ascii", "replace")
    word, _, rest = data.partition(" ")
    if word == "api":
        word, _, rest = rest.partition(" ")
    if not (word.startswith("uuid_") or word == "sendmsg"):
        return ""
    first = rest.split(" ", 1)[0]
    if first in ("off", "toggle") and word == "uuid_hold":  # uuid_hold [off|toggle] <uuid>
        first = rest.split(" ", 2)[1] if rest.count(" ") else ""
    return first


def _log_reply(name, done):
    reply = done.value if done.successful() else None
    if reply is not None and reply.data.startswith("-ERR"):
        log.debug("%s: %s", name, reply.data.strip())


def _log_job(name, done):
    if not done.successful():
        log.warning("%s: %s", name, done.exception)
    elif not done.value.ok:
        log.debug("%s: %s", name, done.value.body.strip())
