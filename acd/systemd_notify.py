"""systemd's service notifications for ``acd run`` (``Type=notify``, ``WatchdogSec=``).

Theory of operation
-------------------
systemd tells a ``Type=notify`` service where to report in ``$NOTIFY_SOCKET``: a unix datagram
socket, in the abstract namespace when it starts with ``@``. Each report is one datagram of
``KEY=VALUE`` lines (sd_notify(3)). acd sends:

* ``READY=1`` once: after the daemon's first complete resync, i.e. FreeSWITCH's event socket
  answered ``show channels``, Redis took the agents (``sync_agents``) and the calls were adopted
  (``Daemon.ready``). Until then ``systemctl start acd`` waits, so a unit ordered ``After=acd``
  starts when acd really distributes calls.
* ``WATCHDOG=1`` every ``$WATCHDOG_USEC / 2``, sent from the daemon's ONE loop (a tick hook,
  acd/daemon.py), never from a thread or greenlet of its own: a loop that is stuck (a command it
  waits on, a bug spinning in a handler) stops the pings and systemd restarts acd after
  ``WatchdogSec``. ``$WATCHDOG_PID``, when set, must be ours.
* ``STATUS=...`` when what ``systemctl status acd`` should say changes (connecting, syncing,
  ready with the number of calls), ``STOPPING=1`` on SIGTERM/SIGINT, and ``RELOADING=1`` +
  ``MONOTONIC_USEC`` then ``READY=1`` around a reload (:meth:`Systemd.reloading`,
  :meth:`Systemd.reloaded`, for ``acd reload``/SIGHUP).

Without ``$NOTIFY_SOCKET`` (not under systemd) every call does nothing. The sender is these few
lines of the standard library rather than a package: ``sdnotify`` on PyPI is unmaintained, and
``systemd-python`` needs libsystemd's headers and a compiler to install; the protocol is one
datagram.
"""

import logging
import os
import socket

from acd import clock

log = logging.getLogger("acd.systemd")


class Systemd:
    def __init__(self, env=None, monotonic=clock.monotonic):
        env = os.environ if env is None else env
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval = _watchdog_interval(env)
        self.monotonic = monotonic
        self._socket = None
        self._last_ping = None
        self._status = None
        self._failing = False
        self.ready_sent = False

    @property
    def enabled(self):
        return self.address is not None

    def notify(self, *lines):
        """Send ``KEY=VALUE`` lines as one datagram; False when not sent (never raises)."""
        if self.address is None:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.setblocking(False)   # a full socket must never stall the loop
            self._socket.sendto("\n".join(lines).encode(), self.address)
        except OSError as exc:
            if not self._failing:                 # said once per failing stretch, not per tick
                log.warning("systemd notification %s not sent: %s", lines[0].split("=")[0], exc)
            self._failing = True
            return False
        self._failing = False
        return True

    # -- from the daemon's loop ---------------------------------------------------------------

    def tick(self, daemon):
        """Called by the daemon's loop on every tick: readiness, status, the watchdog."""
        if self.address is None:
            return
        status = _status(daemon)
        if not self.ready_sent and daemon.ready.is_set():
            self.ready_sent = self.notify("READY=1", f"STATUS={status}")
            self._status = status
        elif status != self._status:
            self._status = status if self.notify(f"STATUS={status}") else self._status
        now = self.monotonic()
        if self.watchdog_interval and (self._last_ping is None
                                       or now - self._last_ping >= self.watchdog_interval):
            self._last_ping = now
            self.notify("WATCHDOG=1")

    def stopping(self):
        self.notify("STOPPING=1", "STATUS=stopping")

    def reloading(self):
        """Before a reload (``acd reload``/SIGHUP): systemd shows ``reloading``."""
        usec = int(clock.monotonic() * 1_000_000)
        self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading acd.yaml")

    def reloaded(self, problem=None):
        """After a reload, applied or refused (``problem``): ready again."""
        self.notify("READY=1", "STATUS=" + (f"reload refused: {problem}" if problem
                                            else "reloaded"))
        self._status = None

    def close(self):
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _address(value):
    """The socket address of ``$NOTIFY_SOCKET`` (None: unset or not a unix socket path)."""
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # unset, or a vsock address (not for a daemon on this host)


def _watchdog_interval(env):
    """Seconds between WATCHDOG=1 (half of $WATCHDOG_USEC), or None without a watchdog."""
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
        pid = int(env.get("WATCHDOG_PID", "0") or 0)
    except ValueError:
        return None
    if usec <= 0 or (pid and pid != os.getpid()):
        return None
    return usec / 2_000_000


def _status(daemon):
    fs = daemon.config.freeswitch
    if not daemon.esl.connected:
        return f"connecting to FreeSWITCH at {fs.host}:{fs.port}"
    if not daemon.ready.is_set():
        return "syncing agents and calls with Redis and FreeSWITCH"
    calls = len(daemon.router.calls)
    return f"ready: FreeSWITCH {fs.host}:{fs.port}, {calls} call{'s' * (calls != 1)} handled here"
