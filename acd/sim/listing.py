"""Reports about the switch: ``show channels/calls``, ``status``, ``version``, ``uuid_dump``,
and the HEARTBEAT headers. Texts and JSON shapes follow FreeSWITCH 1.10.12 byte for byte
(captures show_channels, command_replies, handshake, heartbeat).
"""

import json

from acd.sim import users, wire
from acd.sim.event import Event, local_stamp

VERSION = "1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit"
VERSION_TEXT = ("FreeSWITCH Version %s (git a88d069 2024-08-02 21:02:27Z 64bit)\n" % VERSION)
BUILD_TEXT = "1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit"
MAX_SESSIONS = 1000
SESSIONS_PER_SEC = 30
EMPTY_JSON = '{"row_count": 0}\n'

CHANNEL_FIELDS = (
    "uuid direction created created_epoch name state cid_name cid_num ip_addr dest application "
    "application_data dialplan context read_codec read_rate read_bit_rate write_codec write_rate "
    "write_bit_rate secure hostname presence_id presence_data accountcode callstate callee_name "
    "callee_num callee_direction call_uuid sent_callee_name sent_callee_num initial_cid_name "
    "initial_cid_num initial_ip_addr initial_dest initial_dialplan initial_context").split()
_CALL_FIELDS = ("uuid direction created created_epoch name state cid_name cid_num ip_addr dest "
                "presence_id presence_data accountcode callstate callee_name callee_num "
                "callee_direction call_uuid hostname sent_callee_name sent_callee_num").split()
_B_FIELDS = ("uuid direction created created_epoch name state cid_name cid_num ip_addr dest "
             "presence_id presence_data accountcode callstate callee_name callee_num "
             "callee_direction sent_callee_name sent_callee_num").split()


def uptime_text(seconds):
    """``0 years, 0 days, 1 hour, 1 minute, 22 seconds, 226 milliseconds, 832 microseconds``."""
    micros = int(seconds * 1000000)
    parts = []
    for unit, size in (("year", 365 * 86400 * 1000000), ("day", 86400 * 1000000),
                       ("hour", 3600 * 1000000), ("minute", 60 * 1000000),
                       ("second", 1000000), ("millisecond", 1000), ("microsecond", 1)):
        count, micros = divmod(micros, size)
        parts.append("%d %s%s" % (count, unit, "" if count == 1 else "s"))
    return ", ".join(parts)


def status_text(sw):
    count = len(sw.channels)
    return ("UP %s\nFreeSWITCH (Version %s) is ready\n%d session(s) since startup\n"
            "%d session(s) - peak %d, last 5min %d \n"
            "0 session(s) per Sec out of max %d, peak 0, last 5min 0 \n"
            "%d session(s) max\nmin idle cpu 0.00/99.00\nCurrent Stack Size/Max 240K/8192K\n"
            % (uptime_text(sw.clock() - sw.started), BUILD_TEXT, sw.sessions_since_startup,
               count, sw.peak_sessions, sw.peak_sessions, SESSIONS_PER_SEC, MAX_SESSIONS))


def heartbeat_headers(sw):
    up = sw.clock() - sw.started
    return [("Event-Info", "System Ready"), ("Up-Time", uptime_text(up)),
            ("FreeSWITCH-Version", VERSION), ("Uptime-msec", str(int(up * 1000))),
            ("Session-Count", str(len(sw.channels))), ("Max-Sessions", str(MAX_SESSIONS)),
            ("Session-Per-Sec", str(SESSIONS_PER_SEC)), ("Session-Per-Sec-Last", "0"),
            ("Session-Per-Sec-Max", "0"), ("Session-Per-Sec-FiveMin", "0"),
            ("Session-Since-Startup", str(sw.sessions_since_startup)),
            ("Session-Peak-Max", str(sw.peak_sessions)),
            ("Session-Peak-FiveMin", str(sw.peak_sessions)), ("Idle-CPU", "99.000000")]


