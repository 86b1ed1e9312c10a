"""A simulated channel: its state, caller profile, variables, and the header sets of its events.

Theory of operation: FreeSWITCH reports two state fields on every channel event.
``Channel-State`` is the *running* state (the last state handler that ran) while
``Channel-State-Number`` is the *target* state number, which is often one step ahead (CHANNEL_CREATE
says CS_INIT / 2). A ``Channel`` keeps both (``running``, ``state``) and the endpoint scripts set them
exactly as the captures show. ``event_headers`` assembles a channel event the way
switch_channel_event_set_data does: the event's own leading headers, the basic channel data
(state, uuid, answer state, Hangup-Cause once hung up, codecs once set), the caller profile
(``Caller-*``), the bridge partner (``Other-Type`` + ``Other-Leg-*``), ``variable_*`` only for the
event types that carry them, then the event's trailing headers.

Variables keep FreeSWITCH's order: setting one removes it and appends it at the end.

Cost: a profile keeps its ``Caller-*`` headers and their plain-format lines until a field or a
time changes; ``event`` returns an event's headers together with their plain lines, built with
C-level joins over cached lines (variables are set far more often than events carry them, so
their lines are made only when an event needs them).
"""

from acd.sim import wire

STATE_NUMBERS = {
    "CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8,
    "CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12, "CS_NONE": 13,
}

SIP_KINDS = frozenset(("user", "gateway", "sip"))

#: Event types whose channel data includes ``variable_*`` (switch_channel_event_set_extended_data).
VARIABLE_EVENTS = frozenset("""
CHANNEL_CREATE CHANNEL_ORIGINATE CHANNEL_UUID CHANNEL_ANSWER CHANNEL_PARK CHANNEL_UNPARK
CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_HANGUP
CHANNEL_HANGUP_COMPLETE CHANNEL_DATA CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_DESTROY
API RECORD_START RECORD_STOP PLAYBACK_START PLAYBACK_STOP CALL_UPDATE MEDIA_BUG_START
MEDIA_BUG_STOP CHANNEL_HOLD CHANNEL_UNHOLD CUSTOM
""".split())

_TIME_FIELDS = ("Profile-Created-Time", "Channel-Created-Time", "Channel-Answered-Time",
                "Channel-Progress-Time", "Channel-Progress-Media-Time", "Channel-Hangup-Time",
                "Channel-Transfer-Time", "Channel-Resurrect-Time", "Channel-Bridged-Time",
                "Channel-Last-Hold", "Channel-Hold-Accum")


class _VariableHeaders(dict):
    """variable name -> ``variable_<name>``, remembered (one string object per name)."""

    def __missing__(self, name):
        if len(self) > 100000:
            self.clear()
        header = self[name] = "variable_" + name
        return header


_VARIABLE_HEADER = _VariableHeaders()


class Times:
    """Microsecond timestamps of a caller profile (0 = not happened)."""

    __slots__ = ("profile_created", "created", "answered", "progress", "progress_media",
                 "hungup", "transferred", "resurrected", "bridged", "last_hold", "hold_accum")

    def __init__(self, created=0):
        self.profile_created = self.created = created
        self.answered = self.progress = self.progress_media = self.hungup = 0
        self.transferred = self.resurrected = self.bridged = self.last_hold = 0
        self.hold_accum = 0

    def copy(self):
        twin = Times()
        (twin.profile_created, twin.created, twin.answered, twin.progress, twin.progress_media,
         twin.hungup, twin.transferred, twin.resurrected, twin.bridged, twin.last_hold,
         twin.hold_accum) = self.values()
        return twin

    def values(self):
        """The stamps in the order of the profile's *-Time headers (a tuple)."""
        return (self.profile_created, self.created, self.answered, self.progress,
                self.progress_media, self.hungup, self.transferred, self.resurrected,
                self.bridged, self.last_hold, self.hold_accum)


