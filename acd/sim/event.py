"""Events as FreeSWITCH fires them: a header list (order matters), an optional body.

Theory of operation: an ``Event`` is built once, with its 13 standard leading headers made by
``Identity.standard_headers`` (name, core uuid, host, dates, the C file/function/line that fires
it in real FreeSWITCH, sequence), then its own headers. It is serialised lazily, once per format
(plain/json/xml), only when a connection that wants it writes it; every connection shares the
same bytes. A channel event comes with its plain-format header lines already joined (the
channel keeps its variables' and caller profiles' lines), so ``plain`` only adds the ending.
"""

import email.utils
import operator
import socket
import time
import uuid

from acd.sim import wire

#: Where real FreeSWITCH 1.10.12 fires each event (Event-Calling-File/-Function/-Line-Number),
#: as seen in the captures. Keys are event names or variant keys ("CODEC_WRITE", ...).
CALLING = {
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", 626),
    "CHANNEL_ORIGINATE": ("switch_core_state_machine.c", "switch_core_session_run", 632),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", 2408),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", 301),
    "CHANNEL_OUTGOING": ("switch_core_session.c", "switch_core_session_outgoing_channel", 768),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3846),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3505),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered",
                               3560),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2944),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2967),
    "BRIDGE_EXECUTE_A": ("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1236),
    "BRIDGE_EXECUTE_B": ("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1243),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", 1213),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3445),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c",
                                "switch_core_session_reporting_state", 943),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", 1584),
    "CALL_UPDATE": ("switch_channel.c", "switch_channel_flip_cid", 3277),
    "CALL_UPDATE_SOFIA": ("mod_sofia.c", "sofia_receive_message", 2100),
    "CODEC": ("switch_core_codec.c", "switch_core_session_set_read_codec", 279),
    "CODEC_REAL_READ": ("switch_core_codec.c", "switch_core_session_set_real_read_codec", 168),
    "CODEC_WRITE": ("switch_core_codec.c", "switch_core_session_set_write_codec", 450),
    "PRESENCE_IN": ("switch_channel.c", "switch_channel_perform_presence", 805),
    "API": ("switch_loadable_module.c", "switch_api_execute", 2954),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", 1572),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", 677),
    "RECV_INFO": ("sofia.c", "create_info_event", 9721),
    "CHANNEL_HOLD": ("switch_ivr.c", "switch_ivr_hold", 1558),
    "CHANNEL_UNHOLD": ("switch_ivr.c", "switch_ivr_unhold", 1638),
    "COMMAND_BROADCAST_BLEG": ("switch_ivr_async.c", "switch_ivr_broadcast", 5699),
    "HEARTBEAT": ("switch_core.c", "send_heartbeat", 95),
    "RE_SCHEDULE": ("switch_scheduler.c", "switch_scheduler_execute", 73),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", 1646),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", 2020),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", 1481),
    "RECORD_STOP": ("switch_ivr_async.c", "send_record_stop_event", 1240),
    "MEDIA_BUG_START": ("switch_core_media_bug.c", "switch_core_media_bug_add", 1014),
    "MEDIA_BUG_STOP": ("switch_core_media_bug.c", "switch_core_media_bug_destroy", 84),
    "PRIVATE_COMMAND": ("switch_ivr.c", "switch_ivr_parse_next_event", 804),
    "COMMAND_BROADCAST": ("switch_ivr_async.c", "switch_ivr_broadcast", 5731),
    "CHANNEL_DATA": ("mod_commands.c", "uuid_dump_function", 6468),
    "REQUEST_PARAMS": ("sofia.c", "sofia_handle_sip_i_invite", 10723),
    "MESSAGE_QUERY": ("sofia_reg.c", "sofia_reg_handle_register_token", 2168),
    "sofia::pre_register": ("sofia_reg.c", "sofia_reg_handle_register_token", 1810),
    "sofia::register_attempt": ("sofia_reg.c", "sofia_reg_handle_register_token", 1606),
    "sofia::register": ("sofia_reg.c", "sofia_reg_handle_register_token", 2059),
    "sofia::unregister": ("sofia_reg.c", "sofia_reg_handle_register_token", 2213),
}

