"""Webhooks: the CTI events pushed to the CRM, signed, retried, in order per call.

Theory of operation
-------------------
**Writing.** :meth:`Webhooks.tap` rides on the CTI event publisher's batches (acd.cti.events):
for each event a configured webhook asks for, one entry ``{hook, url, kind, data, key}`` is
appended to the stream ``Keys.webhooks`` in the same pipelined round trip -- the core never
waits for a webhook.

**Delivering.** Every daemon runs :meth:`Webhooks.run`, a greenlet; the one holding the lease
``Keys.webhooks_deliverer`` reads the stream through the consumer group ``deliver``
(``XREADGROUP``), so each entry is handed to exactly one daemon; a daemon that takes the lease
over first claims what its predecessor left pending (``XAUTOCLAIM``), in stream order. Entries
go into one in-memory queue per (webhook, call) -- per agent for ``agent.status`` -- and one
greenlet per queue POSTs them one after the other: a failing receiver delays only that call's
later events, which keep their order. A delivery is acknowledged (``XACK``) once the receiver
answered 2xx; otherwise it is retried after 1, 2, 4, ... s (times a random 0.5..1.5, at most
``WEBHOOK_RETRY_CAP``) until it is ``max-age`` old (from its stream id), then it goes to the
dead-letter stream ``Keys.webhooks_dead`` (``acd webhooks list-failed``, ``replay``).

**Signing.** Each POST carries ``X-Acd-Event``, ``X-Acd-Delivery`` (the entry id, the same on
every retry), ``X-Acd-Timestamp`` (epoch seconds of this attempt) and ``X-Acd-Signature:
sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` with the webhook's secret (docs/crm.md).
The POST itself (requests) runs through acd.offload: in a greenlet of the daemon's loop, or
unpatched, in a thread of its own.
"""

import collections
import hashlib
import hmac
import json
import logging
import random
import time

import gevent
import gevent.queue
import redis
import requests

from acd import defaults
from acd.offload import Offload
from acd.store.crm import GROUP

log = logging.getLogger("acd.webhooks")

#: Seconds between reads of the stream while nothing arrives.
POLL = 0.2
READ_COUNT = 100


