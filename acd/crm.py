"""The CRM lookup: the caller's record from the customer's CRM, on the agent's card.

Theory of operation
-------------------
:class:`CrmLookup` is a router observer. When a call is queued (``enqueue``: from the dialplan
or handed over by the IVR) it spawns one greenlet for the lookup and returns at once -- routing
never waits for the CRM. The greenlet

1. reads the card cached for the caller number in Redis (``crm.cache-ttl``, shared by every
   daemon): result ``cached``;
2. otherwise builds the URL from ``crm.lookup-url`` -- each placeholder's value URL-encoded
   with nothing left safe, then the result checked to have the configured scheme, host and
   port, so no caller ID can send acd elsewhere -- and GETs it with requests (through
   acd.offload: it never blocks the daemon's loop), following redirects only to the
   same scheme, host and port and reading at most ``CRM_MAX_BODY`` bytes;
3. turns the JSON answer into a card (:func:`make_card`): ``fields`` resolved by dotted paths
   (:func:`resolve`), ``title`` from ``card-title``, ``open_url`` when it is http(s).

The answer is handed to the daemon's loop (``router.post``), which attaches it to the call (the
QueueCall, so a later ``call.offered`` carries it, and the call's Redis hash, so
``GET /api/v1/calls/{uuid}`` and a reloaded desktop show it); if the call was already offered or
answered it is pushed as ``call.updated``. The call record takes it at the end (acd.records).

An answer later than ``timeout-ms`` counts as ``timeout`` -- and is still attached and pushed
when it arrives within ``CRM_LATE_LIMIT`` seconds. Every lookup is counted once, as the
decision ``crm-lookup`` (result ok | timeout | error | cached; acd.metrics). Header values
(tokens) are never logged.
"""

import json
import logging
import string
import urllib.parse

import gevent
import requests

from acd import defaults
from acd.offload import Offload

log = logging.getLogger("acd.crm")

#: Seconds a lookup past its timeout may still take before its answer is dropped.
CRM_LATE_LIMIT = 5.0
CALL_UPDATED = "call.updated"


class LookupError_(Exception):
    """A CRM answer acd does not use (its message is safe to log: no header values)."""