class Profile:
    """A caller profile (switch_caller_profile_t); empty strings are left out of events.

    Its headers are cached until a field or a time changes (most events repeat them); the part
    before the *-Time headers stays cached when only a time changes."""

    FIELDS = ("direction", "logical_direction", "username", "dialplan", "cid_name",
              "cid_number", "orig_cid_name", "orig_cid_number", "callee_name", "callee_number",
              "network_addr", "ani", "destination", "uuid", "source", "transfer_source",
              "context", "rdnis", "chan_name", "index", "times")
    __slots__ = FIELDS + ("_cache",)

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        if self._cache:
            object.__setattr__(self, "_cache", {})

    def __init__(self, **fields):
        set_field = object.__setattr__
        set_field(self, "_cache", {})
        for name in self.FIELDS:
            set_field(self, name, fields.get(name, ""))
        if not self.logical_direction:
            self.logical_direction = self.direction
        if self.times == "":
            self.times = None

    def clone(self, **changes):
        twin = Profile(**{name: getattr(self, name) for name in self.FIELDS})
        for name, value in changes.items():
            setattr(twin, name, value)
        return twin

    def headers(self, prefix, with_index=True):
        return self.headers_and_lines(prefix, with_index)[0]

    def headers_and_lines(self, prefix, with_index=True):
        """The profile's headers under ``prefix`` and their plain lines (cached: do not change)."""
        stamps = self.times.values() if self.times else _NO_TIMES
        key = (prefix, with_index, stamps)
        cached = self._cache.get(key)
        if cached is None:
            head, head_lines = self._head(prefix, with_index)
            times = list(zip(_time_names(prefix), map(str, stamps)))
            tail, tail_lines = _profile_tail(prefix)
            cached = self._cache[key] = (head + times + tail, "".join(
                (head_lines, wire.header_lines(times), tail_lines)))
        return cached

    def _head(self, prefix, with_index):
        """The headers before the *-Time ones, and their lines (cached until a field changes)."""
        cached = self._cache.get((prefix, with_index))
        if cached is None:
            out = [(prefix + "-Direction", self.direction),
                   (prefix + "-Logical-Direction", self.logical_direction)]
            for field, suffix in _PROFILE_TEXT_FIELDS:
                value = getattr(self, field)
                if value:
                    out.append((prefix + suffix, value))
            if with_index and self.index:
                out.append((prefix + "-Profile-Index", str(self.index)))
            cached = self._cache[(prefix, with_index)] = (out, wire.header_lines(out))
        return cached


_PROFILE_TEXT_FIELDS = (
    ("username", "-Username"), ("dialplan", "-Dialplan"), ("cid_name", "-Caller-ID-Name"),
    ("cid_number", "-Caller-ID-Number"), ("orig_cid_name", "-Orig-Caller-ID-Name"),
    ("orig_cid_number", "-Orig-Caller-ID-Number"), ("callee_name", "-Callee-ID-Name"),
    ("callee_number", "-Callee-ID-Number"), ("network_addr", "-Network-Addr"),
    ("ani", "-ANI"), ("destination", "-Destination-Number"), ("uuid", "-Unique-ID"),
    ("source", "-Source"), ("transfer_source", "-Transfer-Source"), ("context", "-Context"),
    ("rdnis", "-RDNIS"), ("chan_name", "-Channel-Name"),
)


_NO_TIMES = (0,) * len(_TIME_FIELDS)
_TIME_NAMES = {}
_PROFILE_TAILS = {}


def _time_names(prefix):
    """``<prefix>-Profile-Created-Time`` ... for a header prefix (remembered)."""
    names = _TIME_NAMES.get(prefix)
    if names is None:
        names = _TIME_NAMES[prefix] = tuple(prefix + "-" + name for name in _TIME_FIELDS)
    return names


def _profile_tail(prefix):
    """The headers after the *-Time ones (the same for every profile) and their lines."""
    tail = _PROFILE_TAILS.get(prefix)
    if tail is None:
        headers = [(prefix + "-Screen-Bit", "true"), (prefix + "-Privacy-Hide-Name", "false"),
                   (prefix + "-Privacy-Hide-Number", "false")]
        tail = _PROFILE_TAILS[prefix] = (headers, wire.header_lines(headers))
    return tail


class Codec:
    __slots__ = ("name", "rate", "bit_rate", "read_headers", "write_headers")

    def __init__(self, name, rate, bit_rate):
        self.name, self.rate, self.bit_rate = name, str(rate), str(bit_rate)
        self.read_headers, self.write_headers = (
            (("Channel-%s-Codec-Name" % label, self.name),
             ("Channel-%s-Codec-Rate" % label, self.rate),
             ("Channel-%s-Codec-Bit-Rate" % label, self.bit_rate)) for label in ("Read", "Write"))


L16 = Codec("L16", 8000, 128000)
PCMU = Codec("PCMU", 8000, 64000)


