"""Network faults on the simulator's own ESL connections: the simulator-only API ``sim_esl``.

Theory of operation
-------------------
A test of acd's resilience needs the faults a real network makes, without a proxy in between:

* ``sim_esl freeze <which>``: the connections go *half-open*. The socket stays open and the
  client's writes are still accepted by the kernel, but the simulator acts on nothing it reads
  and writes nothing more (no event, no reply) -- a stuck listener thread, a firewall that
  forgot the flow. Only an application-level watchdog notices (acd.esl.watchdog).
* ``sim_esl drop <which>``: the connections are closed (RST/FIN), as a network cut would.
* ``sim_esl thaw``: every frozen connection works again (what was read meanwhile is lost).
* ``sim_esl show``: one line per connection: ``<kind> <state>``.

``<which>``: ``events`` (connections that subscribed to events: acd's event connection),
``commands`` (logged in, not subscribed: acd's command connections) or ``all``. The connection
that sends the command is never touched, so a test drives the faults from its own connection.
Calls are not touched either: FreeSWITCH lives on, only the connections suffer.
"""

import gevent

from acd.sim import server

KINDS = ("events", "commands", "all")


def api_sim_esl(sw, arg):
    words = arg.split()
    action = words[0] if words else ""
    if action == "show":
        return "".join(f"{_kind(conn)} {'frozen' if conn.frozen else 'live'}\n"
                       for conn in _connections(sw, "all"))
    if action == "thaw":
        thawed = [conn for conn in _connections(sw, "all") if conn.frozen]
        for conn in thawed:
            conn.frozen = False
        return f"+OK {len(thawed)} thawed\n"
    if action not in ("freeze", "drop") or len(words) != 2 or words[1] not in KINDS:
        return "-USAGE: freeze|drop events|commands|all, thaw, show\n"
    chosen = _connections(sw, words[1])
    for conn in chosen:
        if action == "freeze":
            conn.frozen = True
        else:
            conn.running = False
            server.close(conn.sock)
    return f"+OK {len(chosen)} {'frozen' if action == 'freeze' else 'dropped'}\n"


def _connections(sw, which):
    """The logged-in ESL connections of ``which`` kind, except the one asking."""
    asking = gevent.getcurrent()
    return [conn for conn in sw.bus.listeners()
            if isinstance(conn, server.Connection) and conn.authed and conn.greenlet is not asking
            and which in ("all", _kind(conn))]


def _kind(conn):
    return "events" if conn.listening else "commands"