def channel_row(sw, ch):
    """A ``show channels`` row: the core's channel list, updated at CREATE, EXECUTE and
    CALL_UPDATE (so a profile change without CALL_UPDATE does not show)."""
    p = ch.listed_profile or ch.profile
    first = ch.first_profile or p
    seconds = ch.created_us // 1000000
    app, app_data = ch.application
    read, write = ch.read_codec, ch.write_codec
    sent = ch.partner.profile if ch.other_type == "originator" and ch.partner else None
    return {
        "uuid": ch.uuid, "direction": ch.direction, "created": local_stamp(seconds),
        "created_epoch": str(seconds), "name": ch.name, "state": ch.running,
        "cid_name": p.cid_name, "cid_num": p.cid_number, "ip_addr": first.network_addr,
        "dest": p.destination, "application": app, "application_data": app_data,
        "dialplan": p.dialplan, "context": p.context,
        "read_codec": read.name if read else "", "read_rate": read.rate if read else "",
        "read_bit_rate": read.bit_rate if read else "",
        "write_codec": write.name if write else "", "write_rate": write.rate if write else "",
        "write_bit_rate": write.bit_rate if write else "", "secure": "",
        "hostname": sw.identity.hostname, "presence_id": ch.presence_id, "presence_data": "",
        "accountcode": ch.get_var("accountcode", ""), "callstate": ch.callstate,
        "callee_name": p.callee_name, "callee_num": p.callee_number,
        "callee_direction": _callee_direction(ch), "call_uuid": ch.call_uuid,
        "sent_callee_name": sent.cid_name if sent else "",
        "sent_callee_num": sent.cid_number if sent else "",
        "initial_cid_name": first.cid_name, "initial_cid_num": first.cid_number,
        "initial_ip_addr": "", "initial_dest": first.destination,
        "initial_dialplan": first.dialplan, "initial_context": first.context,
    }


def _callee_direction(ch):
    if ch.other_type == "originator":
        return "SEND"
    return "RECV" if ch.get_var("channel_cid_flipped") else ""


def _live(sw):
    return [ch for ch in sw.channels.values() if not ch.destroyed and ch.profile is not None]


def show(sw, arg):
    """``show channels|calls|bridged_calls|registrations [count] [as json]``."""
    words = arg.split()
    as_json = len(words) >= 3 and words[-2] == "as" and words[-1] == "json"
    what = words[0] if words else ""
    rows = _rows(sw, what)
    if rows is None:
        return "-USAGE: " + "show <calls|channels|bridged_calls|registrations> [as json]\n"
    if "count" in words[1:]:
        return "\n%d total.\n" % len(rows)
    if as_json:
        return _json_rows(rows)
    return _text_rows(rows, what)


def _rows(sw, what):
    if what == "channels":
        return [channel_row(sw, ch) for ch in _live(sw)]
    if what in ("calls", "bridged_calls"):
        return _call_rows(sw, bridged_only=what == "bridged_calls")
    if what == "registrations":
        return users.registrations(sw)
    return None


def _call_rows(sw, bridged_only):
    rows = []
    for ch in _live(sw):
        if ch.other_type == "originator":
            continue  # shown with its A leg
        partner = ch.partner if ch.other_type == "originatee" else None
        if bridged_only and partner is None:
            continue
        full = channel_row(sw, ch)
        row = {name: full[name] for name in _CALL_FIELDS}
        other = channel_row(sw, partner) if partner is not None else {}
        for name in _B_FIELDS:
            row["b_" + name] = other.get(name, "")
        row["call_created_epoch"] = str(ch.bridged_us // 1000000) if partner else ""
        rows.append(row)
    return rows


def _json_rows(rows):
    if not rows:
        return EMPTY_JSON
    return json.dumps({"row_count": len(rows), "rows": rows}, ensure_ascii=False,
                      separators=(",", ":"))


def _text_rows(rows, what):
    if not rows:
        return "\n0 total.\n"
    names = list(rows[0])
    lines = [",".join(names)] + [",".join(row[n] for n in names) for row in rows]
    return "\n".join(lines) + "\n\n%d total.\n" % len(rows)


def dump(sw, ch, fmt):
    """``uuid_dump <uuid> [json]``: the channel as a CHANNEL_DATA event."""
    std = sw.identity.standard_headers("CHANNEL_DATA")
    event = Event("CHANNEL_DATA", ch.event_headers(std, "CHANNEL_DATA"))
    if fmt == "json":
        return wire.serialize_json(event.headers).decode("utf-8")
    return wire.serialize_plain(event.headers).decode("utf-8")
