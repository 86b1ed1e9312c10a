"""One TCP connection of the ESL client (acd.esl.client): its socket, parser and state, and
the handshake (auth/request -> auth -> +OK accepted). A new one is made on each (re)connect."""

import socket
import time

from acd.esl.errors import AuthError, ConnectError
from acd.esl.protocol import FrameParser, ProtocolError, Reply


class Connection:
    """One TCP connection's state; a new one is made on each (re)connect."""

    def __init__(self, sock):
        self.sock = sock
        self.parser = FrameParser()
        self.reader = None
        self.watchdog = None
        self.received_at = time.monotonic()   # the last bytes read (the watchdog's clock)
        self.lost = False
        self.early = []  # frames that came with the handshake's last reply
        self.outbox = []  # commands sent without waiting, written together (one syscall)
        self.flushing = False

    def handshake(self, host, port, password, timeout):
        """auth/request -> auth -> +OK accepted, synchronously, within the connect timeout."""
        frame = self._read_frame(host, port, timeout)
        if frame.content_type == "text/rude-rejection":
            raise ConnectError(f"ESL at {host}:{port} rejected us: "
                               f"{frame.body.decode(errors='replace').strip()}")
        if frame.content_type != "auth/request":
            raise ConnectError(f"expected auth/request from {host}:{port}, "
                               f"got {frame.content_type!r}")
        self.sock.sendall(f"auth {password}\n\n".encode())
        reply = Reply(self._read_frame(host, port, timeout))
        if reply.data != "+OK accepted":
            raise AuthError(f"ESL at {host}:{port} refused the password: {reply.data}")

    def _read_frame(self, host, port, timeout):
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectError(f"{host}:{port} closed the connection "
                                       "during the handshake")
                self.early += self.parser.feed(data)
                if self.early:
                    return self.early.pop(0)
        except (OSError, ProtocolError) as exc:
            raise ConnectError(f"handshake with {host}:{port} failed: {exc}") from None


def tune_socket(sock):
    """No Nagle delay; TCP keepalive (catches a vanished peer, not a frozen one)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
