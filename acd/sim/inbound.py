"""Inbound SIP callers (simulator-only ``sim_call``): a phone INVITEs a destination, as in the
captures sip_caller and sip_caller_hostile.

Theory of operation: ``sim_call {"from": "1000", "to": "5000", ...}`` makes the inbound sofia leg
``sofia/internal/<from>@<host>`` the way mod_sofia does: CHANNEL_STATE CS_NEW, the INVITE's digest
auth (CUSTOM sofia::pre_register, sofia::register_attempt), CS_INIT, CHANNEL_CREATE, then the
dialplan of context ``default`` for ``to`` (RINGING, CS_ROUTING, the routing PRESENCE_IN, CS_EXECUTE
and the applications; no extension: NO_ROUTE_DESTINATION). ``answer`` on it is 183 with media
(CODEC x2, CHANNEL_PROGRESS_MEDIA, EARLY) then 200 (CHANNEL_ANSWER, ACTIVE). The display name is
taken as the quoted-string of the From header carries it -- FreeSWITCH reports it as is, a
backslash escape included (``Eve, } ] ' \\" % ^ Boss``) -- and X- headers become
``variable_sip_h_X-...``; the wire layer then encodes them as FreeSWITCH does (a literal ``%0A``
or ``%41`` stays as it is). ``hangup-after`` makes the phone send BYE after so many seconds.

Values are data, never parsed again: nothing in a name or header can make another header.
"""

import json
import re
import uuid as uuidlib

import gevent

from acd.sim import transfer
from acd.sim.channel import Channel, Profile, Times
from acd.sim.session import Session

KEYS = ("from", "to", "name", "headers", "uuid", "hangup-after", "user-agent")
USAGE = ('-USAGE: sim_call {"from": "<user>", "to": "<destination>", "name": "<display>", '
         '"headers": {"X-...": "<value>"}, "uuid": "<uuid>", "hangup-after": <seconds>}\n')
_USER = re.compile(r"^[A-Za-z0-9_.+*#-]{1,64}$")
_HEADER = re.compile(r"^X-[A-Za-z0-9-]{1,64}$")
_UUID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
PHONE_PORT = 5169
AUTH_EXPIRES = 300


class CallError(ValueError):
    pass


def api_sim_call(sw, arg):
    """``sim_call <json>`` -> ``+OK <uuid>\\n`` (the inbound leg) or ``-ERR <reason>\\n``."""
    try:
        spec = _spec(sw, arg)
    except CallError as exc:
        return "-ERR %s\n" % exc
    return "+OK %s\n" % call(sw, spec).uuid


def _spec(sw, arg):
    try:
        spec = json.loads(arg or "")
    except ValueError:
        raise CallError("expected a JSON object: " + USAGE[8:].strip()) from None
    if not isinstance(spec, dict):
        raise CallError("expected a JSON object")
    unknown = [key for key in spec if key not in KEYS]
    if unknown:
        raise CallError("unknown key %s (allowed: %s)" % (unknown[0], ", ".join(KEYS)))
    for key in ("from", "to"):
        if not isinstance(spec.get(key), str) or not _USER.match(spec[key]):
            raise CallError("%s: expected a SIP user part such as 1000" % key)
    _text(spec, "name")
    _text(spec, "user-agent")
    headers = spec.get("headers", {})
    if not isinstance(headers, dict):
        raise CallError("headers: expected an object of X- header -> value")
    for name, value in headers.items():
        if not _HEADER.match(name) or not isinstance(value, str) or _breaks_line(value):
            raise CallError("headers: expected X-Name -> one line of text, got %r" % name)
    uuid = spec.get("uuid") or str(uuidlib.uuid4())
    if not isinstance(uuid, str) or not _UUID.match(uuid) or uuid in sw.channels:
        raise CallError("uuid: expected an unused uuid")
    spec["uuid"] = uuid
    after = spec.get("hangup-after")
    if after is not None and (isinstance(after, bool) or not isinstance(after, (int, float))
                              or after <= 0):
        raise CallError("hangup-after: expected seconds > 0")
    return spec


def _text(spec, key):
    value = spec.get(key, "")
    if not isinstance(value, str) or _breaks_line(value):
        raise CallError("%s: expected one line of text" % key)


def _breaks_line(text):
    return any(c in text for c in "\r\n\x00")


