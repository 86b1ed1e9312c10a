"""A third, minimal ESL client for tests: blocking stdlib socket, frames read by Content-Length.

Independent on purpose: it imports neither acd.esl (the daemon's client) nor the simulator's
parser, so a protocol bug shared by those two cannot hide behind the tests. Every frame keeps
its raw bytes next to the parsed headers.
"""

import socket
import time
import urllib.parse


class Frame:
    """One frame: ``raw`` bytes as received, ``headers`` [(name, value)], ``body`` bytes."""

    def __init__(self, raw, headers, body):
        self.raw = raw
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    @property
    def content_type(self):
        return self.header("Content-Type")

    @property
    def is_event(self):
        return (self.content_type or "").startswith("text/event-")

    def event(self):
        return Event(self.body)

    def __repr__(self):
        return "Frame(%r)" % self.raw[:120]


class Event:
    """An event-plain body: header names kept in order, values URL-decoded one by one."""

    def __init__(self, body):
        head, _, rest = body.partition(b"\n\n")
        self.raw_headers = []
        for line in head.decode("utf-8").split("\n"):
            name, _, value = line.partition(": ")
            self.raw_headers.append((name, value))
        self.headers = [(n, urllib.parse.unquote(v)) for n, v in self.raw_headers]
        self.body = rest if self.raw_headers and self.raw_headers[-1][0] == "Content-Length" \
            else b""

    @property
    def names(self):
        return [name for name, _ in self.headers]

    def get(self, name, default=None):
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def get_all(self, name):
        return [value for key, value in self.headers if key == name]

    @property
    def name(self):
        """The event's name. An event can carry Event-Name twice (a broadcast's
        PRIVATE_COMMAND starts with the COMMAND it came from): the last one wins."""
        names = self.get_all("Event-Name")
        return names[-1] if names else None

    def __repr__(self):
        return "Event(%s %s)" % (self.name, self.get("Unique-ID", ""))


class RawESL:
    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.events = []     # events read while waiting for something else
        self.frames = []     # every frame, in order, for wire-level checks

    # --- framing ---------------------------------------------------------------------------

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from the server")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no data from the server") from None
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def read_frame(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\n\n" not in self.buf:
            self._fill(deadline)
        head, _, rest = self.buf.partition(b"\n\n")
        headers = []
        for line in head.decode("utf-8").split("\n"):
            name, _, value = line.partition(": ")
            headers.append((name, value))
        length = int(dict(headers).get("Content-Length", "0"))
        self.buf = rest
        while len(self.buf) < length:
            self._fill(deadline)
        body, self.buf = self.buf[:length], self.buf[length:]
        frame = Frame(head + b"\n\n" + body, headers, body)
        self.frames.append(frame)
        return frame

    def read_reply(self, timeout=None):
        """The next frame that is not an event (events are kept in ``self.events``)."""
        while True:
            frame = self.read_frame(timeout)
            if frame.is_event:
                self.events.append(frame)
            else:
                return frame

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode("utf-8"))

    # --- commands --------------------------------------------------------------------------

    def command(self, line, headers=(), body=None, timeout=None):
        text = line + "\n" + "".join("%s: %s\n" % (k, v) for k, v in headers)
        data = text.encode("utf-8")
        if body is not None:
            data += b"Content-Length: %d\n\n" % len(body) + body
        else:
            data += b"\n"
        self.send(data)
        return self.read_reply(timeout)

    def auth(self, password="ClueCon"):
        greeting = self.read_frame()
        assert greeting.content_type == "auth/request", greeting
        return self.command("auth " + password)

    def api(self, line, timeout=None):
        reply = self.command("api " + line, timeout=timeout)
        assert reply.content_type == "api/response", reply
        return reply.body

    def bgapi(self, line, job_uuid=None):
        headers = [("Job-UUID", job_uuid)] if job_uuid else []
        reply = self.command("bgapi " + line, headers)
        return reply.header("Job-UUID")

    def sendmsg(self, uuid, app, arg=None, event_uuid=None, extra=()):
        headers = [("call-command", "execute"), ("execute-app-name", app)]
        if arg is not None:
            headers.append(("execute-app-arg", arg))
        if event_uuid:
            headers.append(("Event-UUID", event_uuid))
        return self.command("sendmsg " + uuid, headers + list(extra))

    # --- events ----------------------------------------------------------------------------

    def next_event(self, timeout=None):
        if self.events:
            return self.events.pop(0).event()
        while True:
            frame = self.read_frame(timeout)
            if frame.is_event:
                return frame.event()

    def wait_event(self, match, timeout=10.0):
        """The first unconsumed event (buffered or new) for which ``match(event)`` is true.
        Other events stay buffered; ``history()`` has every event ever received."""
        deadline = time.monotonic() + timeout
        for i, frame in enumerate(self.events):
            event = frame.event()
            if match(event):
                del self.events[i]
                return event
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no matching event within %.1f s" % timeout)
            frame = self.read_frame(remaining)
            if not frame.is_event:
                raise AssertionError("unexpected frame %r" % frame)
            event = frame.event()
            if match(event):
                return event
            self.events.append(frame)

    def history(self):
        """Every event received so far, in order."""
        return [frame.event() for frame in self.frames if frame.is_event]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def connect(sim, password=None, events=None):
    """Connect to a SimProcess, authenticate, optionally subscribe (``events='ALL'``)."""
    client = RawESL(sim.host, sim.port)
    reply = client.auth(password or sim.password or "ClueCon")
    assert reply.header("Reply-Text") == "+OK accepted", reply
    if events:
        reply = client.command("event plain " + events)
        assert reply.header("Reply-Text").startswith("+OK"), reply
    return client


def is_event(name, headers=None, **values):
    """A matcher: event name plus header values (``Unique_ID='x'`` means Unique-ID;
    names with underscores of their own go in ``headers``)."""
    wanted = {key.replace("_", "-"): value for key, value in values.items()}
    wanted.update(headers or {})

    def match(event):
        return event.name == name and all(event.get(k) == v for k, v in wanted.items())
    return match


def read_frames(data):
    """Cut a recorded byte stream (a capture's ``.recv``) into Frames, by Content-Length."""
    frames, rest = [], data
    while rest:
        head, sep, rest = rest.partition(b"\n\n")
        if not sep:
            raise ValueError("truncated frame header")
        headers = []
        for line in head.decode("utf-8").split("\n"):
            name, _, value = line.partition(": ")
            headers.append((name, value))
        length = int(dict(headers).get("Content-Length", "0"))
        body, rest = rest[:length], rest[length:]
        frames.append(Frame(head + b"\n\n" + body, headers, body))
    return frames
