"""A scripted ESL server for client tests: it plays FreeSWITCH's side from a script.

Unlike the simulator it does nothing by itself beyond the handshake and minimal replies: a test
decides byte for byte what the client receives (``push``), how commands are answered
(``responder``) and when the TCP connection dies (``drop``). It runs in-process on gevent.
"""

import gevent
import gevent.event
import gevent.server
import gevent.socket

DISCONNECT_NOTICE = (b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n"
                     b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")

STANDARD_HEADERS = (
    "Core-UUID: 883152ee-2326-41fa-9175-ba95716ca8ab\nFreeSWITCH-Hostname: fs1.example.net\n"
    "FreeSWITCH-Switchname: fs1.example.net\nFreeSWITCH-IPv4: 192.0.2.2\n"
    "FreeSWITCH-IPv6: fd00%3A%3A2\nEvent-Date-Local: 2026-11-27%2007%3A06%3A48\n"
    "Event-Date-GMT: Fri,%2027%20Nov%202026%2007%3A06%3A48%20GMT\n"
    "Event-Date-Timestamp: 1795763208760111\nEvent-Calling-File: switch_ivr.c\n"
    "Event-Calling-Function: switch_ivr_park\nEvent-Calling-Line-Number: 1002\n"
    "Event-Sequence: 713312\n")


def reply(text, **extra):
    lines = "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in extra.items())
    return f"Content-Type: command/reply\nReply-Text: {text}\n{lines}\n".encode()


def api_response(body):
    body = body.encode() if isinstance(body, str) else body
    return b"Content-Type: api/response\nContent-Length: %d\n\n%s" % (len(body), body)


def event_frame(plain_body, content_type="text/event-plain"):
    """Wrap an event-plain (or json) body into an event frame, Content-Length first."""
    body = plain_body.encode() if isinstance(plain_body, str) else plain_body
    return b"Content-Length: %d\nContent-Type: %s\n\n%s" % (len(body), content_type.encode(), body)


def plain_event(name, headers="", body=None):
    """An event-plain body: ``headers`` are already-encoded ``Name: value`` lines."""
    text = f"Event-Name: {name}\n{STANDARD_HEADERS}{headers}"
    if body is not None:
        raw = body.encode()
        return text.encode() + b"Content-Length: %d\n\n" % len(raw) + raw
    return (text + "\n").encode()


def background_job(job_uuid, result, command="originate", arg="user/1001%20%26park()"):
    return event_frame(plain_event(
        "BACKGROUND_JOB",
        f"Job-UUID: {job_uuid}\nJob-Command: {command}\nJob-Command-Arg: {arg}\n", result))


class ScriptedServer:
    """Accepts ESL clients on 127.0.0.1:<free port>; records what they send."""

    def __init__(self, password="ClueCon"):
        self.password = password
        self.server = gevent.server.StreamServer(("127.0.0.1", 0), self._handle)
        self.socks = []
        self.commands = []           # every command block received, decoded, in order
        self.responder = None        # fn(command) -> bytes | None (None: default reply)
        self.read_delay = 0.0        # seconds to wait before reading commands (slow reader)
        self.connected = gevent.event.Event()
        self.command_seen = gevent.event.Event()
        self.port = None

    def start(self):
        self.server.start()
        self.port = self.server.server_port
        return self

    def stop(self):
        self.drop()
        self.server.stop(timeout=1)

    def push(self, data):
        """Send raw bytes to every connected client."""
        for sock in list(self.socks):
            sock.sendall(data)

    def drop(self):
        """Close every client connection without a disconnect notice (a plain TCP close)."""
        for sock in list(self.socks):
            try:
                sock.close()
            except OSError:
                pass
        self.socks.clear()
        self.connected.clear()

    def wait_command(self, prefix, timeout=5.0):
        """Wait until a command starting with ``prefix`` arrived; returns it."""
        with gevent.Timeout(timeout, AssertionError(f"no command {prefix!r}: {self.commands}")):
            while True:
                for cmd in self.commands:
                    if cmd.startswith(prefix):
                        return cmd
                self.command_seen.clear()
                self.command_seen.wait()

    def _handle(self, sock, addr):
        self.socks.append(sock)
        sock.sendall(b"Content-Type: auth/request\n\n")
        buf = bytearray()
        scanned = 0
        authed = False
        if self.read_delay:
            gevent.sleep(self.read_delay)
        while True:
            try:
                data = sock.recv(1 << 20)
            except OSError:
                return
            if not data:
                return
            buf += data
            while True:
                end = buf.find(b"\n\n", max(0, scanned - 1))
                if end < 0:
                    scanned = len(buf)
                    break
                head = bytes(buf[:end])
                length = 0
                for line in head.split(b"\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if len(buf) - end - 2 < length:
                    scanned = end
                    break
                block = bytes(buf[:end + 2 + length])
                del buf[:end + 2 + length]
                scanned = 0
                if not self._answer(sock, block.decode("utf-8", "replace"), authed):
                    return
                authed = True

    def _answer(self, sock, command, authed):
        """Answer one command block; returns False when the connection was closed."""
        if not authed:
            if command.startswith(f"auth {self.password}\n"):
                sock.sendall(reply("+OK accepted"))
                self.connected.set()
                return True
            sock.sendall(reply("-ERR invalid") + DISCONNECT_NOTICE)
            sock.close()
            return False
        self.commands.append(command)
        self.command_seen.set()
        answer = self.responder(command) if self.responder else None
        if answer is None:
            answer = self.default_reply(command)
        if answer:
            sock.sendall(answer)
        return True

    @staticmethod
    def default_reply(command):
        first = command.split("\n", 1)[0]
        if first.startswith("event "):
            return reply("+OK event listener enabled " + first.split()[1])
        if first.startswith("filter delete"):
            return reply("+OK filter deleted.")
        if first.startswith("filter "):
            _, header, value = first.split(" ", 2)
            return reply(f"+OK filter added. [{header}]=[{value}]")
        if first.startswith("bgapi "):
            job = [l for l in command.split("\n") if l.startswith("Job-UUID: ")]
            uuid = job[0].split(": ", 1)[1] if job else "00000000-0000-0000-0000-000000000000"
            return reply(f"+OK Job-UUID: {uuid}", Job_UUID=uuid)
        if first.startswith("api "):
            return api_response("+OK\n")
        if first == "exit":
            return reply("+OK bye") + DISCONNECT_NOTICE
        return reply("+OK")