class Channel:
    """State of one call leg. Behaviour lives in switch.py/session.py; this holds facts."""

    def __init__(self, uuid, name, direction, kind, created_us):
        self.uuid = uuid
        self.name = name
        self.direction = direction          # inbound | outbound
        self.kind = kind                    # loopback | user | gateway | sip (inbound)
        self.running = "CS_NONE"            # Channel-State
        self.state = 0                      # Channel-State-Number
        self.callstate = "DOWN"
        self.answer_state = "ringing"
        self.hit_dialplan = direction == "inbound"
        self.presence_id = ""
        self.call_uuid = uuid
        self.read_codec = None
        self.write_codec = None
        self.profile = None
        self.first_profile = None           # the profile at CHANNEL_CREATE (initial_*)
        self.listed_profile = None          # as `show channels` knows it (CREATE, CALL_UPDATE)
        self.application = ("", "")         # the last CHANNEL_EXECUTE (name, data)
        self.other_type = None              # originator | originatee
        self.other_profile = None
        self.variables = {}
        self.hangup_cause = None
        self.created_us = created_us
        self.answered_us = 0
        self.progress_us = 0
        self.bridged_us = 0
        self.peer = None                    # the other loopback leg
        self.partner = None                 # the bridged leg
        self.left_bridge = False            # left its bridge without hanging up (transfer)
        self.bridge_started = False         # uuid_bridge: the A side fired CHANNEL_BRIDGE
        self.hold_music = None              # the broadcast playing to the partner while held
        self.hold_record = []               # [(held_us, unheld_us)]: hold_events in the CDR
        self.watchers = set()               # channels to wake when this one hangs up
        self.presence_count = 0
        self.dtmf_log = ""                  # digits_dialed
        self.completed_elsewhere = False    # lost a ring-all race
        self.destroyed = False
        self.session = None                 # set by session.py
        self.originating = None             # the Attempt ringing this leg, if any
        self.timers = []                    # far-end greenlets to kill when destroyed
        self.signal = None                  # gevent Event: something happened to the leg

    # --- facts ---------------------------------------------------------------------------

    @property
    def hung_up(self):
        return self.hangup_cause is not None

    @property
    def answered(self):
        return self.answered_us != 0

    @property
    def is_sip(self):
        """A sofia channel: a phone or gateway leg, or an inbound SIP caller."""
        return self.kind in SIP_KINDS

    def set_state(self, running=None, number=None):
        if running is not None:
            self.running = running
        if number is not None:
            self.state = STATE_NUMBERS[number] if isinstance(number, str) else number

    # --- variables (FreeSWITCH order: set = delete + append) --------------------------------

    def set_var(self, name, value):
        self.variables.pop(name, None)
        if value is not None and value != "":
            self.variables[name] = str(value)

    def set_vars(self, pairs):
        """Many set_var at once (empty values are not stored, as with set_var)."""
        variables = self.variables
        for name, value in pairs:
            variables.pop(name, None)
            if value is not None and value != "":
                variables[name] = str(value)

    def push_var(self, name, value):
        """SWITCH_STACK_PUSH: a second value makes the variable an ``ARRAY::a|:b``, in place."""
        current = self.variables.get(name)
        if not current:
            self.set_var(name, value)
        elif current.startswith("ARRAY::"):
            self.variables[name] = current + "|:" + str(value)
        else:
            self.variables[name] = "ARRAY::%s|:%s" % (current, value)

    def unset_var(self, name):
        self.variables.pop(name, None)

    def get_var(self, name, default=None):
        return self.variables.get(name, default)

    # --- headers ---------------------------------------------------------------------------

    def basic_headers(self, codecs=True):
        out = [("Channel-State", self.running), ("Channel-Call-State", self.callstate),
               ("Channel-State-Number", str(self.state)), ("Channel-Name", self.name),
               ("Unique-ID", self.uuid), ("Call-Direction", self.direction),
               ("Presence-Call-Direction", self.direction),
               ("Channel-HIT-Dialplan", "true" if self.hit_dialplan else "false")]
        if self.presence_id:
            out.append(("Channel-Presence-ID", self.presence_id))
        out += [("Channel-Call-UUID", self.call_uuid), ("Answer-State", self.answer_state)]
        if self.hangup_cause:
            out.append(("Hangup-Cause", self.hangup_cause))
        if codecs:
            out += self.codec_headers()
        return out

    def codec_headers(self):
        out = []
        if self.read_codec:
            out += self.read_codec.read_headers
        if self.write_codec:
            out += self.write_codec.write_headers
        return out

    def data_headers(self, with_vars):
        """Everything switch_channel_event_set_data adds, after the basic data."""
        return self._data(with_vars)[0]

    def _data(self, with_vars):
        """``data_headers`` and their plain lines."""
        out, lines = [], []
        if self.profile:
            headers, text = self.profile.headers_and_lines("Caller")
            out += headers
            lines.append(text)
        if self.other_profile:
            other = ("Other-Type", self.other_type)
            headers, text = self.other_profile.headers_and_lines("Other-Leg", with_index=False)
            out.append(other)
            out += headers
            lines += (wire.header_lines((other,)), text)
        if with_vars:
            variables = self.variables
            headers = list(zip(map(_VARIABLE_HEADER.__getitem__, variables), variables.values()))
            out += headers
            lines.append(wire.header_lines(headers))
        return out, "".join(lines)

    def event_headers(self, standard, name, pre=(), post=(), with_vars=None):
        return self.event(standard, name, pre, post, with_vars)[0]

    def event(self, standard, name, pre=(), post=(), with_vars=None):
        """A channel event's headers and their plain lines (``wire.header_lines`` of them)."""
        if with_vars is None:
            with_vars = name in VARIABLE_EVENTS
        basic = self.basic_headers()
        data, data_lines = self._data(with_vars)
        headers = list(standard)
        headers += pre
        headers += basic
        headers += data
        headers += post
        lines = "".join((wire.header_lines(standard), wire.header_lines(pre),
                         wire.header_lines(basic), data_lines, wire.header_lines(post)))
        return headers, lines

    def __repr__(self):
        return "Channel(%s %s %s)" % (self.name, self.uuid, self.running)
