"""Simulated phones: the user directory, registrations, and the ``sim_user``/``sim_users`` API.

Theory of operation: ``sw.users`` maps a user id to its ``UserSettings``. Changing a user at run
time (a load generator creating thousands of agents) goes through ``apply``: a user that becomes
registered fires sofia::pre_register, sofia::register_attempt and sofia::register; one that
stops being registered (or is deleted) fires sofia::pre_register, sofia::register_attempt and
sofia::unregister -- the CUSTOM events real FreeSWITCH fires for a REGISTER / REGISTER Expires: 0.
"""

import json

from acd.sim.config import ConfigError, validate_user
from acd.sim.endpoints import contact_host

EXPIRES = 1800
PROFILE = "internal"


def apply(sw, user_id, settings):
    """Create or change a user, firing the registration events a phone would cause."""
    before = sw.users.get(user_id)
    sw.users[user_id] = settings
    was = before is not None and before.registered
    if settings.registered and not was:
        register(sw, user_id)
    elif was and not settings.registered:
        unregister(sw, user_id)


def delete(sw, user_id):
    before = sw.users.pop(user_id, None)
    if before is not None and before.registered:
        unregister(sw, user_id)
    return before is not None


def register(sw, user_id):
    _registration(sw, user_id, EXPIRES, "sofia::register")


def unregister(sw, user_id):
    _registration(sw, user_id, 0, "sofia::unregister")


def _registration(sw, user_id, expires, final):
    realm = sw.identity.ipv4
    host, _, port = contact_host(user_id).partition(":")
    base = [("profile-name", PROFILE), ("from-user", user_id), ("from-host", realm),
            ("contact", '"" <sip:%s@%s:%s>' % (user_id, host, port)),
            ("call-id", "%s-%s@%s" % (user_id, expires, host)), ("rpid", "unknown"),
            ("status", "Registered(UDP)"), ("expires", str(expires)), ("to-user", user_id),
            ("to-host", realm), ("network-ip", host), ("network-port", port)]
    agent = ("user-agent", "acd-sim-phone-%s" % user_id)
    auth = [("username", user_id), ("realm", realm)]
    sw.fire("CUSTOM", lambda: base + [agent], subclass="sofia::pre_register")
    sw.fire("CUSTOM", lambda: base + auth + [agent, ("auth-result", "RENEWED")],
            subclass="sofia::register_attempt")
    directory = _directory(user_id, realm)
    if final == "sofia::register":
        sw.fire("CUSTOM", lambda: base[:3] + [("presence-hosts", "%s,%s" % (realm, realm))]
                + base[3:] + auth + [agent] + directory, subclass=final)
    else:
        sw.fire("CUSTOM", lambda: [("profile-name", PROFILE), ("username", user_id)]
                + base[1:6] + [("realm", realm)] + base[10:12] + [agent, ("expires", "0")]
                + directory, subclass=final)


def _directory(user_id, realm):
    return [("sip_number_alias", user_id), ("sip_auth_username", user_id),
            ("sip_auth_realm", realm), ("number_alias", user_id), ("user_name", user_id),
            ("domain_name", realm), ("accountcode", user_id), ("user_context", "default"),
            ("effective_caller_id_name", "Extension %s" % user_id),
            ("effective_caller_id_number", user_id), ("outbound_caller_id_name", "FreeSWITCH"),
            ("outbound_caller_id_number", "0000000000")]


def registrations(sw):
    """Rows of ``show registrations``: every registered user."""
    expires = int(sw.clock()) + EXPIRES
    rows = []
    for user_id, settings in sw.users.items():
        if not settings.registered:
            continue
        host, _, port = contact_host(user_id).partition(":")
        rows.append({"reg_user": user_id, "realm": sw.identity.ipv4,
                     "token": "%s@%s" % (user_id, host),
                     "url": "sofia/internal/sip:%s@%s:%s" % (user_id, host, port),
                     "expires": str(expires), "network_ip": host, "network_port": port,
                     "network_proto": "udp", "hostname": sw.identity.hostname, "metadata": ""})
    return rows


# --- the simulator-only API ------------------------------------------------------------------

def api_sim_user(sw, arg):
    """``sim_user set <id> <json>`` | ``sim_user del <id>`` | ``sim_user list``."""
    action, _, rest = arg.strip().partition(" ")
    if action == "list":
        return json.dumps({uid: s.as_dict() for uid, s in sw.users.items()}) + "\n"
    user_id, _, payload = rest.strip().partition(" ")
    if action == "set" and user_id:
        return _set_one(sw, user_id, payload)
    if action == "del" and user_id:
        return "+OK deleted %s\n" % user_id if delete(sw, user_id) else (
            "-ERR no such user %s\n" % user_id)
    return "-ERR usage: sim_user set <id> <json-object> | sim_user del <id> | sim_user list\n"


def _set_one(sw, user_id, payload):
    try:
        settings = validate_user(json_object(payload or "{}"), "user %s" % user_id)
    except (ValueError, ConfigError) as exc:
        return "-ERR %s\n" % _one_line(exc)
    apply(sw, user_id, settings)
    return "+OK set %s\n" % user_id


def api_sim_users(sw, arg):
    """``sim_users <json object id -> settings>``: all validated first, then all applied."""
    try:
        users = json_object(arg)
        validated = {str(uid): validate_user(s, "user %s" % uid) for uid, s in users.items()}
    except (ValueError, ConfigError) as exc:
        return "-ERR %s\n" % _one_line(exc)
    for user_id, settings in validated.items():
        apply(sw, user_id, settings)
    return "+OK set %d users\n" % len(validated)


def json_object(text):
    """A JSON object given as a command's argument (ValueError naming the problem)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError("invalid JSON: %s" % exc) from None
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def _one_line(exc):
    return str(exc).replace("\n", " ")
