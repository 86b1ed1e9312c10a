"""EslClient: greenswitch's InboundESL with the defects of greenswitch 0.0.19 fixed.

Theory of operation
-------------------
We keep greenswitch's public face -- ``InboundESL(host, port, password)``, ``connect()``,
``register_handle(name, fn)``, ``send(cmd)`` returning an object with ``.headers``/``.data``,
``stop()`` and the context manager -- so code written for greenswitch runs unchanged. Underneath,
the connection is ours, because each of greenswitch's defects (ESL-FACTS.md) sits in a method we
had to replace:

* Reader: one greenlet per connection reads 64 KB chunks into :class:`~acd.esl.protocol.FrameParser`
  (greenswitch read line by line and could not reach our event rate; it also spun forever on EOF
  inside a body and URL-decoded whole blocks, letting ``%0A`` forge headers). Events are parsed
  into immutable :class:`~acd.esl.protocol.Event` objects with their own bodies.
* Commands: written with ``sendall`` under a lock, answered strictly in order from a FIFO of
  pending results. Every command has a timeout; a reply that comes after its timeout is
  consumed and dropped, so later replies stay matched. Losing the socket -- disconnect notice,
  plain TCP close, protocol error or failed write -- fails every pending command and background
  job at once with :class:`ConnectionLost`.
* Watchdog (``heartbeat_timeout``, acd.esl.watchdog): a connection that stays silent -- no
  event for two heartbeats, or a command unanswered that long -- is declared dead, closed and
  reconnected like a lost one; ``reconnect_reasons`` counts reconnects by why.
* ``bgapi`` returns a :class:`Job` future (client-chosen ``Job-UUID``) resolved by the
  BACKGROUND_JOB event with a parsed :class:`~acd.esl.protocol.JobResult`.
* Reconnect: capped exponential backoff with jitter; the same subscriptions and filters are sent
  again, then ``on_reconnect`` fires (``on_connect`` fires after every connection, the first
  included: the ACD resynchronises there).
* Handlers: each registered handler has its own queue and worker greenlet, so the reader never
  runs handler code and a slow handler delays nobody else; one handler sees its events in order.
  Errors are logged through the ``acd.esl`` logger (greenswitch used the root logger).
* Observability without a metrics library: ``event_counts`` counts the events received by name,
  ``reconnects`` the reconnects, ``inflight`` the commands and jobs awaiting an answer,
  ``on_command(name, seconds)`` (if given) hears how long each answered command took (``name``:
  :func:`command_name`) and ``on_event(name, lag)`` how late each event arrived (receipt minus
  its Event-Date-Timestamp).
* ``events=False`` makes a *command connection*: it never subscribes, so FreeSWITCH writes it
  nothing but replies. mod_event_socket runs an inline ``api`` in the thread that also delivers
  that connection's events; acd.esl.switch keeps such commands off the event connection.
"""

import collections
import contextlib
import logging
import random
import time
import uuid as uuidlib

import gevent
import gevent.event
import gevent.lock
import gevent.socket
from greenswitch.esl import InboundESL, NotConnectedError

from acd import defaults
from acd.esl import commands, watchdog
from acd.esl.commands import command_name
from acd.esl.errors import (AuthError, CommandError, CommandTimeout, ConnectError,  # noqa: F401
                            ConnectionLost, EslError, Job)
from acd.esl.protocol import Event, JobResult, ProtocolError, Reply
from acd.esl.subscriptions import Subscriptions
from acd.esl.connection import Connection, tune_socket
from acd.esl.workers import Worker

log = logging.getLogger("acd.esl")


class _Slot(gevent.event.AsyncResult):
    """The future of one command's reply; ``sent_at``: when it was queued (monotonic)."""

    def __init__(self):
        super().__init__()
        self.sent_at = time.monotonic()


