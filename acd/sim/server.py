"""The inbound event socket: one ``Connection`` per client, served by a gevent StreamServer.

Theory of operation: a connection is read by its own greenlet, which parses commands
(wire.CommandReader) and answers them in order, the way mod_event_socket's listener does
(``dispatch`` checks commands in FreeSWITCH's order, with its prefix matching and reply texts).
Everything written goes through one queue drained by a writer greenlet: command replies, and
the events this connection wants (subscriptions, filters, myevents). While an ``api`` command
runs, events are held and released after its api/response, so an api reply always comes
before the events it caused. ``bgapi`` runs the command in a greenlet and fires
BACKGROUND_JOB.

A slow switch (latency.py): an ``api`` or ``sendmsg`` whose command has a latency sleeps that
long in the reader greenlet with the events held, so the connection is frozen as
mod_event_socket's listener thread is; a ``bgapi`` sleeps in its own greenlet. With an event
delay, events pass through the connection's DelayLine before the holding and the queue.
"""

import logging
import uuid as uuidlib

import gevent
import gevent.queue

from acd.sim import api, filters, latency, trace, wire
from acd.sim.event import EVENT_NAMES
from acd.sim.session import message_from_sendmsg

log = logging.getLogger("acd.sim.server")
_CLOSE = object()
#: As mod_event_socket: a listener's queue holds this many events; one that misses more than
#: MAX_MISSED in a row (a client that stopped reading) is disconnected.
MAX_QUEUE = 100000
MAX_MISSED = 500
#: At most this many queued frames are joined into one write.
WRITE_BATCH = 64
LOG_LEVELS = {"console": 0, "alert": 1, "crit": 2, "err": 3, "error": 3, "warning": 4,
              "notice": 5, "info": 6, "debug": 7}