#: Every event name FreeSWITCH 1.10 knows (what ``event plain NAME`` accepts).
EVENT_NAMES = frozenset("""
CUSTOM CLONE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE CHANNEL_CALLSTATE CHANNEL_ANSWER
CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HOLD
CHANNEL_UNHOLD CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA
CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_UNPARK CHANNEL_APPLICATION CHANNEL_ORIGINATE CHANNEL_UUID
API LOG INBOUND_CHAN OUTBOUND_CHAN STARTUP SHUTDOWN PUBLISH UNPUBLISH TALK NOTALK SESSION_CRASH
MODULE_LOAD MODULE_UNLOAD DTMF MESSAGE PRESENCE_IN NOTIFY_IN PRESENCE_OUT PRESENCE_PROBE
MESSAGE_WAITING MESSAGE_QUERY ROSTER CODEC BACKGROUND_JOB DETECTED_SPEECH DETECTED_TONE
PRIVATE_COMMAND HEARTBEAT TRAP ADD_SCHEDULE DEL_SCHEDULE EXE_SCHEDULE RE_SCHEDULE RELOADXML
NOTIFY PHONE_FEATURE PHONE_FEATURE_SUBSCRIBE SEND_MESSAGE RECV_MESSAGE REQUEST_PARAMS
CHANNEL_DATA GENERAL COMMAND SESSION_HEARTBEAT CLIENT_DISCONNECTED SERVER_DISCONNECTED
SEND_INFO RECV_INFO RECV_RTCP_MESSAGE SEND_RTCP_MESSAGE CALL_SECURE NAT RECORD_START
RECORD_STOP PLAYBACK_START PLAYBACK_STOP CALL_UPDATE FAILURE SOCKET_DATA MEDIA_BUG_START
MEDIA_BUG_STOP CONFERENCE_DATA_QUERY CONFERENCE_DATA CALL_SETUP_REQ CALL_SETUP_RESULT
CALL_DETAIL DEVICE_STATE TEXT SHUTDOWN_REQUESTED ALL
""".split())


_NAME, _VALUE = operator.itemgetter(0), operator.itemgetter(1)


class _LowerCase(dict):
    """name -> name.lower(), remembered (header names recur on every event)."""

    def __missing__(self, name):
        if len(self) > 100000:
            self.clear()
        lower = self[name] = name.lower()
        return lower


_LOWER = _LowerCase()


class Event:
    """A fired event. ``headers`` is a list of (name, value); ``body`` is str or None;
    ``lines``, if given, is ``wire.header_lines(headers)`` computed by whoever knew it cheaper."""

    __slots__ = ("name", "subclass", "headers", "body", "_frames", "_lookup", "_lines")

    def __init__(self, name, headers, body=None, subclass=None, lines=None):
        self.name = name
        self.subclass = subclass
        self.headers = headers
        self.body = body
        self._frames = {}
        self._lookup = None
        self._lines = lines

    def get(self, header, default=None):
        """First value of a header, matched case-insensitively (as switch_event_get_header)."""
        if self._lookup is None:
            backwards = self.headers[::-1]   # in a dict built in this order the first one wins
            self._lookup = dict(zip(map(_LOWER.__getitem__, map(_NAME, backwards)),
                                    map(_VALUE, backwards)))
        return self._lookup.get(header.lower(), default)

    def frame(self, fmt):
        """The whole frame for an event listener in ``fmt``; built once, shared by listeners."""
        data = self._frames.get(fmt)
        if data is None:
            data = wire.event_frame(fmt, self.render(fmt))
            self._frames[fmt] = data
        return data

    def render(self, fmt):
        if fmt == "json":
            return wire.serialize_json(self.headers, self.body)
        if fmt == "xml":
            return wire.serialize_xml(self.headers, self.body)
        if self._lines is not None:
            return wire.serialize_plain_lines(self._lines, self.body)
        return wire.serialize_plain(self.headers, self.body)

    def __repr__(self):
        return "Event(%s %s)" % (self.name, self.get("Unique-ID", ""))


class Identity:
    """Who this 'FreeSWITCH' is: the values of the leading headers, and the event sequence."""

    def __init__(self, hostname=None, ipv4="127.0.0.1", ipv6="::1", clock=time.time):
        self.core_uuid = str(uuid.uuid4())
        self.hostname = hostname or socket.gethostname()
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.clock = clock
        self.sequence = 0
        self._dates = (None, None, None)

    def standard_headers(self, name, calling_key=None, now=None):
        """The 13 leading headers of every event, in FreeSWITCH's order."""
        if now is None:
            now = self.clock()
        local, gmt = self._date_texts(int(now))
        file_, func, line = CALLING.get(calling_key or name, ("switch_event.c", "", 0))
        self.sequence += 1
        return [
            ("Event-Name", name), ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", self.hostname), ("FreeSWITCH-Switchname", self.hostname),
            ("FreeSWITCH-IPv4", self.ipv4), ("FreeSWITCH-IPv6", self.ipv6),
            ("Event-Date-Local", local), ("Event-Date-GMT", gmt),
            ("Event-Date-Timestamp", str(int(now * 1000000))),
            ("Event-Calling-File", file_), ("Event-Calling-Function", func),
            ("Event-Calling-Line-Number", str(line)), ("Event-Sequence", str(self.sequence)),
        ]

    def _date_texts(self, second):
        cached_second, local, gmt = self._dates
        if cached_second != second:
            local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            gmt = email.utils.formatdate(second, usegmt=True)
            self._dates = (second, local, gmt)
        return local, gmt


_STAMPS = {}


def local_stamp(seconds):
    """A FreeSWITCH *_stamp value: local time, seconds resolution (cached per second)."""
    stamp = _STAMPS.get(seconds)
    if stamp is None:
        if len(_STAMPS) > 10000:
            _STAMPS.clear()
        stamp = _STAMPS[seconds] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))
    return stamp
