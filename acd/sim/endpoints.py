"""Endpoints: what a dial string's leg becomes, and the events each kind fires while ringing.

Theory of operation: ``prepare`` turns one leg of a dial string into an ``OutboundLeg`` (or
raises ``LegFailure`` when FreeSWITCH would fail it without creating a channel: unknown user ->
SUBSCRIBER_ABSENT, unregistered -> USER_NOT_REGISTERED, ``error/CAUSE``, an unknown technology
-> CHAN_NOT_IMPLEMENTED). The originate logic then calls ``announce`` (the captured start-up
sequence: CHANNEL_OUTGOING, CS_INIT, CHANNEL_CREATE, CHANNEL_ORIGINATE, ...), ``start`` (the far
end: a phone's timers, or the loopback B leg's dialplan) and, for the winner,
``after_answer`` (CALL_UPDATE, caller id flip).

Kinds: ``loopback/<dest>[/<context>]`` makes an outbound A leg and an inbound B leg that runs the
simulated dialplan; ``user/<id>`` a SIP phone from the config (channel sofia/internal/...);
``sofia/gateway/<gw>/<number>`` and ``sofia/<profile>/<user>@<host>`` a SIP leg keyed by number.
"""

import uuid as uuidlib

import gevent

from acd.sim.causes import parse_cause
from acd.sim.channel import L16, Channel, Profile, Times
from acd.sim.dialstring import split_endpoint
from acd.sim.session import Session

NO_CID_NUMBER = "0000000000"


class LegFailure(Exception):
    def __init__(self, cause):
        super().__init__(cause)
        self.cause = cause


def prepare(sw, leg, attempt):
    tech, rest = split_endpoint(leg.endpoint)
    if tech == "loopback":
        return LoopbackLeg(sw, leg, attempt, rest)
    if tech == "user":
        return user_leg(sw, leg, attempt, rest)
    if tech == "sofia":
        return sofia_leg(sw, leg, attempt, rest)
    if tech == "error":
        raise LegFailure(parse_cause(rest, "NORMAL_CLEARING"))
    raise LegFailure("CHAN_NOT_IMPLEMENTED")


def _new_uuid(sw, leg):
    """origination_uuid, or a fresh one; a uuid already in use fails the leg."""
    wanted = leg.variables.get("origination_uuid")
    if wanted and wanted in sw.channels:
        raise LegFailure("DESTINATION_OUT_OF_ORDER")
    return wanted or str(uuidlib.uuid4())


def _caller_id(leg):
    def value(name):
        return leg.variables.get(name) or leg.inherited.get(name) or ""
    return (value("origination_caller_id_name"),
            value("origination_caller_id_number") or NO_CID_NUMBER)


def _register(sw, ch, attempt):
    sw.add_channel(ch)
    ch.session = Session(sw, ch)
    ch.originating = attempt


class OutboundLeg:
    """Common shape of a ringing leg; subclasses provide the kind-specific events."""

    timeout_cause = "ALLOTTED_TIMEOUT"  # what leg_timeout gives this kind

    def __init__(self, sw, leg, attempt):
        self.sw = sw
        self.leg = leg
        self.attempt = attempt
        self.channel = None

    @property
    def early_ok(self):
        return self.leg.variables.get("ignore_early_media", "").lower() not in ("true", "yes",
                                                                                  "1")

    def leg_variables(self):
        return list(self.leg.variables.items())