def render_url(template, values):
    """The lookup URL with every placeholder's value URL-encoded (missing: empty); ValueError
    if the result would not have the template's scheme, host and port."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    url = template.format(**{n: urllib.parse.quote(str(values.get(n) or ""), safe="")
                             for n in names})
    wanted = urllib.parse.urlsplit(template.format(**{n: "" for n in names}))
    got = urllib.parse.urlsplit(url)
    if (got.scheme, got.netloc) != (wanted.scheme, wanted.netloc) or got.scheme not in (
            "http", "https"):
        raise ValueError("the lookup URL's scheme or host would change")
    return url


def resolve(document, path):
    """A value of a JSON document by a path such as ``$.company.name`` or ``$.emails[0]``
    (a dotted subset of JSONPath: names and list indexes only); None when it is not there."""
    node = document
    for part in path[1:].replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("["):
            index = int(part[1:-1])
            node = node[index] if isinstance(node, list) and index < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def make_card(crm, document):
    """The card the desktop shows: ``{"title", "fields": {name: text}, "open_url"}``."""
    fields = {}
    for name, path in crm.fields:
        value = resolve(document, path)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            fields[name] = str(value)[:500]
        elif isinstance(value, bool):
            fields[name] = "yes" if value else "no"
    open_url = fields.pop("open-url", None)
    if open_url is not None and urllib.parse.urlsplit(open_url).scheme not in ("http", "https"):
        open_url = None
    title = ""
    if crm.card_title:
        title = _Missing(fields).format(crm.card_title).strip(" -\u2014|,")
    return {"title": title, "fields": fields, "open_url": open_url}


class _Missing(string.Formatter):
    def __init__(self, fields):
        self.fields = fields

    def format(self, template):  # noqa: A003 -- string.Formatter's name
        try:
            return self.vformat(template, (), self.fields)
        except (ValueError, IndexError):
            return ""

    def get_value(self, key, args, kwargs):
        return kwargs.get(key, "")


def fetch(crm, url, max_body=defaults.CRM_MAX_BODY, max_redirects=defaults.CRM_MAX_REDIRECTS):
    """GET the lookup URL; the parsed JSON answer. LookupError_ for anything unusable."""
    origin = urllib.parse.urlsplit(url)[:2]
    timeout = max(crm.timeout, 0.05) + CRM_LATE_LIMIT
    with requests.Session() as session:
        session.trust_env = False         # no proxies or .netrc from the environment
        for _ in range(max_redirects + 1):
            with session.get(url, headers=dict(crm.headers), timeout=timeout, stream=True,
                             allow_redirects=False) as resp:
                if resp.is_redirect:
                    url = urllib.parse.urljoin(url, resp.headers.get("Location", ""))
                    if urllib.parse.urlsplit(url)[:2] != origin:
                        raise LookupError_("redirected to another host (refused)")
                    continue
                if resp.status_code == 404:
                    return None                   # the CRM does not know the caller
                if resp.status_code != 200:
                    raise LookupError_(f"HTTP {resp.status_code}")
                body = resp.raw.read(max_body + 1, decode_content=True)
                if len(body) > max_body:
                    raise LookupError_(f"answer longer than {max_body} bytes")
                try:
                    return json.loads(body)
                except ValueError:
                    raise LookupError_("the answer is not JSON") from None
        raise LookupError_("too many redirects")


class CrmLookup:
    """The observer. ``router``: the daemon's router (calls, post, observers); ``events``: the
    CTI EventPublisher; ``store``: an acd.store.crm.CrmStore."""

    def __init__(self, crm, router, events, store):
        self.crm, self.router, self.events, self.store = crm, router, events, store
        self.pool = Offload(4)

    def stop(self):
        self.pool.kill()

    def __call__(self, what, call, agent, details):
        if what == "enqueue" and call is not None and call.crm is None:
            values = dict(call.data or {}, caller_number=call.caller_number,
                          caller_name=call.caller_name, destination=call.destination,
                          queue=call.queue, call=call.uuid)
            gevent.spawn(self.lookup, call.uuid, call.caller_number, values)

    def lookup(self, uuid, number, values):
        """One lookup (its own greenlet): cache, then the CRM."""
        try:
            card = self.store.cached_card(number) if self.crm.cache_ttl and number else None
        except Exception as exc:          # redis down: ask the CRM
            log.warning("crm cache unreadable: %s", exc)
            card = None
        if card is not None:
            self._counted(uuid, "cached", card)
            return
        try:
            url = render_url(self.crm.lookup_url, values)
        except (ValueError, KeyError) as exc:
            log.warning("crm lookup for call %s not made: %s", uuid, exc)
            self._counted(uuid, "error", None)
            return
        job = self.pool.spawn(self._fetch, url)
        job.wait(self.crm.timeout)
        late = not job.ready()
        if late:   # counted now; its answer is still attached if it comes
            self._counted(uuid, "timeout", None)
            job.wait(CRM_LATE_LIMIT + self.crm.timeout + 1)
            if not job.ready():
                return
        try:
            document = job.get(block=False)
        except Exception as exc:
            log.warning("crm lookup for call %s failed: %s", uuid, _safe(exc))
            if not late:
                self._counted(uuid, "error", None)
            return
        card = make_card(self.crm, document if isinstance(document, dict) else {})
        if not late:
            self._counted(uuid, "ok", card)
        else:
            self.router.post(self.attach, uuid, card)
        try:
            self.store.cache_card(number, card, self.crm.cache_ttl)
        except Exception as exc:
            log.warning("crm card not cached: %s", exc)

    def _fetch(self, url):
        return fetch(self.crm, url)

    def _counted(self, uuid, result, card):
        self.router.post(self._result, uuid, result, card)

    def _result(self, uuid, result, card):
        self.router.decide("crm-lookup", self.router.calls.get(uuid), result=result)
        if card is not None:
            self.attach(uuid, card)

    def attach(self, uuid, card):
        """In the daemon's loop: the card onto the call; pushed if the call rings or talks."""
        call = self.router.calls.get(uuid)
        if call is None:
            return
        call.crm = card
        self.store.attach(uuid, "crm", card)
        agents = sorted(set(call.offers.values()) | ({call.agent} if call.agent else set()))
        if agents:
            agent = call.agent or (agents[0] if len(agents) == 1 else None)
            self.events.call_event(CALL_UPDATED, call, agent, agents=agents, crm=card)
            self.events.flush()


def _safe(exc):
    """An exception's text without header values (requests does not put them in messages;
    the URL may hold the caller's number, which the decision log shows anyway)."""
    return f"{type(exc).__name__}: {exc}"[:300]
