"""CTI state in Redis: the event stream, login sessions and tokens, login throttling, the call
records' per-agent index and today's per-queue counts.

Theory of operation
-------------------
Everything here is shared by every daemon on the same Redis, like the agents and queues of
:class:`~acd.store.Store`:

* **Events** go to one stream (``Keys.events``) through ``lua/cti/publish.lua``, which appends
  and trims in one step; the stream's entry ids give every daemon's events one order, and a
  client that reconnects reads what it missed with :meth:`CtiStore.events_after`.
* **Credentials** are stored under the SHA-256 of the token, never the token: a login session
  (``Keys.session``, expiring with the session), a long-lived integration token
  (``Keys.api_token``, listed in ``Keys.api_tokens`` by a short id), a single-use event-stream
  ticket (``Keys.ticket``, taken with GETDEL).
* **Wrong passwords** are counted per agent and per client address (``Keys.login_failures``);
  ``lua/cti/login_wait.lua`` says how long the next try must wait.
* **Call records** (acd.records) are appended with ``lua/cti/record.lua``, which also pushes the
  record's id onto the recent list of each agent it concerns.

Times are passed in (``now``). Each script states its KEYS and ARGV; every key comes from
:class:`~acd.store.keys.Keys`.
"""

import json

from acd.store.keys import Keys, sha256
from acd.store.scripted import ScriptedStore

#: Record ids kept per agent for GET /api/v1/agents/{id}/calls.
RECENT_PER_AGENT = 50
#: Seconds an agent's recent list outlives its last call.
RECENT_KEEP = 30 * 86400
#: Seconds a day's queue counts are kept.
DAY_STATS_KEEP = 3 * 86400


def stream_id(text):
    """A stream entry id "ms-seq" as a comparable pair; ValueError when it is not one."""
    ms, sep, seq = str(text).partition("-")
    if not (ms.isdigit() and (not sep or seq.isdigit())) or len(ms) > 20 or len(seq) > 20:
        raise ValueError(f"not a stream id: {text!r}")
    return int(ms), int(seq or 0)


