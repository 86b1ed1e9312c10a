"""Agent and queue state in Redis, shared by every acd daemon.

Theory of operation
-------------------
An agent is a hash (``Keys.agent``): ``status`` is what the agent or an admin chose
(logged-out | available | on-break), ``state`` is where it is in a call
(waiting | reserved | ringing | in-call | wrap-up). An agent that can be offered a call right now
-- available, waiting, past its wrap-up or delay -- sits in the ``avail`` sorted set of each of its
queues, scored by the queue's strategy (``lua/_score.lua``), so choosing one is a ZRANGE:
O(log n), no scan. Reserving it (``reserve.lua``) is one atomic check-and-set that takes it out of
every avail set: two daemons can race for an agent and only one wins. A reservation carries a
lease (``leases`` zset): the owning daemon renews it while the call lives; if the daemon dies the
lease runs out and any daemon releases the agent. Wrap-up and penalty delays put the agent in
``pending`` scored by the time it becomes ready; ``promote`` brings it back.

Callers wait in a sorted set per queue scored ``enqueued_at - priority`` (lowest is served first),
with their details in a hash per call. Each Lua script states its KEYS and ARGV; every key comes in
through KEYS, built by :class:`~acd.store.keys.Keys`. Time is always passed in (``now``).
"""

import json
import pathlib
import random

import redis

from acd.store.connect import is_cluster
from acd.store.keys import Keys
from acd.store.daemons import ORDER_AHEAD, ORDER_GRACE, Daemons
from acd.store.skill_index import SkillIndex

LUA = pathlib.Path(__file__).with_name("lua")
#: Seconds an agent whose phone is not registered waits before the next offer.
UNREGISTERED_DELAY = 5.0
#: Agent hash fields that come from the config (everything else is runtime state).
CONFIG_FIELDS = ("name", "contact", "max_no_answer", "wrap_up_time", "reject_delay_time",
                 "busy_delay_time", "no_answer_delay_time", "ring_timeout")
_INT_FIELDS = ("calls_answered", "no_answer_count", "max_no_answer")
_FLOAT_FIELDS = ("talk_time", "idle_since", "ready_at", "lease_until", "answered_at",
                 "offered_at", "wrap_up_time", "reject_delay_time", "busy_delay_time",
                 "no_answer_delay_time", "last_call_end", "status_since")
LEVEL = 10 ** 13  # must match lua/_score.lua
#: Agents per pipelined round trip when syncing the config into Redis.
SYNC_CHUNK = 500
#: Seconds a call's routing explanation is kept after its last offer.
ROUTING_KEEP = 86400


def _caller_key(number):
    """A caller number usable in a key (digits, +, letters); '' when there is none."""
    number = "".join(ch for ch in str(number or "")
                     if ch.isascii() and (ch.isalnum() or ch in "+_.@-"))[:64]
    return number if number not in ("", "0000000000") else ""


class TierRef:
    """An agent's membership in one queue, as the scoring needs it (``skill_order`` for a
    queue with strategy ``skills``)."""

    __slots__ = ("queue", "strategy", "level", "position", "skill_order", "match_sets")

    def __init__(self, queue, strategy, level=1, position=1, skill_order="best-match",
                 match_sets=()):
        self.queue, self.strategy, self.level, self.position = queue, strategy, level, position
        self.skill_order = skill_order
        #: requirement skill sets (sorted tuples, 2 or more skills) the queue keeps a set for
        self.match_sets = tuple(match_sets)

    @property
    def skills(self):
        return self.strategy == "skills"

    def __repr__(self):
        return f"TierRef({self.queue!r}, {self.strategy!r}, {self.level}, {self.position})"


