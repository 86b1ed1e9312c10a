"""The CRM part of ``acd.yaml``: the ``crm`` lookup and the ``webhooks`` (docs/crm.md).

Theory of operation
-------------------
``acd.config.parse_config`` hands this module the whole file (:func:`read`); it returns a
frozen :class:`CrmConfig` (``None`` without a ``crm`` section) and a tuple of
:class:`Webhook`. ``${VAR}`` in a header value or a webhook secret is replaced by the
environment variable VAR when the file is read; a missing variable is an error that names it,
never its value. Header values and secrets are kept out of every ``repr`` and message.

The lookup URL is checked here once: http or https, a host, and placeholders
(``{caller_number}``, ``{destination}``, ``{caller_name}``, ``{queue}``, ``{call}`` and call
data keys) only in the path or query -- never in the scheme, host or port, so no caller can
choose where acd connects (acd.crm encodes each value and checks the result again).
"""

import re
import string
import urllib.parse
from dataclasses import dataclass, field

from acd import defaults
from acd.config_reader import Reader, items, shown

CRM_KEYS = ("lookup-url", "headers", "timeout-ms", "cache-ttl", "fields", "card-title")
WEBHOOK_KEYS = ("url", "events", "secret", "max-age")
#: Events a webhook may ask for (the CTI stream's, plus call.wrap-up).
WEBHOOK_EVENTS = ("call.queued", "call.offered", "call.answered", "call.updated", "call.held",
                  "call.unheld", "call.transferred", "call.ended", "call.abandoned",
                  "call.wrap-up", "agent.status")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PATH = re.compile(r"\$(\.[A-Za-z0-9_-]+|\[\d+\])*\Z")
_FIELD = re.compile(r"[a-z][a-z0-9_-]{0,31}\Z")
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+\Z")


@dataclass(frozen=True)
class CrmConfig:
    lookup_url: str
    headers: "tuple[tuple[str, str], ...]" = field(default=(), repr=False)
    timeout: float = defaults.CRM_TIMEOUT_MS / 1000
    cache_ttl: int = defaults.CRM_CACHE_TTL
    #: card field -> path in the CRM's JSON answer ("$.company.name")
    fields: "tuple[tuple[str, str], ...]" = ()
    card_title: str = ""


@dataclass(frozen=True)
class Webhook:
    url: str
    events: "tuple[str, ...]" = WEBHOOK_EVENTS
    secret: str = field(default="", repr=False)
    max_age: float = defaults.WEBHOOK_MAX_AGE


def read(top, env, problems):
    """``(CrmConfig | None, (Webhook, ...))`` from the top-level Reader."""
    crm = _crm(top.raw("crm"), env, problems) if top.raw("crm") is not None else None
    hooks = tuple(_webhook(Reader(item, where, WEBHOOK_KEYS, problems), env)
                  for where, item in items(top.raw("webhooks"), "webhooks", problems))
    return crm, hooks


def expand(value, env, r, name):
    """``${VAR}`` replaced from the environment; a missing variable is a problem (named)."""
    def one(found):
        if found.group(1) not in env:
            r.fail(name, f"environment variable {found.group(1)} is not set")
            return ""
        return env[found.group(1)]
    return _ENV.sub(one, value)


def _crm(data, env, problems):
    r = Reader(data, "crm", CRM_KEYS, problems)
    url = r.text("lookup-url", None) or ""
    if not url:
        r.fail("lookup-url", "required (the URL acd asks for a caller's record)")
    else:
        _check_url(r, url)
    return CrmConfig(url, headers=_headers(r, env),
                     timeout=r.integer("timeout-ms", defaults.CRM_TIMEOUT_MS, 1) / 1000,
                     cache_ttl=r.integer("cache-ttl", defaults.CRM_CACHE_TTL, 0),
                     fields=_fields(r), card_title=_title(r))


def _title(r):
    value = r.raw("card-title", "")
    if not isinstance(value, str):
        r.fail("card-title", f"expected a text such as \"{{name}} - {{company}}\", got "
                             f"{shown(value)}")
        return ""
    return value


def placeholders(template):
    """The names of the ``{...}`` placeholders of a template."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def _check_url(r, url):
    try:
        names = placeholders(url)
    except ValueError as exc:
        r.fail("lookup-url", f"malformed placeholder: {exc}")
        return
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        r.fail("lookup-url", f"expected an http:// or https:// URL with a host, got {shown(url)}")
    elif "{" in parts.netloc or "{" in parts.scheme:
        r.fail("lookup-url", "placeholders may be used only in the path and query, "
                             "not in the scheme, host or port")
    elif any(not re.match(r"[A-Za-z_][A-Za-z0-9_]*\Z", n) for n in names):
        r.fail("lookup-url", f"placeholders are names such as {{caller_number}}, got {names}")


def _headers(r, env):
    value = r.raw("headers", {})
    if not isinstance(value, dict):
        r.fail("headers", f"expected a mapping of header names to values, got {shown(value)}")
        return ()
    found = []
    for name, text in value.items():
        if not isinstance(name, str) or not _HEADER.match(name) or not isinstance(text, str):
            r.fail("headers", f"expected header names and string values (value not shown), "
                              f"got a bad entry {shown(name)}")
            continue
        text = expand(text, env, r, f"headers.{name}")
        if "\r" in text or "\n" in text:
            r.fail("headers", f"header {name}: a value may not contain line breaks")
            continue
        found.append((name, text))
    return tuple(found)


def _fields(r):
    value = r.raw("fields", {})
    if not isinstance(value, dict):
        r.fail("fields", f"expected a mapping of card fields to paths like $.a.b, got "
                         f"{shown(value)}")
        return ()
    found = []
    for name, path in value.items():
        if not isinstance(name, str) or not _FIELD.match(name):
            r.fail("fields", f"expected field names of a-z, 0-9, _ and -, got {shown(name)}")
        elif not isinstance(path, str) or not _PATH.match(path):
            r.fail(f"fields.{name}", f"expected a path such as $.company.name or $.emails[0], "
                                     f"got {shown(path)}")
        else:
            found.append((name, path))
    return tuple(found)


def _webhook(r, env):
    url = r.text("url", None) or ""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        r.fail("url", f"expected an http:// or https:// URL with a host, got {shown(url)}")
    events = r.raw("events", list(WEBHOOK_EVENTS))
    if not isinstance(events, list) or not all(e in WEBHOOK_EVENTS for e in events):
        r.fail("events", f"expected a list of {', '.join(WEBHOOK_EVENTS)}; got {shown(events)}")
        events = list(WEBHOOK_EVENTS)
    secret = r.raw("secret", "")
    if not isinstance(secret, str):
        r.fail("secret", "expected a string (value not shown)")
        secret = ""
    secret = expand(secret, env, r, "secret")
    if not secret:
        r.fail("secret", "required: receivers check each delivery's signature with it "
                         "(write secret: ${ACD_WEBHOOK_SECRET} and set the variable)")
    from acd.config_cti import parse_duration
    try:
        max_age = parse_duration(r.raw("max-age", defaults.WEBHOOK_MAX_AGE))
    except ValueError as exc:
        r.fail("max-age", str(exc))
        max_age = defaults.WEBHOOK_MAX_AGE
    return Webhook(url, tuple(events), secret, max_age)