class EslClient(Subscriptions, InboundESL):
    """An inbound ESL connection to FreeSWITCH. See the module docstring."""

    def __init__(self, host=defaults.ESL_HOST, port=defaults.ESL_PORT,
                 password=defaults.ESL_PASSWORD, *, command_timeout=defaults.ESL_COMMAND_TIMEOUT,
                 connect_timeout=5.0, reconnect=True,
                 backoff_initial=defaults.ESL_RECONNECT_INITIAL,
                 backoff_factor=defaults.ESL_RECONNECT_FACTOR,
                 backoff_max=defaults.ESL_RECONNECT_MAX,
                 event_format="plain", on_connect=None, on_reconnect=None, on_disconnect=None,
                 on_command=None, on_event=None, events=True, heartbeat_timeout=None,
                 on_dead=None):
        super().__init__(host, port, password, timeout=connect_timeout)
        if "\n" in password or "\r" in password:
            raise commands.UnsafeValue("the ESL password may not contain a line break")
        self.command_timeout = command_timeout
        self.reconnect = reconnect
        self.backoff = (backoff_initial, backoff_factor, backoff_max)
        self.event_format = event_format
        self.on_connect = on_connect
        self.on_reconnect = on_reconnect
        self.on_disconnect = on_disconnect
        self.reconnects = 0
        self.on_command = on_command
        self.on_event = on_event
        #: False: a command connection -- it never subscribes, so FreeSWITCH sends it no events
        #: and an inline command on it delays no event (acd.esl.switch).
        self.events_enabled = events
        #: seconds of silence (event connection) or of an unanswered command after which the
        #: connection is declared dead and reconnected (acd.esl.watchdog); None: no watchdog
        self.heartbeat_timeout = heartbeat_timeout
        self.reconnect_reasons = collections.Counter()  # watchdog.REASONS -> reconnects
        self.on_dead = on_dead  # on_dead(reason, explanation): the watchdog declared it dead
        self._loss_reason = watchdog.CONNECTION_LOST
        self.event_counts = collections.Counter()   # event name -> events received
        self._conn = None
        self._pending = collections.deque()
        self._jobs = {}
        self._send_lock = gevent.lock.Semaphore()
        self._events = {"BACKGROUND_JOB"}
        self._custom = set()
        self._filters = []
        self._workers = {}
        self._stopped = False
        self._supervisor = None
        self._up = gevent.event.Event()

    # -- connection ---------------------------------------------------------------------------

    def connect(self):
        """Connect and authenticate once (raises ConnectError/AuthError); later drops reconnect."""
        self._stopped = False
        self._open()

    def start(self):
        """Connect in the background, retrying with backoff until it works; returns at once."""
        self._stopped = False
        if self._supervisor is None or self._supervisor.dead:
            self._supervisor = gevent.spawn(self._reconnect_loop, first_delay=0)

    def wait_connected(self, timeout=None):
        return self._up.wait(timeout)

    @property
    def inflight(self):
        """Commands written and not answered yet, plus background jobs without their result."""
        return len(self._pending) + len(self._jobs)

    def _open(self):
        try:
            sock = gevent.socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise ConnectError(f"cannot connect to ESL at {self.host}:{self.port}: {exc}") from None
        tune_socket(sock)
        conn = Connection(sock)
        try:
            conn.handshake(self.host, self.port, self.password, self.timeout)
        except BaseException:
            sock.close()
            raise
        sock.settimeout(None)
        with self._send_lock:
            self._conn = conn
            self.sock = sock
            self.connected = True
        conn.reader = gevent.spawn(self._read_loop, conn)
        if self.heartbeat_timeout:
            conn.watchdog = gevent.spawn(watchdog.watch, conn, self.heartbeat_timeout,
                                         self.events_enabled, self._oldest_pending,
                                         self._declare_dead)
        try:
            self._resubscribe()
        except (EslError, NotConnectedError) as exc:
            self._lost(conn, f"re-subscribing failed: {exc}")
            raise ConnectError(f"subscribing after connect failed: {exc}") from None
        self._up.set()
        log.info("ESL connected to %s:%s", self.host, self.port)
        if self.on_connect:
            gevent.spawn(self._callback, self.on_connect)

    def _read_loop(self, conn):
        reason = "FreeSWITCH closed the connection"
        try:
            for frame in conn.early:
                self._on_frame(frame)
            while True:
                data = conn.sock.recv(65536)
                conn.received_at = time.monotonic()
                if not data:
                    if conn.parser.buffered:
                        reason = (f"connection closed in the middle of a frame "
                                  f"({conn.parser.buffered} bytes of it received)")
                    break
                for frame in conn.parser.feed(data):
                    self._on_frame(frame)
        except ProtocolError as exc:
            reason = f"protocol error: {exc}"
        except OSError as exc:
            reason = f"socket error: {exc}"
        except Exception as exc:  # a parser bug must still end the connection, never hang it
            log.exception("ESL reader failed")
            reason = f"reader failed: {exc!r}"
        self._lost(conn, reason)

    def _oldest_pending(self):
        """When the oldest command still awaiting its reply was sent (None: none waits)."""
        pending = self._pending
        return pending[0].sent_at if pending else None

    def _declare_dead(self, conn, kind, reason):
        """The watchdog's verdict: the connection is silent (half-open, frozen): close it;
        reconnecting and (on the event connection) the resync follow as for any loss."""
        if conn.lost or conn is not self._conn:
            return
        log.error("ESL connection to %s:%s declared dead (%s): %s; reconnecting", self.host,
                  self.port, kind, reason)
        self._lost(conn, f"{kind}: {reason}", kind)
        if self.on_dead is not None:
            gevent.spawn(self._callback, self.on_dead, kind, reason)

    def drop(self, kind, reason):
        """Declare the current connection dead from outside (acd.esl.switch: the event
        connection to the same switch went silent): closed and reconnected as any lost one."""
        conn = self._conn
        if conn is not None and not conn.lost:
            self._declare_dead(conn, kind, reason)

    def _lost(self, conn, reason, kind=watchdog.CONNECTION_LOST):
        """The one place a connection ends: fail what waits, tell listeners, maybe reconnect."""
        if conn is None or conn.lost:
            return
        conn.lost = True
        if conn.watchdog is not None and conn.watchdog is not gevent.getcurrent():
            conn.watchdog.kill(block=False)
        with contextlib.suppress(OSError):  # the reader's recv then fails
            conn.sock.close()
        if conn is not self._conn:
            return
        self.connected = False
        self._up.clear()
        self._loss_reason = kind
        error = ConnectionLost(f"ESL connection to {self.host}:{self.port} lost: {reason}")
        pending, self._pending = self._pending, collections.deque()
        jobs, self._jobs = self._jobs, {}
        for slot in pending:
            if not slot.ready():
                slot.set_exception(error)
        for job in jobs.values():
            job.set_exception(error)
        if self._stopped:
            log.info("ESL connection to %s:%s closed", self.host, self.port)
            return
        log.warning("ESL connection to %s:%s lost: %s", self.host, self.port, reason)
        notice = Event({"Event-Name": "DISCONNECT", "Content-Type": "text/disconnect-notice",
                        "Disconnect-Reason": reason})
        self._dispatch("DISCONNECT", notice)
        if self.on_disconnect:
            gevent.spawn(self._callback, self.on_disconnect, reason)
        if self.reconnect and (self._supervisor is None or self._supervisor.dead):
            self._supervisor = gevent.spawn(self._reconnect_loop)

    def _reconnect_loop(self, first_delay=None):
        initial, factor, cap = self.backoff
        delay = initial if first_delay is None else first_delay
        attempt = 0
        while not self._stopped:
            gevent.sleep(delay * random.uniform(0.8, 1.2))
            attempt += 1
            try:
                self._open()
            except (ConnectError, OSError) as exc:
                delay = min(max(delay, initial) * factor, cap)
                log.info("ESL connect attempt %d to %s:%s failed (%s); retrying in %.1f s",
                         attempt, self.host, self.port, exc, delay)
                continue
            if first_delay is None:
                self.reconnects += 1
                self.reconnect_reasons[self._loss_reason] += 1
                if self.on_reconnect:
                    gevent.spawn(self._callback, self.on_reconnect)
            return

    def _callback(self, fn, *args):
        try:
            fn(*args)
        except Exception:
            log.exception("ESL callback %s failed", getattr(fn, "__qualname__", fn))

    def stop(self):
        """Say goodbye (``exit``), close, stop reconnecting and stop the handler workers."""
        self._stopped = True
        if self._supervisor is not None:
            self._supervisor.kill(block=False)
        if self.connected:
            try:
                self.send("exit", timeout=1.0)
            except (EslError, NotConnectedError):
                pass
        conn = self._conn
        if conn is not None:
            self._lost(conn, "stopped by the client")
            if conn.reader is not None:
                conn.reader.kill(block=False)
        for worker in self._workers.values():
            worker.stop()
        self._workers.clear()

    # -- frames and events --------------------------------------------------------------------

    def _on_frame(self, frame):
        kind = frame.content_type
        if kind in ("command/reply", "api/response"):
            if self._pending:
                slot = self._pending.popleft()
                if not slot.ready():
                    slot.set(Reply(frame))
            else:
                log.warning("ESL reply with no command waiting for it: %r", frame)
        elif kind in ("text/event-plain", "text/event-json"):
            try:
                event = Event.from_frame(frame)
            except ValueError as exc:
                log.warning("dropping malformed ESL event: %s", exc)
                return
            self._on_event(event)
        elif kind == "log/data":
            self._dispatch("log", Event(dict(frame.headers), frame.body.decode("utf-8", "replace")))
        elif kind == "text/disconnect-notice":
            log.info("ESL disconnect notice from %s:%s (%s)", self.host, self.port,
                     frame.headers.get("Content-Disposition", "disconnect"))
        else:
            log.warning("ignoring ESL frame of type %r", kind)

    def _on_event(self, event):
        self.event_counts[event.name] += 1
        if self.on_event is not None:
            self._observe_event(event)
        if event.name == "BACKGROUND_JOB":
            job = self._jobs.pop(event.get("Job-UUID", ""), None)
            if job is not None:
                job.set(JobResult(event.body))
        self._dispatch(event.key, event)

    def _observe_event(self, event):
        """Tell ``on_event(name, lag)`` how late the event arrived: now minus its
        Event-Date-Timestamp (microseconds), None when it carries none."""
        stamp = event.get("Event-Date-Timestamp", "")
        lag = time.time() - int(stamp) / 1e6 if stamp.isdigit() else None
        self._callback(self.on_event, event.name, lag)

    def _dispatch(self, key, event):
        handlers = self.event_handlers.get(key, []) + self.event_handlers.get("*", [])
        for handler in dict.fromkeys(handlers):
            self._workers[handler].put(event)

    def register_handle(self, name, handler):
        """Call ``handler(event)`` for events named ``name`` (subclass for CUSTOM; ``*`` = all,
        ``DISCONNECT`` = connection lost), in its own worker greenlet."""
        super().register_handle(name, handler)
        if handler not in self._workers:
            self._workers[handler] = Worker(handler)

    def unregister_handle(self, name, handler):
        super().unregister_handle(name, handler)
        if not any(handler in hs for hs in self.event_handlers.values()):
            self._workers.pop(handler).stop()

    # -- commands -----------------------------------------------------------------------------

    def send(self, data, timeout=None):
        """Send one command (str without the final blank line, or complete bytes) and wait for its
        reply (``.data`` = Reply-Text or api body). Raises CommandTimeout, ConnectionLost,
        NotConnectedError, UnsafeValue."""
        slot, raw, started = self._submit(data)
        limit = self.command_timeout if timeout is None else timeout
        try:
            reply = slot.get(timeout=limit)
        except gevent.Timeout:
            first = raw.split(b"\n", 1)[0].decode("utf-8", "replace")
            raise CommandTimeout(f"no reply to {first[:120]!r} within {limit} s") from None
        if isinstance(data, str):
            self._remember(data, reply)
        if self.on_command is not None:
            self._callback(self.on_command, command_name(raw), time.perf_counter() - started)
        return reply

    def send_nowait(self, data):
        """Send one command without waiting for its reply; returns the future of the reply
        (``.get()`` gives the :class:`Reply` or raises ConnectionLost). Replies still come in
        order, so commands sent this way run on FreeSWITCH in the order they were sent. Raises
        NotConnectedError and UnsafeValue at once."""
        slot, raw, started = self._submit(data, wait=False)
        if self.on_command is not None:
            name = command_name(raw)
            slot.rawlink(lambda _: self._callback(self.on_command, name,
                                                  time.perf_counter() - started))
        return slot

    def api_nowait(self, command):
        """``api <command>`` without waiting: the future of its :class:`Reply`."""
        if "\n" in command or "\r" in command:
            raise commands.UnsafeValue(f"an api command is one line: {command!r}")
        return self.send_nowait(f"api {command}")

    def _submit(self, data, wait=True):
        """Queue one command's bytes and its reply slot, in order. A command someone waits for
        is written at once (with any queued before it); the others are written together when
        the sending greenlet yields -- a burst of fire-and-forget commands costs one write."""
        if isinstance(data, str):
            if "\n\n" in data or "\r" in data or data.endswith("\n") or not data:
                raise commands.UnsafeValue(f"a command is one block without blank lines: {data!r}")
            raw = data.encode("utf-8") + b"\n\n"
        else:
            raw = bytes(data)
        commands.check_command(raw.decode("utf-8", "replace"))
        slot = _Slot()
        started = time.perf_counter()
        with self._send_lock:
            conn = self._conn
            if not self.connected or conn is None or conn.lost:
                raise NotConnectedError(f"not connected to ESL at {self.host}:{self.port}")
            self._pending.append(slot)
            conn.outbox.append(raw)
            if wait:
                self._write(conn)
            elif not conn.flushing:
                conn.flushing = True
                gevent.spawn(self._flush, conn)
        return slot, raw, started

    def _flush(self, conn):
        with self._send_lock:
            conn.flushing = False
            self._write(conn)

    def _write(self, conn):
        """Write the connection's queued commands (the caller holds the send lock)."""
        if not conn.outbox or conn.lost:
            return
        data = b"".join(conn.outbox)
        conn.outbox.clear()
        try:
            conn.sock.sendall(data)
        except OSError as exc:
            gevent.spawn(self._lost, conn, f"write failed: {exc}")

    def api(self, command, timeout=None):
        """Run ``api <command>``; returns the response body (``+OK ...``, ``-ERR ...``, data)."""
        if "\n" in command or "\r" in command:
            raise commands.UnsafeValue(f"an api command is one line: {command!r}")
        return self.send(f"api {command}", timeout).data

    def bgapi(self, command, job_uuid=None, timeout=None, wait=True):
        """Run ``bgapi <command>`` with our Job-UUID; returns a :class:`Job` future. With
        ``wait=False`` it returns at once: a refusal (-ERR reply) or a lost connection then
        arrives as the job's exception (CommandError / ConnectionLost)."""
        if "\n" in command or "\r" in command:
            raise commands.UnsafeValue(f"a bgapi command is one line: {command!r}")
        job_uuid = commands.check_uuid(job_uuid or str(uuidlib.uuid4()))
        job = Job(job_uuid, command)
        self._jobs[job_uuid] = job
        if not wait:
            slot = self.send_nowait(f"bgapi {command}\nJob-UUID: {job_uuid}")
            slot.rawlink(lambda done: self._bgapi_refused(job, done))
            return job
        try:
            reply = self.send(f"bgapi {command}\nJob-UUID: {job_uuid}", timeout)
        except BaseException:
            self._jobs.pop(job_uuid, None)
            raise
        if not reply.ok:
            self._jobs.pop(job_uuid, None)
            raise CommandError(f"bgapi {command.split(' ')[0]}: {reply.data}")
        return job

    def _bgapi_refused(self, job, done):
        if job.ready():
            return
        if not done.successful():
            self._jobs.pop(job.job_uuid, None)
            job.set_exception(done.exception)
        elif not done.value.ok:
            self._jobs.pop(job.job_uuid, None)
            job.set_exception(CommandError(f"bgapi {job.command.split(' ')[0]}: {done.value.data}"))