class Store(Daemons, SkillIndex):
    """``tiers_of(agent_id) -> [TierRef]`` tells the store which queues an agent serves."""

    def __init__(self, client, prefix="acd", tiers_of=lambda agent_id: []):
        self.redis = client
        self.keys = Keys(prefix, cluster=is_cluster(client))
        self.tiers_of = tiers_of
        prelude = (LUA / "_score.lua").read_text()
        self._scripts = {}
        for path in sorted(LUA.glob("[a-z]*.lua")):
            body = path.read_text()
            self._scripts[path.stem] = client.register_script(prelude + "\n" + body)

    @classmethod
    def from_url(cls, url, prefix="acd", tiers_of=lambda agent_id: []):
        return cls(redis.Redis.from_url(url, decode_responses=True), prefix, tiers_of)

    def ping(self):
        return bool(self.redis.ping())

    # -- helpers ------------------------------------------------------------------------------

    def _queue_args(self, tiers, agent_id=None, skills=None):
        """KEYS (avail..., offers..., skill zsets...) and ARGV (3 per queue, then the skill
        section) for the scoring prelude. An agent in a skills queue has its skills read from
        Redis unless ``skills`` ({name: level}) is given."""
        keys = [self.keys.avail(t.queue) for t in tiers] + [self.keys.offers(t.queue) for t in tiers]
        argv = []
        for t in tiers:
            argv += [t.strategy, t.level, t.position]
        section = []
        if any(t.skills for t in tiers):
            if skills is None:
                skills = self.agent_skills(agent_id)
            for i, t in enumerate(tiers):
                if not t.skills:
                    continue
                for name, level in sorted(skills.items()):
                    keys.append(self.keys.queue_skill(t.queue, name))
                    section += [i, t.skill_order, level, 1]
                for names in t.match_sets:
                    if all(name in skills for name in names):
                        keys.append(self.keys.match_set(t.queue, names))
                        section += [i, t.skill_order, sum(skills[n] for n in names), len(names)]
        return keys, argv + [len(section) // 4] + section

    @staticmethod
    def _decode_agent(raw):
        if not raw:
            return None
        agent = dict(raw)
        for name in _INT_FIELDS:
            if name in agent:
                agent[name] = int(float(agent[name]))
        for name in _FLOAT_FIELDS:
            if name in agent and agent[name] != "":
                agent[name] = float(agent[name])
        return agent

    # -- agents -------------------------------------------------------------------------------

    def sync_agent(self, agent_id, config, initial_status, now):
        """Create the agent at first sight (with ``initial_status``) or refresh its config fields;
        runtime state survives. Its queues come from ``tiers_of``. ``config["skills"]``: see
        :meth:`_config_skills`."""
        self.sync_agents([(agent_id, config, initial_status)], now)

    def sync_agents(self, agents, now, chunk=SYNC_CHUNK):
        """:meth:`sync_agent` for many ``(agent_id, config, initial_status)``: two pipelined
        round trips per ``chunk`` agents (a 10,000-agent center syncs in well under a second)."""
        for start in range(0, len(agents), chunk):
            part = agents[start:start + chunk]
            pipe = self.redis.pipeline(transaction=False)
            for agent_id, _, _ in part:
                pipe.hkeys(self.keys.agent_tiers(agent_id))
                pipe.hmget(self.keys.agent(agent_id), "skills", "config_skills")
            found = pipe.execute()
            pipe = self.redis.pipeline(transaction=False)
            for i, (agent_id, config, initial_status) in enumerate(part):
                self._sync_one(pipe, agent_id, config, initial_status, now, set(found[2 * i]),
                               found[2 * i + 1])
            pipe.execute()

    def _sync_one(self, pipe, agent_id, config, initial_status, now, old_queues, skill_fields):
        tiers = self.tiers_of(agent_id)
        left = sorted(old_queues - {t.queue for t in tiers})
        skills = self._config_skills(pipe, agent_id, config.get("skills"), tiers, *skill_fields)
        keys, argv = self._queue_args(tiers, agent_id, skills)
        fields = {k: ("" if config.get(k) is None else config[k]) for k in CONFIG_FIELDS
                  if k in config}
        self._scripts["sync_agent"](
            keys=[self.keys.agent(agent_id), self.keys.agent_tiers(agent_id), self.keys.agents,
                  self.keys.pending] + keys + [self.keys.avail(q) for q in left],
            args=[agent_id, now, len(tiers), len(left), json.dumps(fields), initial_status,
                  json.dumps({t.queue: f"{t.level}:{t.position}" for t in tiers})] + argv,
            client=pipe)

    def remove_agent(self, agent_id, now):
        """An agent that left the config: logged out, out of every queue (its history stays)."""
        self.set_status(agent_id, "logged-out", now)
        for queue in self.redis.hkeys(self.keys.agent_tiers(agent_id)):
            self.redis.zrem(self.keys.avail(queue), agent_id)

    def set_status(self, agent_id, status, now, reason=""):
        """Set logged-out | available | on-break (``reason``: why, e.g. a break reason; kept
        as ``status_reason``); returns the agent. KeyError if unknown."""
        if status not in ("logged-out", "available", "on-break"):
            raise ValueError(f"invalid status {status!r}")
        tiers = self.tiers_of(agent_id)
        keys, argv = self._queue_args(tiers, agent_id)
        try:
            self._scripts["set_status"](
                keys=[self.keys.agent(agent_id), self.keys.pending] + keys,
                args=[agent_id, now, status, len(tiers), reason or ""] + argv)
        except redis.ResponseError as exc:
            if "no such agent" in str(exc):
                raise KeyError(agent_id) from None
            raise
        return self.agent(agent_id)

    def agent(self, agent_id):
        """The agent as a dict (numbers decoded), or None."""
        return self._decode_agent(self.redis.hgetall(self.keys.agent(agent_id)))

    def any_available(self, agent_ids):
        """Is any of these agents logged in as available (whatever its state)?"""
        pipe = self.redis.pipeline(transaction=False)
        for agent_id in agent_ids:
            pipe.hget(self.keys.agent(agent_id), "status")
        return "available" in pipe.execute()

    def agent_ids(self):
        return sorted(self.redis.smembers(self.keys.agents))

    def agents(self):
        ids = self.agent_ids()
        pipe = self.redis.pipeline(transaction=False)
        for agent_id in ids:
            pipe.hgetall(self.keys.agent(agent_id))
        return [a for a in map(self._decode_agent, pipe.execute()) if a]

    def candidates(self, queue, max_level=None, limit=1, shuffle=False):
        """Agents offerable in ``queue``, best first, at tier level <= ``max_level``.

        ``shuffle`` (strategy ``random``): agents at uniformly random ranks of that band instead --
        levels are the lowest scores, so the band is a prefix and a rank lookup is O(log n)."""
        high = "+inf" if max_level is None else f"({(int(max_level) + 1) * LEVEL}"
        key = self.keys.avail(queue)
        if not shuffle:
            return self.redis.zrangebyscore(key, "-inf", high, start=0, num=limit)
        return self._random_candidates(key, high, limit)

    def counted_candidates(self, queue, max_level=None, limit=1, pipe=None):
        """(``candidates``, how many agents are offerable in that band) in one round trip --
        or queued on ``pipe`` (two results)."""
        high = "+inf" if max_level is None else f"({(int(max_level) + 1) * LEVEL}"
        key = self.keys.avail(queue)
        own = pipe is None
        pipe = self.redis.pipeline(transaction=False) if own else pipe
        pipe.zrangebyscore(key, "-inf", high, start=0, num=limit)
        pipe.zcount(key, "-inf", high)
        return tuple(pipe.execute()) if own else None

    def _random_candidates(self, key, high, limit):
        band = self.redis.zcount(key, "-inf", high)
        ranks = random.sample(range(band), min(limit, band))
        pipe = self.redis.pipeline(transaction=False)
        for rank in ranks:
            pipe.zrange(key, rank, rank)
        return [found[0] for found in pipe.execute() if found]

    def available_count(self, queue, max_level=None):
        high = "+inf" if max_level is None else f"({(int(max_level) + 1) * LEVEL}"
        return self.redis.zcount(self.keys.avail(queue), "-inf", high)

    def reserve(self, agent_id, call_uuid, queue, owner, now, lease, leg="", explanation=None,
                ordered=False):
        """Atomically reserve an offerable agent for ``call_uuid``; False if it is not offerable
        (taken by another call or daemon, changed status, in a delay). With ``leg`` the agent is
        ringing on that leg at once, and ``explanation`` (a JSON-ready dict) is appended to the
        call's routing record (:meth:`routing`) in the same step. ``ordered``: the queue keeps
        one order across daemons; None (not False) when a caller of another daemon is ahead
        and may take the agent (that daemon is woken to offer it: reserve.lua)."""
        tiers = self.tiers_of(agent_id)
        got = self._scripts["reserve"](
            keys=[self.keys.agent(agent_id), self.keys.leases, self.keys.pending,
                  self.keys.offers(queue), self.keys.routing(call_uuid)]
            + [self.keys.avail(t.queue) for t in tiers]
            + [self.keys.callers(queue), self.keys.ready(queue), self.keys.nudged(queue),
               self.keys.ready_owners, self.keys.alive],
            args=[agent_id, call_uuid, owner, now, now + lease, len(tiers), leg,
                  "" if explanation is None else json.dumps(explanation, sort_keys=True),
                  ROUTING_KEEP, "1" if ordered else "", ORDER_GRACE, ORDER_AHEAD,
                  self.keys.wake, queue])
        return None if int(got) < 0 else bool(got)

    def claim_outbound(self, agent_id, call_uuid, owner, now, lease, number=""):
        """The agent starts an outbound call on its leg ``call_uuid`` (click-to-dial): ringing at
        once, no inbound offers until :meth:`release`. False when the agent is in a call
        (reserved, ringing, in-call) or unknown; its status does not matter."""
        tiers = self.tiers_of(agent_id)
        return bool(self._scripts["claim_outbound"](
            keys=[self.keys.agent(agent_id), self.keys.leases, self.keys.pending]
            + [self.keys.avail(t.queue) for t in tiers],
            args=[agent_id, call_uuid, owner, now, now + lease, len(tiers), number]))

    def _transition(self, agent_id, call_uuid, from_state, to_state, now, lease, leg=""):
        return bool(self._scripts["transition"](
            keys=[self.keys.agent(agent_id), self.keys.leases],
            args=[agent_id, call_uuid, from_state, to_state, now, now + lease, leg]))

    def ringing(self, agent_id, call_uuid, leg_uuid, now, lease):
        """reserved -> ringing (the agent's phone is being called on leg ``leg_uuid``)."""
        return self._transition(agent_id, call_uuid, "reserved", "ringing", now, lease, leg_uuid)

    def answered(self, agent_id, call_uuid, now, lease):
        """ringing -> in-call: counts the call, resets the no-answer count."""
        return self._transition(agent_id, call_uuid, "ringing", "in-call", now, lease)

    def release(self, agent_id, call_uuid, outcome, now):
        """End the agent's part in ``call_uuid`` (see release.lua for the outcomes). Returns
        (changed, state, status); a second release of the same call changes nothing."""
        tiers = self.tiers_of(agent_id)
        keys, argv = self._queue_args(tiers, agent_id)
        changed, state, status = self._scripts["release"](
            keys=[self.keys.agent(agent_id), self.keys.leases, self.keys.pending] + keys,
            args=[agent_id, call_uuid, outcome, now, UNREGISTERED_DELAY, len(tiers)] + argv)
        return bool(changed), state, status

    def renew(self, agent_ids, now, lease):
        """Extend the leases of agents this daemon is handling (one command; the agent hashes'
        ``lease_until`` keeps the value of the last state change -- the zset is the truth)."""
        if agent_ids:
            self.redis.zadd(self.keys.leases, {a: now + lease for a in agent_ids}, xx=True)

    def expired_leases(self, now):
        """(agent id, call uuid) of reservations whose lease ran out."""
        ids = self.redis.zrangebyscore(self.keys.leases, "-inf", now)
        return [(i, (self.redis.hget(self.keys.agent(i), "call") or "")) for i in ids]

    def promote(self, now):
        """Agents whose wrap-up or delay is over become offerable; returns their ids."""
        ready = []
        for agent_id in self.redis.zrangebyscore(self.keys.pending, "-inf", now):
            tiers = self.tiers_of(agent_id)
            keys, argv = self._queue_args(tiers, agent_id)
            if self._scripts["make_ready"](keys=[self.keys.agent(agent_id), self.keys.pending] + keys,
                                          args=[agent_id, now, len(tiers)] + argv):
                ready.append(agent_id)
        return ready

    def next_ready_at(self):
        """When the next pending agent becomes ready (epoch seconds), or None."""
        first = self.redis.zrange(self.keys.pending, 0, 0, withscores=True)
        return first[0][1] if first else None

    # -- calls --------------------------------------------------------------------------------

    def enqueue(self, call_uuid, queue, priority, now, **fields):
        """Queue a call (or keep its place if it is already queued); returns its 1-based
        position. ``fields``: caller_number, caller_name, owner, ... (strings/numbers)."""
        return self.enqueue_placed(call_uuid, queue, priority, now, **fields)[0]

    def enqueue_placed(self, call_uuid, queue, priority, now, peek=0, ordered=False, **fields):
        """:meth:`enqueue`, returning (position, enqueued_at, queue_since, peeked) as Redis holds
        them (a call already queued keeps its place: a restart, a repeated event). ``peek`` > 0:
        the same round trip also reads :meth:`counted_candidates` of the queue (``peeked``),
        so a caller who finds an agent free costs one round trip less. ``ordered``: the caller
        may take any agent of the queue (it joins the queue's ready zset: global order)."""
        enqueued_at = float(fields.pop("enqueued_at", now))
        fields.update(queue=queue, priority=priority, state=fields.get("state", "waiting"))
        pipe = self.redis.pipeline(transaction=False)
        self._scripts["enqueue"](
            keys=[self.keys.call(call_uuid), self.keys.callers(queue), self.keys.calls,
                  self.keys.ready(queue), self.keys.ready_owners],
            args=[call_uuid, enqueued_at - float(priority), enqueued_at, json.dumps(fields),
                  "1" if ordered else "", fields.get("owner", "")],
            client=pipe)
        if peek:
            self.counted_candidates(queue, None, peek, pipe)
        results = pipe.execute()
        rank, stored_at, since = results[0]
        stored_at = float(stored_at)
        return (None if int(rank) < 0 else int(rank) + 1, stored_at,
                stored_at if since is None else float(since),
                tuple(results[1:]) if peek else None)

    def call(self, call_uuid):
        raw = self.redis.hgetall(self.keys.call(call_uuid))
        if not raw:
            return None
        call = dict(raw)
        for name in ("enqueued_at", "priority", "answered_at", "queue_since"):
            if call.get(name, "") != "":
                call[name] = float(call[name])
        return call

    def update_call(self, call_uuid, **fields):
        if fields:
            self.redis.hset(self.keys.call(call_uuid), mapping={k: str(v) for k, v in fields.items()})

    def move_call(self, call_uuid, old_queue, new_queue, now, priority=0):
        """Overflow: the call leaves ``old_queue`` and waits in ``new_queue`` from ``now``."""
        pipe = self.redis.pipeline()
        self._unready(pipe, call_uuid, old_queue)
        pipe.zrem(self.keys.callers(old_queue), call_uuid)
        pipe.zadd(self.keys.callers(new_queue), {call_uuid: now - float(priority)})
        pipe.hset(self.keys.call(call_uuid), mapping={"queue": new_queue, "state": "waiting",
                                                       "queue_since": now})
        pipe.execute()

    def end_call(self, call_uuid, queue):
        """The call left the system (answered and over, abandoned, transferred)."""
        pipe = self.redis.pipeline()
        pipe.delete(self.keys.call(call_uuid))
        pipe.zrem(self.keys.callers(queue), call_uuid)
        pipe.zrem(self.keys.calls, call_uuid)
        self._unready(pipe, call_uuid, queue)
        pipe.execute()

    def leave_queue(self, call_uuid, queue):
        """The call stops waiting (bridged to an agent) but is still live."""
        pipe = self.redis.pipeline()
        pipe.zrem(self.keys.callers(queue), call_uuid)
        self._unready(pipe, call_uuid, queue)
        pipe.execute()

    def _unready(self, pipe, call_uuid, queue):
        pipe.zrem(self.keys.ready(queue), call_uuid)
        pipe.hdel(self.keys.ready_owners, call_uuid)
        pipe.hdel(self.keys.nudged(queue), call_uuid)

    def position(self, call_uuid, queue):
        rank = self.redis.zrank(self.keys.callers(queue), call_uuid)
        return None if rank is None else rank + 1

    def waiting(self, queue, limit=-1):
        """Calls waiting in ``queue``, best first: [(uuid, score), ...]."""
        return self.redis.zrange(self.keys.callers(queue), 0, limit, withscores=True)

    def waiting_count(self, queue):
        return self.redis.zcard(self.keys.callers(queue))

    def remember_abandoned(self, queue, caller_number, enqueued_at, keep_for):
        """A caller hung up while waiting: keep their place for ``keep_for`` seconds."""
        number = _caller_key(caller_number)
        if number and keep_for > 0:
            self.redis.set(self.keys.abandoned(queue, number), enqueued_at, ex=max(1, int(keep_for)))

    def abandoned_place(self, queue, caller_number):
        """The enqueue time of this caller's abandoned place in ``queue`` (taken: it is used
        once), or None."""
        number = _caller_key(caller_number)
        if not number:
            return None
        value = self.redis.getdel(self.keys.abandoned(queue, number))
        return float(value) if value else None

    def live_calls(self):
        return self.redis.zrange(self.keys.calls, 0, -1)

    # -- observability ------------------------------------------------------------------------

    def hold_lease(self, key, holder, seconds):
        """Take or renew the lease ``key`` for ``holder``; True while ``holder`` has it (one
        daemon exports the shared agent gauges: acd.metrics)."""
        return bool(self._scripts["hold_lease"](keys=[key],
                                                args=[holder, max(1, int(seconds * 1000))]))
