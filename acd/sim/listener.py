"""The simulator as a service: the switch, its ESL listener (server.Connection per client)
and its heartbeat -- HEARTBEAT and RE_SCHEDULE every ``heartbeat`` seconds, as FreeSWITCH's
``event-heartbeat-interval`` (20 s; a test makes it short to exercise acd's watchdog)."""

import logging
import signal
import socket
import sys

import gevent
import gevent.event
import gevent.server

from acd.sim import listing
from acd.sim.server import Connection
from acd.sim.switch import Switch

log = logging.getLogger("acd.sim.server")


class SimServer:
    """The switch, its ESL listener and its heartbeat."""

    def __init__(self, host, port, config):
        self.config = config
        self.switch = Switch(config)
        self.server = gevent.server.StreamServer((host, port), self._handle)
        self.heartbeat = None

    @property
    def address(self):
        host, port = self.server.address[:2]
        return host, port

    def start(self):
        self.server.start()
        self.heartbeat = gevent.spawn(self._beat)
        return self

    def stop(self):
        if self.heartbeat is not None:
            self.heartbeat.kill(block=False)
        self.server.stop(timeout=1)

    def _handle(self, sock, address):
        # As mod_event_socket (SWITCH_SO_TCP_NODELAY on every listener socket): without it,
        # Nagle's algorithm holds a small frame written behind an unacknowledged one until the
        # client's delayed ACK (~40 ms on Linux) -- every reply and event would be late.
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        Connection(sock, self.switch, self.config.password).serve()

    def _beat(self):
        sw = self.switch
        while True:
            gevent.sleep(self.config.heartbeat)
            sw.fire("HEARTBEAT", lambda: listing.heartbeat_headers(sw))
            next_run = int(sw.clock() + self.config.heartbeat)
            sw.fire("RE_SCHEDULE", lambda: [
                ("Task-ID", "1"), ("Task-Desc", "heartbeat"), ("Task-Group", "core"),
                ("Task-Runtime", str(next_run))])


def serve_forever(host, port, config):
    """Run the simulator until SIGTERM/SIGINT; prints ``listening on HOST:PORT`` when ready."""
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sim = SimServer(host, port, config).start()
    stopped = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopped.set)
    bound_host, bound_port = sim.address
    log.info("simulator up (config %s)", config.source)
    sys.stdout.write("listening on %s:%d\n" % (bound_host, bound_port))
    sys.stdout.flush()
    stopped.wait()
    log.info("stopping")
    sim.stop()
    return 0