class Connection:
    def __init__(self, sock, sw, password):
        self.sock = sock
        self.sw = sw
        self.password = password
        self.reader = wire.CommandReader()
        self.out = gevent.queue.Queue()
        self.authed = False
        self.running = True
        self.format = "plain"
        self.listening = False
        self.all_events = False
        self.events = set()
        self.subclasses = set()
        self.filters = []
        self.myevents = False
        self.session_uuid = None
        self.log_level = None
        self.holding = False
        self.held = []
        self.missed = 0
        self.latency = latency.of(sw)
        self.delay_line = None      # a latency.DelayLine once an event was delayed
        self.frozen = False         # links.py: half-open -- nothing read is acted on, nothing sent
        self.greenlet = None        # the greenlet serving it (links.py spares the one asking)

    # --- event delivery ----------------------------------------------------------------

    def wants(self, name, subclass=None):
        if not self.listening or not self.running or self.frozen:
            return False
        if self.all_events:
            return True
        if name not in self.events:
            return False
        return name != "CUSTOM" or not subclass or subclass in self.subclasses

    def offer(self, event):
        if not self.wants(event.name, event.subclass):
            return
        if self.filters and not filters.passes(self.filters, event):
            return
        if self.myevents:
            uuid = event.get("Unique-ID")
            if not uuid or (self.session_uuid and uuid != self.session_uuid):
                return
        if self.out.qsize() + len(self.held) >= MAX_QUEUE:
            self._lost()
        elif self.latency.event_delay or self.delay_line:
            self._delay(event)
        elif self.holding:
            self.held.append(event)
        else:
            self.missed = 0
            self.out.put(event)

    def _delay(self, event):
        """Event-delay: the event goes to the queue (or the held events) when it is due."""
        if self.delay_line is None:
            self.delay_line = latency.DelayLine(self._deliver)
        if len(self.delay_line) >= MAX_QUEUE:
            return self._lost()
        self.delay_line.put(event, self.latency.event_delay)

    def _deliver(self, event):
        if not self.running:
            return
        if self.holding:
            self.held.append(event)
        else:
            self.missed = 0
            self.out.put(event)

    def _lost(self):
        self.missed += 1
        if self.missed > MAX_MISSED:
            log.warning("client is not reading its events; disconnecting it")
            self.running = False
            close(self.sock)

    # --- the connection's life -----------------------------------------------------------

    def serve(self):
        self.greenlet = gevent.getcurrent()
        writer = gevent.spawn(self._write_loop)
        self.sw.bus.add(self)
        self.out.put(wire.AUTH_REQUEST)
        try:
            self._read_loop()
        finally:
            self.running = False
            self.sw.bus.remove(self)
            if self.delay_line is not None:
                self.delay_line.stop()
            self.out.put(_CLOSE)
            writer.join(timeout=5)
            close(self.sock)

    def _read_loop(self):
        while self.running:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            if self.frozen:
                continue
            self.reader.feed(data)
            try:
                for command in self.reader.commands():
                    self.dispatch(command)
                    if not self.running:
                        return
            except ValueError as exc:  # a header block beyond any sane size
                log.warning("closing connection: %s", exc)
                return

    def _write_loop(self):
        """Write what is queued; everything queued by the time the writer runs goes out in one
        sendall (one syscall and, with TCP_NODELAY, as few segments as the data needs)."""
        out = self.out
        while True:
            item = out.get()
            chunks, closing = [], False
            while True:
                if item is _CLOSE:
                    closing = True
                    break
                chunks.append(item if isinstance(item, bytes) else item.frame(self.format))
                if out.empty() or len(chunks) >= WRITE_BATCH:
                    break
                item = out.get_nowait()
            try:
                if chunks and not self.frozen:
                    self.sock.sendall(b"".join(chunks))
            except OSError:
                self.running = False
                return
            if closing:
                return

    def reply(self, text):
        self.out.put(wire.command_reply(text))

    def goodbye(self, text):
        """Last reply, then the disconnect notice; the connection then closes."""
        self.reply(text)
        self.out.put(wire.DISCONNECT_NOTICE)
        self.running = False

    # --- commands, in mod_event_socket's order -----------------------------------------------

    def dispatch(self, command):
        line = command.line
        lower = line.lower()
        if lower.startswith("exit") or line.startswith("..."):
            return self.goodbye("+OK bye")
        if not self.authed:
            return self._auth(line)
        for prefix, handler in _HANDLERS:
            if lower.startswith(prefix):
                return handler(self, command)
        self.reply("-ERR command not found")

    def _auth(self, line):
        if not line.lower().startswith("auth "):
            return self.reply("-ERR command not found")
        if line[5:] == self.password:
            self.authed = True
            return self.reply("+OK accepted")
        self.goodbye("-ERR invalid")

    def cmd_filter(self, command):
        rest = command.line[7:].lstrip(" ")
        name, sep, value = rest.partition(" ")
        if name.lower() == "delete" and sep:
            name, sep2, value = value.partition(" ")
            if name.lower() == "all":
                self.filters = []
            else:
                self.filters = [(n, v) for n, v in self.filters
                                if not (n.lower() == name.lower() and (not sep2 or v == value))]
            return self.reply("+OK filter deleted. [%s][%s]" % (name, value if sep2 else ""))
        if not sep:
            return self.reply("-ERR invalid syntax")
        if name.lower() == "add":
            name, _, value = value.partition(" ")
        self.filters.append((name, value))
        self.reply("+OK filter added. [%s]=[%s]" % (name, value))

    def cmd_myevents(self, command):
        if self.myevents:
            return self.reply("-ERR aready enabled.")
        words = command.line.split(" ")
        uuid = words[1] if len(words) > 1 else ""
        fmt = words[2] if len(words) > 2 else None
        if self.sw.find(uuid) is not None:
            self.session_uuid = uuid
        elif fmt:
            return self.reply("-ERR invalid uuid")
        self.events |= _MYEVENTS
        self.myevents = self.listening = True
        if fmt and fmt.lower() in ("plain", "json", "xml"):
            self.format = fmt.lower()
        elif "xml" in command.line.lower() or "json" in command.line.lower():
            self.format = "json" if "json" in command.line.lower() else "xml"
        self.reply("+OK Events Enabled")

    def cmd_divert_events(self, command):
        if self.session_uuid is None:
            return self.reply("-ERR not controlling a session.")
        value = command.line[13:].strip()
        if not value:
            return self.reply("-ERR missing value.")
        self.reply("+OK events diverted" if value.lower() == "on"
                   else "+OK events not diverted")

    def cmd_sendmsg(self, command):
        seconds = self.latency.of("sendmsg")
        if not seconds:
            return self._sendmsg(command)
        self._busy(seconds, self._sendmsg, command)

    def _sendmsg(self, command):
        uuid = command.line[7:].strip() or command.header("session-id") or ""
        ch = self.sw.find(uuid) if uuid else None
        if ch is None or ch.session is None:
            return self.reply("-ERR invalid session id [%s]" % uuid)
        ch.session.queue_message(message_from_sendmsg(command))
        self.reply("+OK")

    def cmd_sendevent(self, command):
        event_uuid = str(uuidlib.uuid4())
        name = command.line[9:].strip() or "CUSTOM"
        fields = list(command.headers) + [("Event-UUID", event_uuid)]
        subclass = command.header("Event-Subclass") if name == "CUSTOM" else None
        self.sw.fire(name if name in EVENT_NAMES else "CUSTOM", lambda: fields,
                     subclass=subclass, body=command.body)
        self.reply("+OK %s" % event_uuid)

    def cmd_api(self, command):
        cmd, _, arg = command.line[4:].partition(" ")
        tracer = trace.active(self.sw)
        if tracer is not None:
            tracer.command(cmd, arg)
        self._busy(self.latency.of(cmd), api.run, self.sw, cmd, arg, self._api_response)

    def _busy(self, seconds, run, *args):
        """Run a command as the listener thread does: its events held until it is done, and
        (a slow switch) ``seconds`` of latency before it starts, nothing read meanwhile."""
        self.holding = True
        try:
            if seconds:
                gevent.sleep(seconds)
            run(*args)
        finally:
            self._release()

    def _api_response(self, reply):
        self.out.put(wire.api_response(reply))

    def _release(self):
        self.holding = False
        held, self.held = self.held, []
        for event in held:
            self.out.put(event)

    def cmd_bgapi(self, command):
        cmd, _, arg = command.line[6:].partition(" ")
        tracer = trace.active(self.sw)
        if tracer is not None:
            tracer.command(cmd, arg)
        job_uuid = command.header("job-uuid") or str(uuidlib.uuid4())
        self.out.put(wire.job_reply(job_uuid))
        seconds = self.latency.of(cmd)
        job = (api.run, self.sw, cmd, arg,
               lambda reply: _background_job(self.sw, job_uuid, cmd, arg, reply))
        if seconds:
            gevent.spawn_later(seconds, *job)
        else:
            gevent.spawn(*job)

    def cmd_log(self, command):
        level = command.line[3:].strip()
        number = _log_level(level) if level else 7
        if number is None:
            return self.reply("-ERR invalid log level")
        self.log_level = number
        self.reply("+OK log level %s [%d]" % (level, number))

    def cmd_linger(self, command):
        if self.session_uuid is None:
            return self.reply("-ERR not controlling a session")
        seconds = command.line[7:].strip()
        self.reply("+OK will linger %d seconds" % int(seconds) if seconds.isdigit()
                   else "+OK will linger")

    def cmd_nolinger(self, command):
        self.reply("-ERR not controlling a session" if self.session_uuid is None
                   else "+OK will not linger")

    def cmd_nolog(self, command):
        if self.log_level is None:
            return self.reply("-ERR not loging")
        self.log_level = None
        self.reply("+OK no longer logging")

    def cmd_event(self, command):
        words = command.line.split(" ")[1:]
        if words and words[0].lower() in ("plain", "json", "xml"):
            self.format = words[0].lower()
            words = words[1:]
        if not self._subscribe([w for w in words if w]):
            return self.reply("-ERR no keywords supplied")
        self.listening = True
        self.reply("+OK event listener enabled %s" % self.format)

    def _subscribe(self, words):
        keys, custom = 0, False
        for word in words:
            if custom:
                self.subclasses.add(word)
            elif word in EVENT_NAMES:
                keys += 1
                if word == "ALL":
                    self.all_events = True
                    self.events |= EVENT_NAMES
                self.events.add(word)
                custom = custom or word == "CUSTOM"
        return keys

    def cmd_nixevent(self, command):
        keys, custom = 0, False
        for word in (w for w in command.line.split(" ")[1:] if w):
            if custom:
                self.subclasses.discard(word)
            elif word in EVENT_NAMES:
                keys += 1
                custom = self._nix(word) or custom
        if not keys:
            return self.reply("-ERR no keywords supplied")
        self.listening = True
        self.reply("+OK events nixed")

    def _nix(self, word):
        if word == "CUSTOM":
            return True
        if word == "ALL":
            self.all_events, self.events = False, set()
        else:
            if self.all_events:
                self.all_events, self.events = False, set(EVENT_NAMES) - {"ALL"}
            self.events.discard(word)
        return False

    def cmd_noevents(self, command):
        self.held = [item for item in self.held if not hasattr(item, "frame")]
        if self.delay_line is not None:
            self.delay_line.clear()
        if not self.listening:
            return self.reply("-ERR not listening for events")
        self.listening = self.all_events = False
        self.events, self.subclasses = set(), set()
        self.reply("+OK no longer listening for events")


