"""The CTI part of ``acd.yaml``: logins, tokens and the live event stream (docs/cti.md).

Theory of operation
-------------------
``acd.config.parse_config`` hands this module the whole file once every agent is read
(:func:`read`). It reads

* ``http.session-ttl`` and ``http.trusted-proxies`` (``acd.config`` reads the rest of ``http``),
* ``agents[].password-hash`` and ``agents[].role`` (``acd.config`` reads the rest of each agent),
* the ``cti`` section,

and returns one frozen :class:`CtiConfig` (``config.cti``). Problems are recorded in the shared
:class:`~acd.config_reader.Problems` as ``FILE: key.path: problem``, like every other key; a
password hash is never shown in a message. The key names here are a promise to users.
"""

import ipaddress
import re
import zoneinfo
from dataclasses import dataclass, field

from acd import defaults
from acd.config_reader import Reader, as_text, key_path, shown
from acd.esl.commands import UnsafeValue, parse_contact

#: Keys this module adds to sections acd.config reads.
HTTP_KEYS = ("session-ttl", "trusted-proxies")
AGENT_KEYS = ("password-hash", "role")
CTI_KEYS = ("break-reasons", "event-retention", "event-max-length", "heartbeat", "timezone",
            "dial-template", "dial-pattern", "caller-id-number", "softphone")
SOFTPHONE_KEYS = ("ws-url", "domain")
_WS_URL = re.compile(r"wss?://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~/-]*)?\Z")
_DOMAIN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})\Z")
ROLES = ("agent", "supervisor", "admin")
_REASON = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}\Z")
_ARGON2ID = re.compile(r"\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+\Z")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Account:
    """How an agent logs in: its Argon2id hash ('' = it cannot log in) and its role."""
    password_hash: str = field(default="", repr=False)
    role: str = "agent"


@dataclass(frozen=True)
class Softphone:
    """Where the desktop's softphone registers: ``sip:<agent id>@<domain>`` over ``ws_url``."""
    ws_url: str
    domain: str


@dataclass(frozen=True)
class CtiConfig:
    session_ttl: float = defaults.HTTP_SESSION_TTL
    trusted_proxies: "tuple[str, ...]" = ()
    break_reasons: "tuple[str, ...]" = ()
    event_retention: float = defaults.CTI_EVENT_RETENTION
    event_max_length: int = defaults.CTI_EVENT_MAX_LENGTH
    heartbeat: float = defaults.CTI_HEARTBEAT
    timezone: str = defaults.CTI_TIMEZONE
    #: click-to-dial and transfers to a number (acd/outbound.py): the dial string with
    #: ``{number}``, the pattern a number must match, the caller ID the customer sees
    dial_template: str = defaults.CTI_DIAL_TEMPLATE
    dial_pattern: str = defaults.CTI_DIAL_PATTERN
    caller_id_number: str = ""
    #: the desktop's softphone (docs/cti.md): the switch's WebSocket URL and SIP domain;
    #: None = no softphone
    softphone: "Softphone | None" = None
    #: agent id -> Account, for the agents that have a password-hash or a role
    accounts: "dict[str, Account]" = field(default_factory=dict, repr=False, hash=False,
                                           compare=False)

    def account(self, agent_id):
        return self.accounts.get(agent_id) or Account()