class CtiStore(ScriptedStore):
    folder = "cti"

    # -- events -------------------------------------------------------------------------------

    def publish(self, pipe, kind, data, agents, queue, max_length, retention, agent_of=None):
        """Queue one event on ``pipe`` (its result: the entry id). ``data``: JSON text;
        ``agent_of``: an agent whose stored status, state, call, reason and ready_at go with
        the entry (fields ``agent_status``, ...; see :func:`agent_fields`)."""
        keys = [self.keys.events] + ([self.keys.agent(agent_of)] if agent_of else [])
        # EVALSHA itself: a Script object on a pipeline costs a SCRIPT EXISTS round trip per
        # execute (redis-py); after a Redis restart the caller reloads (load_scripts) and retries
        pipe.evalsha(self._scripts["publish"].sha, len(keys), *keys, kind, data,
                     ",".join(agents), queue or "", max_length, int(retention * 1000))

    def load_scripts(self):
        """Load the scripts into Redis (after a NOSCRIPT error: Redis restarted or flushed)."""
        for script in self._scripts.values():
            script.sha = self.redis.script_load(script.script)

    def last_event_id(self):
        """The newest entry's id, or "0-0"."""
        newest = self.redis.xrevrange(self.keys.events, count=1)
        return newest[0][0] if newest else "0-0"

    def events_after(self, last_id, count=500):
        """Up to ``count`` entries after ``last_id``: [(id, fields), ...]."""
        return self.redis.xrange(self.keys.events, min=f"({last_id}", count=count)

    def read_new(self, last_id, block_ms, count=1000):
        """Entries after ``last_id``, waiting up to ``block_ms`` for the first (XREAD BLOCK)."""
        found = self.redis.xread({self.keys.events: last_id}, count=count, block=block_ms)
        return found[0][1] if found else []

    def lost_since(self, last_id):
        """Whether events after ``last_id`` may have been trimmed away: the entry is gone and
        older than the oldest one kept."""
        if self.redis.xrange(self.keys.events, min=last_id, max=last_id):
            return False
        oldest = self.redis.xrange(self.keys.events, count=1)
        return not oldest or stream_id(last_id) < stream_id(oldest[0][0])

    # -- call records ---------------------------------------------------------------------------

    def append_record(self, record, agents, max_length, min_id_ms):
        """Append a call record (flat strings) and index it under ``agents``; its id."""
        args = [max_length, max(int(min_id_ms), 0), RECENT_PER_AGENT, RECENT_KEEP]
        for name, value in record.items():
            args += [name, value]
        return self._scripts["record"](
            keys=[self.keys.records] + [self.keys.agent_recent(a) for a in agents], args=args)

    def recent_records(self, agent_id, limit):
        """The agent's latest call records, newest first: [(id, fields), ...]."""
        ids = self.redis.lrange(self.keys.agent_recent(agent_id), 0, max(limit, 1) - 1)
        pipe = self.redis.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xrange(self.keys.records, min=entry_id, max=entry_id)
        return [found[0] for found in pipe.execute() if found]  # trimmed ones are gone

    # -- today's counts -------------------------------------------------------------------------

    def count_day(self, pipe, day, queue, counts):
        """Queue increments of today's counts of ``queue`` on ``pipe``."""
        key = self.keys.day_stats(day, queue)
        for name, value in counts.items():
            pipe.hincrby(key, name, value)
        pipe.expire(key, DAY_STATS_KEEP)

    def day_counts(self, day, queues):
        """{queue: {name: count}} of ``day``."""
        pipe = self.redis.pipeline(transaction=False)
        for queue in queues:
            pipe.hgetall(self.keys.day_stats(day, queue))
        return {queue: {k: int(v) for k, v in found.items()}
                for queue, found in zip(queues, pipe.execute())}

    # -- sessions, tokens, tickets ----------------------------------------------------------------

    def save_session(self, token, fields, ttl):
        pipe = self.redis.pipeline()
        pipe.hset(self.keys.session(sha256(token)), mapping=_flat(fields))
        pipe.expire(self.keys.session(sha256(token)), max(1, int(ttl)))
        pipe.execute()

    def session(self, digest):
        return self.redis.hgetall(self.keys.session(digest)) or None

    def end_session(self, digest):
        return bool(self.redis.delete(self.keys.session(digest)))

    def save_token(self, token, fields, ttl):
        """An integration token under ``fields["id"]``; ``ttl`` None = until revoked."""
        digest = sha256(token)
        pipe = self.redis.pipeline()
        pipe.hset(self.keys.api_token(digest), mapping=_flat(fields))
        if ttl:
            pipe.expire(self.keys.api_token(digest), max(1, int(ttl)))
        pipe.hset(self.keys.api_tokens, fields["id"], digest)
        pipe.execute()

    def api_token(self, digest):
        return self.redis.hgetall(self.keys.api_token(digest)) or None

    def tokens(self):
        """Every integration token's fields (expired ones are dropped from the list)."""
        index = self.redis.hgetall(self.keys.api_tokens)
        pipe = self.redis.pipeline(transaction=False)
        for digest in index.values():
            pipe.hgetall(self.keys.api_token(digest))
        found = []
        for token_id, fields in zip(index, pipe.execute()):
            if fields:
                found.append(fields)
            else:
                self.redis.hdel(self.keys.api_tokens, token_id)
        return sorted(found, key=lambda f: (f.get("created_at", ""), f.get("id", "")))

    def revoke_token(self, token_id):
        """End an integration token by its id; False when there is none."""
        digest = self.redis.hget(self.keys.api_tokens, token_id)
        if digest is None:
            return False
        pipe = self.redis.pipeline()
        pipe.delete(self.keys.api_token(digest))
        pipe.hdel(self.keys.api_tokens, token_id)
        pipe.execute()
        return True

    def save_ticket(self, ticket, payload, ttl):
        self.redis.set(self.keys.ticket(sha256(ticket)), json.dumps(payload), ex=int(ttl))

    def take_ticket(self, ticket):
        """The ticket's payload, once (the ticket is deleted); None if unknown or expired."""
        found = self.redis.getdel(self.keys.ticket(sha256(ticket)))
        return json.loads(found) if found else None

    # -- wrong passwords ------------------------------------------------------------------------

    def login_wait(self, agent_id, address, now, free_agent, free_address, delay, max_delay):
        """Seconds the next login of ``agent_id`` from ``address`` must wait (0: none)."""
        return float(self._scripts["login_wait"](
            keys=[self.keys.login_failures("agent", agent_id),
                  self.keys.login_failures("address", address)],
            args=[now, free_agent, free_address, delay, max_delay]))

    def login_failed(self, agent_id, address, now, window):
        """Count a wrong password; returns (failures of the agent, of the address)."""
        pipe = self.redis.pipeline()
        for key in (self.keys.login_failures("agent", agent_id),
                    self.keys.login_failures("address", address)):
            pipe.hincrby(key, "count", 1)
            pipe.hset(key, "last", now)
            pipe.expire(key, max(1, int(window)))
        found = pipe.execute()
        return found[0], found[3]

    def login_succeeded(self, agent_id):
        self.redis.delete(self.keys.login_failures("agent", agent_id))


#: The agent fields publish.lua stores with an agent.status entry (``agent_<name>``).
AGENT_FIELDS = ("status", "state", "call", "status_reason", "ready_at")


def agent_fields(fields):
    """{name: value} of the agent fields of a stream entry ({} when it has none)."""
    return {name: fields[f"agent_{name}"] for name in AGENT_FIELDS if f"agent_{name}" in fields}


def _flat(fields):
    return {k: "" if v is None else str(v) for k, v in fields.items()}


__all__ = ["CtiStore", "Keys", "agent_fields", "stream_id"]
