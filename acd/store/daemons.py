"""What the daemons sharing one Redis tell it about themselves (a mixin of
:class:`acd.store.store.Store`): that a daemon's state is in this Redis, whether this Redis is
still the one it wrote to, which agents it holds in its calls, and the one queue order across
daemons (docs/redis.md).

Theory of operation
-------------------
Redis acknowledges a write before it is safe: a replica promoted by Sentinel or Cluster lacks
what the old primary had not yet sent it, and a Redis restarted from an RDB snapshot lacks
everything after the snapshot. What a daemon knows from FreeSWITCH about its own calls is then
newer than Redis. :meth:`lost_sync` tells a daemon that Redis may have gone back in time (its
mark is gone, or the server's ``run_id`` changed: another process answers now), and the
daemon resynchronises (acd.recovery); :meth:`hold` (``lua/hold.lua``) is how it says again which
agent is in which of its calls -- at the resync, and each time an agent answers, so an agent
whose reservation was lost and then given to another caller is never bridged twice.
"""

from acd.store.connect import is_cluster

#: Global order: seconds a caller of another daemon, ahead in the queue, holds others back
#: without taking an agent (its daemon stuck or its originate window full) before it is passed.
ORDER_GRACE = 2.0
#: Global order: ready callers ahead looked at by one reservation at most.
ORDER_AHEAD = 16

#: :meth:`Daemons.hold` results
HELD, TAKEN_BACK, TAKEN_OVER, REFUSED = 1, 2, 3, 0


class Daemons:
    """Uses the Store's ``redis``, ``keys``, ``_scripts`` and ``tiers_of``."""

    _server = None   # the run_id of the Redis server seen last

    def mark_synced(self, owner, now):
        """Record that ``owner`` has put its state into this Redis."""
        self.redis.set(self.keys.daemon(owner), now)

    def lost_sync(self, owner):
        """True when Redis may have lost ``owner``'s writes: it no longer holds ``owner``'s mark
        (restarted empty, flushed), or another server answers than at the last look (restarted
        from a snapshot; a replica promoted by a failover), which may lack the latest writes."""
        server = self.server_id()
        moved = self._server is not None and server != self._server
        self._server = server
        return moved or not self.redis.exists(self.keys.daemon(owner))

    def server_id(self):
        """The ``run_id`` of the Redis server holding acd's keys (in a cluster: the primary of
        their slot): a new one after every restart and every failover."""
        if is_cluster(self.redis):
            node = self.redis.get_node_from_key(self.keys.alive)
            return self.redis.info("server", target_nodes=node).get("run_id")
        return self.redis.info("server").get("run_id")

    def hold(self, agent_id, call_uuid, leg, state, owner, now, lease, take=False,
             answered_at=None):
        """Say (again) that ``agent_id`` is in ``call_uuid`` on ``leg``, ``state`` 'ringing' or
        'in-call': :data:`HELD` (Redis knew), :data:`TAKEN_BACK` (Redis had forgotten it: the
        agent is taken out of the avail sets again), :data:`TAKEN_OVER` (Redis had given the
        agent to another call meanwhile; only with ``take``: the agent is talking with us, the
        other offer fails when that agent answers it) or :data:`REFUSED` (another call has it,
        or the agent is gone). Returns (result, the call Redis had)."""
        tiers = self.tiers_of(agent_id)
        got, had = self._scripts["hold"](
            keys=[self.keys.agent(agent_id), self.keys.leases, self.keys.pending]
            + [self.keys.avail(t.queue) for t in tiers],
            args=[agent_id, call_uuid, owner, now, now + lease, len(tiers), leg or "", state,
                  "1" if take else "", "" if answered_at is None else answered_at])
        return int(got), had

    # -- one order across daemons (reserve.lua, docs/redis.md "One queue order") ---------------

    def ready_again(self, call_uuid, queue, owner):
        """The caller holds no offer any more: back in ``queue``'s ready zset at its place."""
        return bool(self._scripts["ready"](
            keys=[self.keys.callers(queue), self.keys.ready(queue), self.keys.ready_owners],
            args=[call_uuid, owner]))

    def mark_alive(self, owner, until):
        """``owner`` is alive until ``until`` (its callers hold the global order until then)."""
        self.redis.hset(self.keys.alive, owner, until)

    def mark_gone(self, owner):
        self.redis.hdel(self.keys.alive, owner)

    def wake(self, queues, owner, now):
        """Wake the daemon of each queue's first ready caller (if another live one) when the
        queue has an agent free; how many were woken."""
        queues = list(queues)
        if not queues:
            return 0
        keys = [self.keys.ready_owners, self.keys.alive]
        for queue in queues:
            keys += [self.keys.avail(queue), self.keys.ready(queue)]
        return int(self._scripts["wake"](keys=keys, args=[owner, now, self.keys.wake] + queues))