_MYEVENTS = frozenset(("CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE",
                       "CHANNEL_CREATE", "CHANNEL_DATA", "CHANNEL_DESTROY", "CHANNEL_EXECUTE",
                       "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE",
                       "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_PARK",
                       "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE",
                       "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK", "DETECTED_SPEECH", "DTMF",
                       "NOTALK", "TALK"))

#: (lower-case prefix, handler) in the order mod_event_socket's parse_command tests them.
_HANDLERS = (
    ("filter ", Connection.cmd_filter), ("myevents ", Connection.cmd_myevents),
    ("divert_events", Connection.cmd_divert_events), ("sendmsg", Connection.cmd_sendmsg),
    ("sendevent", Connection.cmd_sendevent), ("api ", Connection.cmd_api),
    ("bgapi ", Connection.cmd_bgapi), ("log", Connection.cmd_log),
    ("linger", Connection.cmd_linger), ("nolinger", Connection.cmd_nolinger),
    ("nolog", Connection.cmd_nolog), ("event", Connection.cmd_event),
    ("nixevent", Connection.cmd_nixevent), ("noevents", Connection.cmd_noevents),
)


def _background_job(sw, job_uuid, command, arg, reply):
    headers = [("Job-UUID", job_uuid), ("Job-Command", command)]
    if arg:
        headers.append(("Job-Command-Arg", arg))
    sw.fire("BACKGROUND_JOB", lambda: headers, body=reply)


def _log_level(text):
    if text.isdigit():
        return int(text) if int(text) <= 7 else None
    return LOG_LEVELS.get(text.lower())


def close(sock):
    try:
        sock.close()
    except OSError:
        pass