class LoopbackLeg(OutboundLeg):
    def __init__(self, sw, leg, attempt, rest):
        super().__init__(sw, leg, attempt)
        parts = rest.split("/")
        self.destination = parts[0]
        self.context = parts[1] if len(parts) > 1 and parts[1] else "default"
        now = sw.now_us()
        a_uuid, b_uuid = _new_uuid(sw, leg), str(uuidlib.uuid4())
        self.channel = a = Channel(a_uuid, "loopback/%s-a" % self.destination, "outbound",
                                   "loopback", now)
        self.b = b = Channel(b_uuid, "loopback/%s-b" % self.destination, "inbound",
                             "loopback", now)
        a.peer, b.peer = b, a
        self.profiles = {}
        for ch in (a, b):
            _register(sw, ch, attempt if ch is a else None)
            self.profiles[ch] = self._profile(ch, now)  # attached after the CODEC events

    def _profile(self, ch, now):
        name, number = _caller_id(self.leg)
        return Profile(direction=ch.direction, dialplan="xml", cid_name=name, cid_number=number,
                       orig_cid_name=name, orig_cid_number=number, callee_name="Outbound Call",
                       callee_number=self.destination, ani=number, destination=self.destination,
                       uuid=ch.uuid, source="mod_loopback", context=self.context,
                       chan_name=ch.name, index=1, times=Times(now))

    def _variables(self):
        a, b, sw = self.channel, self.b, self.sw
        codec = (("read_codec", "L16"), ("read_rate", "8000"), ("write_codec", "L16"),
                 ("write_rate", "8000"))
        for name, value in (("direction", "outbound"), ("is_outbound", "true"),
                            ("uuid", a.uuid), ("call_uuid", a.uuid),
                            ("session_id", sw.next_session_id())) + codec + (
                                ("channel_name", a.name),):
            a.set_var(name, value)
        for name, value in self.leg_variables():
            a.set_var(name, value)
        a.set_var("originate_early_media", "true" if self.early_ok else "false")
        a.set_var("originate_endpoint", "loopback")
        for name, value in (("direction", "inbound"), ("uuid", b.uuid), ("call_uuid", b.uuid),
                            ("session_id", sw.next_session_id()),
                            ("channel_name", b.name)) + codec:
            b.set_var(name, value)
        for name, value in self.leg_variables():
            b.set_var(name, value)
        for me, other, letter in ((a, b, "A"), (b, a, "B")):
            me.set_var("other_loopback_leg_uuid", other.uuid)
            me.set_var("loopback_leg", letter)

    def announce_early(self, ring_all):
        sw, a = self.sw, self.channel
        sw.codec_events(a, L16)
        a.profile = self.profiles[a]
        a.set_state("CS_NONE", "CS_INIT")
        sw.fire_channel(a, "CHANNEL_OUTGOING")

    def announce(self):
        sw, a, b = self.sw, self.channel, self.b
        self._variables()
        sw.running_state(a, "CS_INIT")
        sw.codec_events(b, L16)
        b.profile = self.profiles[b]
        a.set_state(number="CS_ROUTING")
        sw.create(a)
        sw.running_state(b, "CS_INIT")
        b.set_state(number="CS_ROUTING")
        sw.create(b)
        sw.fire_channel(a, "CHANNEL_ORIGINATE")
        b.set_state("CS_ROUTING", "CS_ROUTING")
        sw.callstate(b, "RINGING")
        sw.running_state(b, "CS_ROUTING")
        sw.running_state(a, "CS_ROUTING")
        sw.running_state(a, "CS_CONSUME_MEDIA")

    def start(self):
        """The B leg runs the dialplan for the destination (no route: NO_ROUTE_DESTINATION)."""
        extension = self.sw.extension_for(self.destination, self.context, self.b)
        if extension is None:
            self.sw.hangup(self.b, "NO_ROUTE_DESTINATION")
            self.b.session.start_custom(lambda s: None)
            return
        self.b.session.start(extension)

    def after_answer(self, single):
        self.sw.flip_cid(self.channel)


