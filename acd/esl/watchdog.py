"""The application-level watchdog: an ESL connection that went silent is declared dead.

Theory of operation
-------------------
A TCP connection can stay "up" while nothing passes: FreeSWITCH's listener thread stuck, a
firewall or NAT that forgot the flow, a peer frozen with its kernel still acknowledging. TCP
keepalive does not see the last two, and a socket that never closes never tells the reader
anything. FreeSWITCH, though, fires HEARTBEAT every 20 s (``event-heartbeat-interval``) and acd
subscribes to it, so the event connection is never quiet for long on a live switch:

* **Event connection**: no bytes of any kind (event, reply) for ``timeout`` seconds -- two
  heartbeats plus a margin, ``freeswitch.heartbeat-timeout`` -- means dead
  (reason ``heartbeat-timeout``).
* **Command connection**: it never subscribes, so silence there is normal; a frozen one shows
  as a command that never answers. The oldest command still waiting for its reply after
  ``timeout`` seconds means dead (reason ``command-timeout``). A single command's own
  ``command-timeout`` fails only that command; this one ends the connection.

Declared dead, the connection is closed and handled as any lost connection: what waits fails
with ConnectionLost, the client reconnects with backoff, and after the event connection's
reconnect the daemon resynchronises (acd.daemon.Daemon.resync). When the *event* connection is
declared dead, acd.esl.switch reconnects the command connections to the same switch at once as
well: they are almost always frozen too, and finding that out one command (and one whole
timeout) at a time held the daemon's resync up for 4 x 6 s in ``make soak``. :func:`verdict` decides, from
times handed to it; :func:`watch` is the greenlet that asks it.
"""

import time

import gevent

#: Why a connection was reconnected (the ``reason`` of acd_esl_reconnects_total).
CONNECTION_LOST = "connection-lost"
HEARTBEAT_TIMEOUT = "heartbeat-timeout"
COMMAND_TIMEOUT = "command-timeout"
REASONS = (CONNECTION_LOST, HEARTBEAT_TIMEOUT, COMMAND_TIMEOUT)


def verdict(now, timeout, *, events, received_at, oldest_pending):
    """``(reason, explanation)`` when the connection is dead at ``now``, else None.
    ``received_at``: when it last read anything; ``oldest_pending``: when the oldest command
    that still waits for its reply was sent (None: none waits)."""
    if events and now - received_at > timeout:
        return HEARTBEAT_TIMEOUT, (f"nothing received for {now - received_at:.1f} s "
                                   f"(heartbeat timeout {timeout:g} s)")
    if oldest_pending is not None and now - oldest_pending > timeout:
        return COMMAND_TIMEOUT, (f"a command unanswered for {now - oldest_pending:.1f} s "
                                 f"(heartbeat timeout {timeout:g} s)")
    return None


def watch(conn, timeout, events, oldest_pending, declare_dead, clock=time.monotonic):
    """Check ``conn`` a few times per ``timeout`` until it is lost; on a verdict call
    ``declare_dead(conn, reason, explanation)`` and stop."""
    interval = max(0.05, min(timeout / 4.0, 1.0))
    while not conn.lost:
        gevent.sleep(interval)
        if conn.lost:
            return
        found = verdict(clock(), timeout, events=events, received_at=conn.received_at,
                        oldest_pending=oldest_pending())
        if found is not None:
            declare_dead(conn, *found)
            return