def parse_duration(value):
    """Seconds from a number or a text such as 90s, 15m, 12h, 90d; ValueError otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    found = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if not found:
        raise ValueError(f"expected seconds or a duration such as 90s, 15m, 12h, 90d, "
                         f"got {shown(value)}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def _duration(r, name, default, positive=True):
    value = r.raw(name, default)
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        r.fail(name, str(exc))
        return default
    if positive and seconds <= 0:
        r.fail(name, f"expected a duration above 0, got {shown(value)}")
        return default
    return seconds


def read(top, problems):
    """The CtiConfig of a whole file (``top``: the Reader of its top level)."""
    http = _section(top.raw("http"))
    h = Reader(http, "http", tuple(http), problems)   # acd.config reports unknown keys
    c = Reader(top.raw("cti"), "cti", CTI_KEYS, problems)
    return CtiConfig(
        session_ttl=_duration(h, "session-ttl", defaults.HTTP_SESSION_TTL),
        trusted_proxies=_proxies(h),
        break_reasons=_reasons(c),
        event_retention=_duration(c, "event-retention", defaults.CTI_EVENT_RETENTION),
        event_max_length=c.integer("event-max-length", defaults.CTI_EVENT_MAX_LENGTH, 100),
        heartbeat=c.seconds("heartbeat", defaults.CTI_HEARTBEAT, positive=True),
        timezone=_timezone(c),
        **_dialling(c),
        softphone=_softphone(c.raw("softphone", None), problems),
        accounts=_accounts(top.raw("agents"), problems))


def _softphone(value, problems):
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.error("cti.softphone", "expected a mapping with ws-url and domain, got "
                                        f"{shown(value)}")
        return None
    r = Reader(value, "cti.softphone", SOFTPHONE_KEYS, problems)
    ws_url, domain = r.raw("ws-url", None), r.raw("domain", None)
    if not (isinstance(ws_url, str) and _WS_URL.match(ws_url)):
        r.fail("ws-url", f"expected the switch's WebSocket URL such as "
                         f"wss://pbx.example.net:7443, got {shown(ws_url)}")
    elif not (isinstance(domain, str) and _DOMAIN.match(domain)):
        r.fail("domain", f"expected the agents' SIP domain such as pbx.example.net, "
                         f"got {shown(domain)}")
    else:
        return Softphone(ws_url, domain)
    return None


def _section(value):
    return value if isinstance(value, dict) else {}


def _proxies(r):
    value = r.raw("trusted-proxies", [])
    if not isinstance(value, list):
        r.fail("trusted-proxies", f"expected a list of IP addresses, got {shown(value)}")
        return ()
    found = []
    for i, item in enumerate(value):
        try:
            found.append(str(ipaddress.ip_address(str(item))))
        except ValueError:
            r.problems.error(f"http.trusted-proxies[{i}]",
                             f"expected an IP address such as 127.0.0.1, got {shown(item)}")
    return tuple(found)


def _reasons(r):
    value = r.raw("break-reasons", [])
    if not isinstance(value, list):
        r.fail("break-reasons", f"expected a list of reasons such as [lunch, training], "
                                f"got {shown(value)}")
        return ()
    found = []
    for i, item in enumerate(value):
        text = as_text(item)
        if text is None or not _REASON.match(text):
            r.problems.error(f"cti.break-reasons[{i}]",
                             "expected a reason of lower-case letters, digits and _ . - "
                             f"(at most 32), got {shown(item)}")
        elif text in found:
            r.problems.error(f"cti.break-reasons[{i}]", f"duplicate reason {text!r}")
        else:
            found.append(text)
    return tuple(found)


def _dialling(r):
    """cti.dial-template, dial-pattern, caller-id-number: checked as acd will use them."""
    template = r.text("dial-template", defaults.CTI_DIAL_TEMPLATE)
    try:
        parse_contact(template.replace("{number}", "+4930123456"))
        if "{number}" not in template:
            raise UnsafeValue("it has no {number}")
    except UnsafeValue as exc:
        r.fail("dial-template", "expected a FreeSWITCH dial string with {number}, such as "
                                f"sofia/gateway/pstn/{{number}} ({exc}), got {shown(template)}")
        template = defaults.CTI_DIAL_TEMPLATE
    pattern = r.text("dial-pattern", defaults.CTI_DIAL_PATTERN)
    try:
        compiled = re.compile(pattern)
        probe = [n for n in ("+49 30", "1}", "1,a=b", "1&park()", "user/1") if compiled.fullmatch(n)]
        if probe:
            raise re.error(f"it admits {probe[0]!r}, which is not a phone number")
    except re.error as exc:
        r.fail("dial-pattern", f"expected a regular expression for phone numbers such as "
                               f"^\\+?[0-9]{{2,15}}$ ({exc}), got {shown(pattern)}")
        pattern = defaults.CTI_DIAL_PATTERN
    number = as_text(r.raw("caller-id-number", "")) or ""
    if number and not re.fullmatch(r"\+?[0-9]{1,20}", number):
        r.fail("caller-id-number", f"expected a phone number such as +4930123456, got "
                                   f"{shown(number)}")
        number = ""
    return dict(dial_template=template, dial_pattern=pattern, caller_id_number=number)


def _timezone(r):
    name = r.text("timezone", defaults.CTI_TIMEZONE)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        r.fail("timezone", f"expected a time zone such as UTC or Europe/Berlin, got {shown(name)}")
        return defaults.CTI_TIMEZONE
    return name


def _accounts(agents, problems):
    """agent id -> Account for the agents with a password-hash or a role."""
    accounts = {}
    for i, item in enumerate(agents if isinstance(agents, list) else []):
        if not isinstance(item, dict) or not any(k in item for k in AGENT_KEYS):
            continue
        where = f"agents[{i}]"
        r = Reader(item, where, tuple(item), problems)   # acd.config reports unknown keys
        account = Account(_password_hash(r), r.choice("role", "agent", ROLES))
        agent_id = as_text(item.get("id"))
        if agent_id:
            accounts[agent_id] = account
    return accounts


def _password_hash(r):
    value = r.raw("password-hash", None)
    if value is None:
        return ""
    if not isinstance(value, str) or not _ARGON2ID.match(value.strip()):
        got = "a string that is not one" if isinstance(value, str) else shown(value)
        r.problems.error(key_path(r.where, "password-hash"),
                         "expected an Argon2id hash as `acd passwd` prints it "
                         f"($argon2id$v=19$m=...,t=...,p=...$...$...), got {got}")
        return ""
    return value.strip()
