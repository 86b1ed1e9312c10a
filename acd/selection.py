"""Which agent(s) a waiting caller is offered to, and why.

Theory of operation
-------------------
The router asks :class:`Selection` for agents for one caller at a time; Selection asks the Redis
store, which keeps the queues' offerable agents in sorted sets (acd/store), and reserves the
chosen agent atomically (another daemon may want it too).

* Plain queues: the best agent of the queue's avail zset (``Store.candidates``), within the tier
  levels the caller has reached, skipping agents this caller already tried in this round.
* Skill requirements (strategy ``skills``, or a queue/call that states requirements): the
  requirements in force (acd/core/skills.py: queue + call, relaxed by the queue's steps as the
  caller waits) go to ``Store.pick``: ``best-match`` / ``longest-idle`` for a skills queue, a
  filter over the queue's own order otherwise.
* A caller for one agent only (IVR ``agent`` option) waits for that agent.

Every choice is explained (:meth:`explain`): the requirement step in force, the agent's score
(total proficiency, or its place in the strategy's order), how many qualified agents the search
saw, and why agents ranked before it were passed over (busy, reserved, wrap-up, delay, tried,
lacking a skill). The router logs it on the offer line and keeps it with the call
(``GET /api/v1/calls/{uuid}/routing``).
"""

import logging
import uuid as uuidlib

from acd.core import skills as sk
from acd.core.model import one_order

log = logging.getLogger("acd.selection")

#: Strategies whose order is the tiers' order (an explanation lists the agents placed before).
_BY_POSITION = ("top-down", "sequentially-by-agent-order", "ring-progressively")
#: How many agents a ring-all originate rings at most.
RING_ALL_MAX = 100
#: Searches for one caller before giving up until the next event (each loses an agent to a race).
RESERVE_ATTEMPTS = 3
#: How many passed-over agents an explanation names.
EXPLAIN_SKIPPED = 5


#: _reserve's answer when a caller of another daemon is ahead in a queue with one order.
BEHIND = object()


class Choice:
    """One reserved agent and the facts of the decision."""

    __slots__ = ("agent", "score", "qualified", "exact", "step", "requirements", "leg", "short")

    def __init__(self, agent, score=None, qualified=None, exact=True, step=0, requirements=None):
        self.agent, self.score, self.qualified, self.exact = agent, score, qualified, exact
        self.step, self.requirements = step, requirements
        self.leg = self.short = None