class SipLeg(OutboundLeg):
    """A phone reached over SIP: rings, answers, rejects or stays silent per its settings."""

    def __init__(self, sw, leg, attempt, kind, user_id, settings, name, presence_id=""):
        super().__init__(sw, leg, attempt)
        self.kind, self.user_id, self.settings = kind, user_id, settings
        self.presence_id = presence_id
        self.ring_all = False
        now = sw.now_us()
        self.channel = ch = Channel(_new_uuid(sw, leg), name, "outbound", kind, now)
        _register(sw, ch, attempt)
        cid_name, cid_number = _caller_id(leg)
        originator = attempt.originator
        # A leg of a bridge app starts from its caller's profile (orig. caller id, ANI).
        first = originator.profile if originator is not None else Profile(
            orig_cid_name=cid_name, orig_cid_number=cid_number, ani=cid_number)
        ch.profile = Profile(direction="outbound", cid_name=cid_name, cid_number=cid_number,
                             orig_cid_name=first.orig_cid_name,
                             orig_cid_number=first.orig_cid_number,
                             callee_name="Outbound Call", callee_number=user_id, ani=first.ani,
                             network_addr=first.network_addr, destination=user_id, uuid=ch.uuid,
                             source="src/switch_ivr_originate.c", context="default",
                             chan_name=name, index=1, times=Times(now))
        if originator is not None:
            ch.call_uuid = originator.uuid
            ch.other_type = "originator"
            ch.other_profile = originator.profile.clone(index="", times=None)

    def announce_early(self, ring_all):
        """CHANNEL_OUTGOING; ringing several legs, user/ fires it again from its inner
        originate (by then with the presence id)."""
        ch = self.channel
        self.ring_all = ring_all
        ch.set_state("CS_NONE", "CS_INIT")
        self.sw.fire_channel(ch, "CHANNEL_OUTGOING")
        if ring_all and self.kind == "user":
            ch.presence_id = self.presence_id
            self.sw.fire_channel(ch, "CHANNEL_OUTGOING")

    def announce(self):
        sw, ch = self.sw, self.channel
        ch.presence_id = self.presence_id
        self._variables()
        sw.running_state(ch, "CS_INIT")
        ch.set_state(number="CS_ROUTING")
        sw.create(ch)
        sw.fire_channel(ch, "CHANNEL_ORIGINATE")
        sw.running_state(ch, "CS_ROUTING")
        ch.set_state(number="CS_CONSUME_MEDIA")
        if ch.presence_id:
            sw.presence(ch, "routing")
        sw.running_state(ch, "CS_CONSUME_MEDIA")

    def _variables(self):
        ch, sw, originator = self.channel, self.sw, self.attempt.originator
        ch.set_vars((("direction", "outbound"), ("is_outbound", "true"), ("uuid", ch.uuid)))
        if originator is None:
            ch.set_var("call_uuid", ch.uuid)
        ch.set_vars((("session_id", sw.next_session_id()), ("channel_name", ch.name)))
        if originator is not None:
            ch.set_vars(self._originator_variables() + [("signal_bond", originator.uuid),
                                                        ("call_uuid", originator.uuid)])
        if self.kind == "user" and self.ring_all:
            self._user_variables()
            self._directory_variables()
            return
        ch.set_vars(self.leg_variables())
        if self.kind == "user":
            self._user_variables()
        self._origination_variables("sofia")

    def _originator_variables(self):
        """What a leg rung by a bridge app knows of its caller (none for an api originate)."""
        originator = self.attempt.originator
        if originator is None:
            return []
        codec = originator.read_codec
        return [("max_forwards", originator.get_var("max_forwards") or "70"),
                ("originator_codec", "%s@%sh@20i" % (codec.name, codec.rate) if codec else ""),
                ("originator", originator.uuid)]

    def _origination_variables(self, endpoint):
        ch = self.channel
        ch.set_var("originate_early_media", "true" if self.early_ok else "false")
        if self.attempt.originator is not None:
            ch.set_var("originating_leg_uuid", self.attempt.originator.uuid)
        ch.set_var("originate_endpoint", endpoint)

    def _user_variables(self):
        ch = self.channel
        ch.set_var("dialed_user", self.user_id)
        ch.set_var("dialed_domain", self.sw.identity.ipv4)
        ch.set_var("presence_id", ch.presence_id)

    def start(self):
        """The phone's behaviour: fail at once, or ring and then answer/fail after a delay."""
        settings, sw, ch = self.settings, self.sw, self.channel
        if settings is None:
            sw.hangup(ch, "UNALLOCATED_NUMBER")
            return
        if settings.respond and not settings.after:
            ch.profile.network_addr = "127.0.0.1"
            sw.hangup(ch, settings.respond)
            return
        if ch.profile.cid_name:   # the phone's 180 echoes the From display it was sent
            ch.set_var("sip_from_display", phone_display(ch.profile.cid_name))
        sw.ring_ready(ch)
        if settings.respond:
            self._later(settings.after, sw.hangup, ch, settings.respond)
        elif settings.answer_after is not None:
            self._later(settings.answer_after, self._answer)

    def _answer(self):
        if self.sw.answer(self.channel) and self.settings.hangup_after:
            self._later(self.settings.hangup_after, self.sw.hangup, self.channel,
                        "NORMAL_CLEARING")

    def _later(self, seconds, func, *args):
        self.channel.timers.append(gevent.spawn_later(seconds, func, *args))

    def after_answer(self, single):
        """The second CHANNEL_OUTGOING of user/, the directory variables, and the caller id
        flip (CALL_UPDATE RECV) -- which a bridge app's leg does not do."""
        sw, ch = self.sw, self.channel
        if single and self.kind == "user":
            sw.fire_channel(ch, "CHANNEL_OUTGOING")
        if self.kind == "user" and not self.ring_all:
            self._directory_variables()
        if self.attempt.originator is None:
            sw.flip_cid(ch)

    def _directory_variables(self):
        ch, uid = self.channel, self.user_id
        for name, value in (("accountcode", uid), ("user_context", "default"),
                            ("effective_caller_id_name", "Extension %s" % uid),
                            ("effective_caller_id_number", uid),
                            ("outbound_caller_id_name", "FreeSWITCH"),
                            ("outbound_caller_id_number", NO_CID_NUMBER)):
            ch.set_var(name, value)
        ch.set_vars(self._originator_variables())
        ch.set_vars(self.leg_variables())
        self._origination_variables("user")