def signature(secret, timestamp, body):
    """``sha256=<hex>`` of ``"<timestamp>.<body>"`` (``body``: bytes)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def entry_age(entry_id, now):
    """Seconds since a stream entry was written (its id is Redis' millisecond clock)."""
    return now - int(entry_id.split("-")[0]) / 1000


class Webhooks:
    """``config``: the Config (``webhooks``); ``client``: a decode_responses Redis client;
    ``keys``: acd.store.keys.Keys; ``hold_lease(key, owner, seconds)``: the store's lease."""

    def __init__(self, config, client, keys, owner, hold_lease):
        self.hooks = config.webhooks
        self.redis, self.keys, self.owner, self.hold_lease = client, keys, owner, hold_lease
        self.retry_base, self.retry_cap = defaults.WEBHOOK_RETRY_BASE, defaults.WEBHOOK_RETRY_CAP
        self.timeout = defaults.WEBHOOK_TIMEOUT
        self.queues = {}                       # (hook, key) -> gevent Queue of entries
        self.workers = {}                      # (hook, key) -> its greenlet
        self.taken = set()                     # entry ids in memory (queued or being sent)
        self.leader = False
        self.pool = Offload(4)
        self.greenlet = None
        self.delivered = self.dead = 0

    # -- writing (in the event publisher's pipeline) -----------------------------------------

    def tap(self, pipe, batch):
        for event in batch:
            for index, hook in enumerate(self.hooks):
                if event.kind in hook.events:
                    data = event.data
                    key = data.get("call") or f"agent:{data.get('agent', '')}"
                    pipe.xadd(self.keys.webhooks, {
                        "hook": index, "url": hook.url, "kind": event.kind,
                        "data": json.dumps(data), "key": key},
                        maxlen=defaults.WEBHOOK_STREAM_MAX_LENGTH, approximate=True)

    # -- delivering ------------------------------------------------------------------------------

    def start(self):
        if self.hooks:
            self.greenlet = gevent.spawn(self.run)
        return self

    def stop(self):
        if self.greenlet is not None:
            self.greenlet.kill(block=False)
        gevent.killall(list(self.workers.values()), block=False)
        self.pool.kill()

    def run(self):
        self._create_group()
        while True:
            try:
                self._turn()
            except redis.RedisError as exc:
                log.warning("webhooks: redis error: %s", exc)
                self.leader = False
                gevent.sleep(1)

    def _create_group(self):
        try:
            self.redis.xgroup_create(self.keys.webhooks, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _turn(self):
        leader = self.hold_lease(self.keys.webhooks_deliverer, self.owner,
                                 defaults.WEBHOOK_LEASE)
        if leader and not self.leader:
            log.info("webhooks: %s delivers now", self.owner)
            self._claim()
        elif not leader and self.leader:
            log.warning("webhooks: %s lost the delivery lease", self.owner)
        self.leader = leader
        if not leader:
            gevent.sleep(defaults.WEBHOOK_LEASE / 3)
            return
        found = self.redis.xreadgroup(GROUP, self.owner, {self.keys.webhooks: ">"},
                                      count=READ_COUNT)
        entries = found[0][1] if found else []
        for entry_id, fields in entries:
            self._queue(entry_id, fields)
        if len(entries) < READ_COUNT:
            gevent.sleep(POLL)

    def _claim(self):
        """Everything pending -- ours from before a restart, a dead daemon's -- in order."""
        self._create_group()
        start, claimed = "0-0", []
        while True:
            reply = self.redis.xautoclaim(self.keys.webhooks, GROUP, self.owner, 0, start,
                                          count=500)
            start, entries = reply[0], reply[1]
            claimed += [e for e in entries if e and e[1]]
            if start in ("0-0", b"0-0"):
                break
        for entry_id, fields in sorted(claimed, key=lambda e: _order(e[0])):
            self._queue(entry_id, fields)

    def _queue(self, entry_id, fields):
        if entry_id in self.taken:
            return
        self.taken.add(entry_id)
        lane = (fields.get("url", ""), fields.get("key", ""))
        if lane not in self.queues:
            self.queues[lane] = gevent.queue.Queue()
            self.workers[lane] = gevent.spawn(self._lane, lane)
        self.queues[lane].put((entry_id, fields))

    def _lane(self, lane):
        """One (webhook, call) lane: its entries one after the other; gone when empty."""
        queue = self.queues[lane]
        try:
            while not queue.empty():
                entry_id, fields = queue.get()
                try:
                    self._deliver(entry_id, fields)
                finally:
                    self.taken.discard(entry_id)
        finally:
            del self.queues[lane], self.workers[lane]

    def _deliver(self, entry_id, fields):
        hook = self._hook(fields)
        if hook is None:
            log.warning("webhooks: %s for %s dropped: no such webhook any more", entry_id,
                        fields.get("url"))
            self.redis.xack(self.keys.webhooks, GROUP, entry_id)
            return
        attempt, error = 0, ""
        while self.leader:
            error = self._post(hook, entry_id, fields)
            if error is None:
                self.redis.xack(self.keys.webhooks, GROUP, entry_id)
                self.delivered += 1
                return
            delay = min(self.retry_cap, self.retry_base * 2 ** attempt) * random.uniform(0.5, 1.5)
            attempt += 1
            if entry_age(entry_id, time.time()) + delay > hook.max_age:
                self._bury(entry_id, fields, attempt, error)
                return
            log.info("webhooks: %s %s to %s failed (%s); retry %d in %.1f s", fields.get("kind"),
                     entry_id, hook.url, error, attempt, delay)
            gevent.sleep(delay)

    def _hook(self, fields):
        try:
            hook = self.hooks[int(fields.get("hook", -1))]
        except (ValueError, IndexError):
            hook = None
        if hook is None or hook.url != fields.get("url"):
            hook = next((h for h in self.hooks if h.url == fields.get("url")), None)
        return hook

    def _post(self, hook, entry_id, fields):
        """None when the receiver took it; else what went wrong (no secrets in it)."""
        body = fields.get("data", "null").encode("utf-8")
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": "acd-webhooks",
                   "X-Acd-Event": fields.get("kind", ""),
                   "X-Acd-Delivery": fields.get("delivery") or entry_id,
                   "X-Acd-Timestamp": stamp,
                   "X-Acd-Signature": signature(hook.secret, stamp, body)}
        try:
            status = self.pool.apply(_send, hook.url, body, headers, self.timeout)
        except Exception as exc:
            return f"{type(exc).__name__}"
        return None if 200 <= status < 300 else f"HTTP {status}"

    def _bury(self, entry_id, fields, attempts, error):
        log.warning("webhooks: %s %s to %s failed for %d attempts (%s): dead letter",
                    fields.get("kind"), entry_id, fields.get("url"), attempts, error)
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(self.keys.webhooks_dead, dict(fields, delivery=fields.get("delivery") or entry_id,
                                                attempts=attempts, error=error,
                                                failed_at=time.time()),
                  maxlen=defaults.WEBHOOK_STREAM_MAX_LENGTH, approximate=True)
        pipe.xack(self.keys.webhooks, GROUP, entry_id)
        pipe.execute()
        self.dead += 1


def _send(url, body, headers, timeout):
    with requests.Session() as session:
        session.trust_env = False
        resp = session.post(url, data=body, headers=headers, timeout=timeout,
                            allow_redirects=False)
        resp.close()
        return resp.status_code


def _order(entry_id):
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


# -- acd webhooks (the dead letters) ---------------------------------------------------------------

def failed(client, keys, count=1000):
    """The dead letters, oldest first: ``[(id, fields), ...]``."""
    return client.xrange(keys.webhooks_dead, count=count)


def replay(client, keys, ids=None):
    """Put dead letters back into the webhook stream (all when ``ids`` is None): their ids."""
    entries = collections.OrderedDict(client.xrange(keys.webhooks_dead))
    chosen = list(entries) if ids is None else [i for i in ids if i in entries]
    pipe = client.pipeline(transaction=True)
    for entry_id in chosen:
        fields = {k: v for k, v in entries[entry_id].items()
                  if k in ("hook", "url", "kind", "data", "key", "delivery")}
        pipe.xadd(keys.webhooks, fields)
        pipe.xdel(keys.webhooks_dead, entry_id)
    pipe.execute()
    return chosen