class Selection:
    def __init__(self, config, store, owner, lease, deferred=lambda queue: None):
        """``deferred(queue)``: told when a free agent was left to another daemon's caller."""
        self.deferred = deferred
        self.config = config
        self.store = store
        self.owner = owner
        self.lease = lease
        self.peeked = None

    @staticmethod
    def ordered(queue):
        """The queue keeps one order across daemons (acd.core.model.one_order)."""
        return one_order(queue.strategy, queue.tier_rules_apply, queue.requirements, queue.relax)

    # -- requirements -------------------------------------------------------------------------

    def call_requirements(self, call):
        """The call's own requirements (acd_skills); a malformed value is logged and ignored."""
        try:
            return sk.parse_skills(call.skills)
        except sk.SkillError as exc:
            log.warning("call %s: ignoring acd_skills %r: %s", call.uuid, call.skills[:80], exc)
            call.skills = ""
            return {}

    def requirements(self, call, queue, now):
        """(step in force, {skill: minimum}) for ``call`` waiting in ``queue`` at ``now``."""
        relax = [(step.after, step.requirements) for step in queue.relax]
        step = sk.step_at(relax, now - call.queue_since)
        return step, sk.requirements_at(queue.requirements, relax,
                                        self.call_requirements(call), step)

    # -- choosing -----------------------------------------------------------------------------

    def ring_all(self, call, queue, level, now):
        """Every reservable agent of a ring-all queue (that meets the requirements), each
        reserved and ringing on its own leg."""
        step, requirements = self.requirements(call, queue, now)
        if requirements:
            found = self.store.pick(queue.name, "filter", requirements, level, RING_ALL_MAX).agents
        else:
            found = self.store.candidates(queue.name, level, RING_ALL_MAX)
        choices = [self._reserve(call, queue, Choice(a, None, len(found), True, step, requirements),
                                 now) for a in found]
        return [c for c in choices if c is not None]

    def reserve_next(self, call, queue, level, now):
        """Reserve the best offerable agent this caller has not tried in this round (hunt
        order), ringing on a new leg; a :class:`Choice`, or None when nobody could be reserved.
        ``peeked`` (set by the router just before): the queue's candidates, read with the
        caller's enqueue -- used once, in place of a search."""
        if call.only_agent:
            return self._reserve(call, queue, Choice(call.only_agent, qualified=1), now)
        step, requirements = self.requirements(call, queue, now)
        lost = set()  # reserved by another call or daemon between the search and the reservation
        ordered = self.ordered(queue)
        for _ in range(RESERVE_ATTEMPTS):
            busy = call.tried | set(call.offers.values()) | lost
            found, qualified, exact = self._search(call, queue, level, requirements, busy)
            for agent, score in found:
                choice = self._reserve(
                    call, queue, Choice(agent, score, qualified, exact, step, requirements), now,
                    ordered)
                if choice is BEHIND:
                    self.deferred(queue.name)
                    return None  # another daemon's caller is first: it was woken to take it
                if choice is not None:
                    return choice
                lost.add(agent)
            if found:
                continue
            if not call.tried:
                return None
            # everyone offerable was tried: start the round again
            if not self._search(call, queue, level, requirements, set(call.offers.values()))[0]:
                return None
            call.tried.clear()
        return None

    def _reserve(self, call, queue, choice, now, ordered=False):
        """Reserve ``choice.agent`` ringing on a new leg, its explanation recorded in the same
        step; the choice (with ``leg`` and ``short``, the log line's form), None, or BEHIND
        (``ordered``: a caller of another daemon is ahead in the queue)."""
        choice.leg = str(uuidlib.uuid4())
        entry, choice.short = self.explain(call, queue, choice, now)
        entry["leg"] = choice.leg
        got = self.store.reserve(choice.agent, call.uuid, queue.name, self.owner, now, self.lease,
                                 choice.leg, entry, ordered=ordered)
        if got is None:
            return BEHIND
        return choice if got else None

    def _search(self, call, queue, level, requirements, busy):
        """[(agent, score)] best first, qualified count, exact."""
        limit = 4
        if requirements:
            mode = queue.skill_order if queue.strategy == "skills" else "filter"
            pick = self.store.pick(queue.name, mode, requirements, level, 1, exclude=busy,
                                   match_set=tuple(sorted(requirements))
                                   in self.config.match_sets(queue.name))
            return pick.found, pick.qualified, pick.exact
        if queue.strategy == "random":
            found = self.store.candidates(queue.name, level, len(busy) + limit, shuffle=True)
            count = self.store.available_count(queue.name, level)
        elif self.peeked is not None and not busy:
            (found, count), self.peeked = self.peeked, None
        else:
            found, count = self.store.counted_candidates(queue.name, level, len(busy) + limit)
        fresh = [(a, None) for a in found if a not in busy]
        return fresh, count, True

    # -- explaining ---------------------------------------------------------------------------

    def explain(self, call, queue, choice, now):
        """The routing record of one offer (JSON-ready) and its short form for the log line."""
        skipped = self._skipped(call, queue, choice, now)
        entry = {"time": now, "agent": choice.agent, "queue": queue.name,
                 "strategy": queue.strategy, "step": choice.step,
                 "requirements": choice.requirements or {}, "score": choice.score,
                 "qualified": choice.qualified, "exact": choice.exact, "skipped": skipped}
        if queue.strategy == "skills":
            entry["skill_order"] = queue.skill_order
        if call.only_agent:
            entry["only_agent"] = call.only_agent
        short = {"step": choice.step, "req": sk.format_skills(choice.requirements or {}) or "-",
                 "score": "-" if choice.score is None else choice.score,
                 "qualified": f"{choice.qualified}{'' if choice.exact else '+'}",
                 "skipped": ",".join(f"{s['agent']}:{s['reason']}" for s in skipped) or "-"}
        return entry, short

    def _skipped(self, call, queue, choice, now):
        """Agents ranked before the chosen one that were passed over, and why."""
        requirements = choice.requirements or {}
        if queue.strategy == "skills" and requirements:
            # rank by the most demanding requirement (the zset of every agent with that skill)
            skill = max(sorted(requirements), key=lambda name: requirements[name])
            before = self.store.ranked_before(queue.name, skill, choice.agent, EXPLAIN_SKIPPED * 2)
        elif queue.strategy in _BY_POSITION:
            before = self._tiers_before(queue, choice.agent)
        else:
            return []
        reasons = self.store.skip_reasons(before, now, requirements)
        skipped = []
        for agent in before:
            reason = reasons.get(agent, "unknown")
            if agent in call.tried and reason != "skills":
                reason = "tried"
            elif reason == "offerable":
                reason = "lower-score" if queue.strategy == "skills" else "offered-elsewhere"
            skipped.append({"agent": agent, "reason": reason})
            if len(skipped) >= EXPLAIN_SKIPPED:
                break
        return skipped

    @staticmethod
    def _tiers_before(queue, agent_id):
        ranked = sorted(queue.tiers, key=lambda t: (t.level, t.position))
        before = []
        for tier in ranked:
            if tier.agent == agent_id or len(before) >= EXPLAIN_SKIPPED * 2:
                break
            before.append(tier.agent)
        return before