class UserLeg(SipLeg):
    timeout_cause = "NO_ANSWER"  # user/ passes leg_timeout to its inner originate


def user_leg(sw, leg, attempt, rest):
    """``user/<id>[@domain]``: the directory lookup, then the registration check."""
    user_id, _, domain = rest.partition("@")
    domain = domain or sw.identity.ipv4
    settings = sw.users.get(user_id)
    if settings is None:
        raise LegFailure("SUBSCRIBER_ABSENT")
    for command, arg in (("sofia_contact", "*/%s@%s" % (user_id, domain)),
                         ("verto_contact", "%s@%s" % (user_id, domain))):
        sw.fire("API", lambda c=command, a=arg: [("API-Command", c), ("API-Command-Argument", a)])
    if attempt.originator is not None:   # user/ tells the calling channel whom it dials
        attempt.originator.set_vars((("dialed_user", user_id), ("dialed_domain", domain)))
    if not settings.registered:
        raise LegFailure("USER_NOT_REGISTERED")
    name = "sofia/internal/%s@%s" % (user_id, contact_host(user_id))
    return UserLeg(sw, leg, attempt, "user", user_id, settings, name,
                   presence_id="%s@%s" % (user_id, domain))


def sofia_leg(sw, leg, attempt, rest):
    """``sofia/gateway/<gw>/<number>`` or ``sofia/<profile>/<user>[@host]``."""
    profile, _, target = rest.partition("/")
    if profile == "gateway":
        gateway, _, number = target.partition("/")
        number = number.split("@")[0]
        name = "sofia/gateway/%s/%s" % (gateway, number)
    else:
        number = target.split("@")[0]
        name = "sofia/%s/%s" % (profile, target)
    if not number:
        raise LegFailure("INVALID_NUMBER_FORMAT")
    return SipLeg(sw, leg, attempt, "gateway", number, sw.users.get(number), name)


def phone_display(name):
    """What a phone makes of ``From: "<name>"``: mod_sofia writes the caller id name unescaped,
    so a ``"`` in it ends the quoted-string early; the captured phone then showed what follows
    the last ``"`` (``Eve, } ] ' " % ^ Boss`` -> `` % ^ Boss``, capture sip_caller_hostile)."""
    return name.rsplit('"', 1)[-1] if '"' in name else name


def contact_host(user_id):
    """Where a simulated phone 'registered' from: 127.0.0.1 and a port derived from its id."""
    if user_id.isdigit() and 1000 <= int(user_id) <= 1999:
        return "127.0.0.1:%d" % (5070 + int(user_id) - 1000)
    return "127.0.0.1:%d" % (10000 + sum(map(ord, user_id)) * 7 % 50000)
