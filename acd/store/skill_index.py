"""The skills side of the Redis store (a mixin of :class:`acd.store.store.Store`): agents'
skill vectors (``skills`` in the agent's hash, and a hash per skill), the per-queue skill sorted
sets a skills decision reads, the pick itself (``lua/pick.lua``) and what explains a decision
(ranked_before, skip_reasons, routing). docs/skills.md describes the keys.
"""

import json

from acd.core.skills import format_skills, parse_skills, qualifies

#: How many zset entries one skills decision examines at most (pick.lua); beyond it the best
#: found so far is offered and the explanation says the answer was not exact.
PICK_CAP = 1000


class Pick:
    """What ``Store.pick`` found: ``found`` [(agent id, total proficiency)] best first, how many
    qualified agents it saw, how many entries it scanned, and whether the answer is exact."""

    __slots__ = ("found", "qualified", "scanned", "exact")

    def __init__(self, found, qualified, scanned, exact):
        self.found, self.qualified, self.scanned, self.exact = found, qualified, scanned, exact

    @property
    def agents(self):
        return [agent for agent, _ in self.found]


class SkillIndex:
    """Needs ``self.redis``, ``self.keys``, ``self._scripts``, ``self.tiers_of``, ``self.agent``
    and ``self._queue_args`` from Store."""

    def agent_skills(self, agent_id):
        """{skill: proficiency} as Redis holds them (config, or a run-time change)."""
        return parse_skills(self.redis.hget(self.keys.agent(agent_id), "skills") or "")

    def _config_skills(self, pipe, agent_id, configured, tiers, current, last_config):
        """The skills to sync: the config's win only when the config changed them since the
        last sync (``last_config``); a change made at run time (set_skills) survives restarts
        until the file is edited. None: the config says nothing about skills."""
        if configured is None:
            return None
        configured, text = dict(configured), format_skills(configured)
        if last_config == text and current is not None:
            return parse_skills(current)
        self._write_skills(agent_id, configured, tiers, parse_skills(current or ""), pipe)
        pipe.hset(self.keys.agent(agent_id), "config_skills", text)
        return configured

    def set_skills(self, agent_id, skills, now):
        """Change an agent's skills at run time; the next decision uses them. KeyError if the
        agent is unknown. Returns the agent."""
        if not self.redis.exists(self.keys.agent(agent_id)):
            raise KeyError(agent_id)
        tiers = self.tiers_of(agent_id)
        self._write_skills(agent_id, dict(skills), tiers, self.agent_skills(agent_id))
        keys, argv = self._queue_args(tiers, agent_id, dict(skills))
        self._scripts["make_ready"](keys=[self.keys.agent(agent_id), self.keys.pending] + keys,
                                    args=[agent_id, now, len(tiers)] + argv)
        return self.agent(agent_id)

    def _write_skills(self, agent_id, skills, tiers, old, pipe=None):
        own = pipe is None
        pipe = self.redis.pipeline() if own else pipe
        pipe.hset(self.keys.agent(agent_id), "skills", format_skills(skills))
        for name in set(old) - set(skills):
            pipe.hdel(self.keys.skill(name), agent_id)
        for name, level in skills.items():
            pipe.hset(self.keys.skill(name), agent_id, level)
        for t in tiers:
            if not t.skills:
                continue
            for name in old:  # the offerable zsets are re-filled by the caller
                pipe.zrem(self.keys.queue_skill(t.queue, name), agent_id)
                pipe.zrem(self.keys.skilled(t.queue, name), agent_id)
            for names in t.match_sets:
                if all(name in old for name in names):
                    pipe.zrem(self.keys.match_set(t.queue, names), agent_id)
            for name, level in skills.items():
                pipe.zadd(self.keys.skilled(t.queue, name), {agent_id: t.level * 11 + 10 - level})
        if own:
            pipe.execute()

    def pick(self, queue, mode, requirements, max_level=None, limit=1, exclude=(), cap=PICK_CAP,
             match_set=False):
        """The best offerable agents of ``queue`` meeting ``requirements`` ({skill: minimum}):
        ``mode`` best-match | longest-idle (a skills queue) or filter (the queue's own order).
        ``match_set``: the queue keeps a match set of exactly these skills (its TierRefs'
        ``match_sets``). See lua/pick.lua. Returns a :class:`Pick`."""
        names = sorted(requirements)
        exact_set = self.keys.avail(queue)   # (itself again: no match set kept)
        if mode != "filter" and len(names) == 1:
            exact_set = self.keys.queue_skill(queue, names[0])
        elif mode != "filter" and match_set:
            exact_set = self.keys.match_set(queue, names)
        found, qualified, scanned, exact = self._scripts["pick"](
            keys=[self.keys.avail(queue), exact_set]
            + [self.keys.queue_skill(queue, n) for n in names]
            + [self.keys.skill(n) for n in names],
            args=[mode, -1 if max_level is None else int(max_level), len(names), limit, cap,
                  json.dumps(sorted(exclude))] + [x for n in names for x in (n, requirements[n])])
        pairs = [(found[i], int(found[i + 1])) for i in range(0, len(found), 2)]
        return Pick(pairs, int(qualified), int(scanned), bool(exact))

    def ranked_before(self, queue, skill, agent_id, limit=10):
        """Agents of skills queue ``queue`` with ``skill`` ranked at or above ``agent_id`` (tier
        level, then proficiency), best first -- the candidates an explanation lists."""
        key = self.keys.skilled(queue, skill)
        score = self.redis.zscore(key, agent_id)
        if score is None:
            return []
        return [a for a in self.redis.zrangebyscore(key, "-inf", score, start=0, num=limit + 1)
                if a != agent_id][:limit]

    def skip_reasons(self, agent_ids, now, requirements=None):
        """{agent id: why it could not be offered now} -- skills (lacks a required one),
        logged-out, on-break, reserved, ringing, in-call, wrap-up, delay -- or "offerable"."""
        pipe = self.redis.pipeline(transaction=False)
        for agent_id in agent_ids:
            pipe.hmget(self.keys.agent(agent_id), "status", "state", "ready_at", "skills")
        reasons = {}
        for agent_id, (status, state, ready_at, skills) in zip(agent_ids, pipe.execute()):
            if requirements and not qualifies(parse_skills(skills or ""), requirements):
                reasons[agent_id] = "skills"
            elif status != "available":
                reasons[agent_id] = status or "unknown"
            elif state != "waiting":
                reasons[agent_id] = state
            elif float(ready_at or 0) > now:
                reasons[agent_id] = "delay"
            else:
                reasons[agent_id] = "offerable"
        return reasons

    def routing(self, call_uuid):
        """The explanations of every offer made for the call (oldest first), or None."""
        entries = self.redis.lrange(self.keys.routing(call_uuid), 0, -1)
        return [json.loads(e) for e in entries] if entries else None