def call(sw, spec):
    """Create the inbound leg and run its dialplan; returns the Channel."""
    user, destination, host = spec["from"], spec["to"], sw.identity.ipv4
    name = spec.get("name", "")
    now = sw.now_us()
    ch = Channel(spec["uuid"], "sofia/internal/%s@%s" % (user, host), "inbound", "sip", now)
    sw.add_channel(ch)
    ch.session = Session(sw, ch)
    ch.set_state("CS_NEW", "CS_NEW")
    sw.fire_channel(ch, "CHANNEL_STATE")
    _digest_auth(sw, spec, host)
    ch.presence_id = "%s@%s" % (user, host)
    ch.profile = Profile(direction="inbound", username=user, dialplan="XML", cid_name=name,
                         cid_number=user, orig_cid_name=name, orig_cid_number=user,
                         network_addr=host, ani=user, destination=destination, uuid=ch.uuid,
                         source="mod_sofia", context="default", chan_name=ch.name, index=1,
                         times=Times(now))
    _variables(sw, ch, spec, host)
    sw.running_state(ch, "CS_INIT")
    ch.set_state(number="CS_ROUTING")
    sw.create(ch)

    def run(session):
        transfer.route(session, destination, "default")
        session.run_extension()
    ch.session.start_custom(run)
    if spec.get("hangup-after"):
        ch.timers.append(gevent.spawn_later(spec["hangup-after"], _bye, sw, ch))
    return ch


def _bye(sw, ch):
    ch.set_var("sip_hangup_disposition", "recv_bye")
    sw.hangup(ch, "NORMAL_CLEARING")


def _digest_auth(sw, spec, host):
    """The INVITE's digest auth: sofia::pre_register and sofia::register_attempt."""
    user, agent = spec["from"], spec.get("user-agent") or "acd-sim-caller-%s" % spec["from"]
    base = [("profile-name", "internal"), ("from-user", spec["to"]), ("from-host", host),
            ("contact", '"" <sip:%s@%s:%d>' % (user, host, PHONE_PORT)),
            ("call-id", "%s@%s" % (spec["uuid"], host)), ("rpid", "unknown"),
            ("status", "Registered(UDP)"), ("expires", str(AUTH_EXPIRES)), ("to-user", user),
            ("to-host", host), ("network-ip", host), ("network-port", str(PHONE_PORT))]
    sw.fire("CUSTOM", lambda: base + [("user-agent", agent)], subclass="sofia::pre_register")
    sw.fire("CUSTOM", lambda: base + [("username", user), ("realm", host),
                                      ("user-agent", agent), ("auth-result", "RENEWED")],
            subclass="sofia::register_attempt")


def _variables(sw, ch, spec, host):
    user, name = spec["from"], spec.get("name", "")
    tag = ch.uuid.split("-")[0]
    display = '"%s" ' % name if name else ""
    ch.set_vars([("direction", "inbound"), ("uuid", ch.uuid), ("call_uuid", ch.uuid),
                 ("session_id", sw.next_session_id()), ("sip_from_user", user),
                 ("sip_from_uri", "%s@%s" % (user, host)), ("sip_from_host", host),
                 ("channel_name", ch.name), ("sip_call_id", "%s@%s" % (ch.uuid, host)),
                 ("sip_network_ip", host), ("sip_network_port", PHONE_PORT)])
    # The directory lookup's REQUEST_PARAMS event is copied onto the channel.
    ch.set_vars(sw.identity.standard_headers("REQUEST_PARAMS"))
    ch.set_vars([("sip_number_alias", user), ("sip_auth_username", user),
                 ("sip_auth_realm", host), ("number_alias", user),
                 ("requested_user_name", user), ("requested_domain_name", host),
                 ("accountcode", user), ("user_context", "default"),
                 ("effective_caller_id_name", "Extension %s" % user),
                 ("effective_caller_id_number", user), ("outbound_caller_id_name", "FreeSWITCH"),
                 ("outbound_caller_id_number", "0000000000"), ("user_name", user),
                 ("domain_name", host), ("sip_from_user_stripped", user), ("sip_from_tag", tag),
                 ("sofia_profile_name", "internal"), ("recovery_profile_name", "internal"),
                 ("sip_from_display", name),
                 ("sip_full_from", "%s<sip:%s@%s>;tag=%s" % (display, user, host, tag)),
                 ("sip_full_to", "<sip:%s@%s>" % (spec["to"], host)),
                 ("sip_req_user", spec["to"]), ("sip_to_user", spec["to"]),
                 ("sip_contact_user", user),
                 ("sip_user_agent", spec.get("user-agent") or "acd-sim-caller-%s" % user),
                 ("max_forwards", 70), ("presence_id", ch.presence_id)])
    ch.set_vars(("sip_h_" + header, value) for header, value in spec.get("headers", {}).items())
    ch.set_var("endpoint_disposition", "DELAYED NEGOTIATION")
