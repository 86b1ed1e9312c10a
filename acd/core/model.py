"""The ACD's vocabulary and rules, as data and pure functions (no I/O, no clock).

Theory of operation
-------------------
An *agent* has a **status** chosen by the agent or an admin and a **state** the ACD moves it
through for each call::

    status:  logged-out | available | on-break
    state:   waiting --reserve--> reserved --originate--> ringing --answer--> in-call
               ^                     |                       |                  |
               +------ release ------+------ failure --------+  wrap-up <-- end-+
               +<---------------------- wrap-up over ----------------------------+

Only an *available* agent in state *waiting* whose wrap-up/delay is over is offered a call; the
Redis store enforces the table below atomically (acd/store/lua). A failed offer is classified the
way mod_callcenter reads it (:func:`classify_cause`) and decides the agent's delay.

A *caller* waits in a queue ordered by ``enqueued_at - priority`` (priority counts as seconds of
waiting); with ``tier-rules-apply`` a caller reaches tier level N after waiting
``tier-rule-wait-second * (N - 1)`` (:func:`max_level`).
"""

import enum


class AgentStatus(str, enum.Enum):
    LOGGED_OUT = "logged-out"
    AVAILABLE = "available"
    ON_BREAK = "on-break"


class AgentState(str, enum.Enum):
    WAITING = "waiting"
    RESERVED = "reserved"
    RINGING = "ringing"
    IN_CALL = "in-call"
    WRAP_UP = "wrap-up"


#: Legal agent state changes (the Lua scripts implement them; tests check them against this).
AGENT_TRANSITIONS = {
    AgentState.WAITING: {AgentState.RESERVED},
    AgentState.RESERVED: {AgentState.RINGING, AgentState.WAITING},
    AgentState.RINGING: {AgentState.IN_CALL, AgentState.WAITING},
    AgentState.IN_CALL: {AgentState.WRAP_UP, AgentState.WAITING},
    AgentState.WRAP_UP: {AgentState.WAITING},
}


class IllegalTransition(ValueError):
    pass


def check_transition(old, new):
    old, new = AgentState(old), AgentState(new)
    if new not in AGENT_TRANSITIONS[old]:
        raise IllegalTransition(f"agent state {old.value} -> {new.value} is not allowed")
    return new


class CallState(str, enum.Enum):
    WAITING = "waiting"      # in the queue, music on hold
    OFFERING = "offering"    # one or more agents' phones ringing
    BRIDGED = "bridged"      # talking to an agent
    DONE = "done"


class Result(str, enum.Enum):
    """How a queue call ended (metrics, call records)."""
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    OVERFLOWED = "overflowed"
    TIMED_OUT = "timed_out"
    EXITED = "exited"


#: Outcome of one offer to one agent -> what the store does with the agent (release.lua).
OUTCOMES = ("answered", "no_answer", "busy", "rejected", "unregistered", "cancelled")

_CAUSE_OUTCOME = {
    "LOSE_RACE": "cancelled",            # another phone of a ring-all group answered
    "ORIGINATOR_CANCEL": "cancelled",    # the caller hung up, or acd cancelled the ring
    "USER_BUSY": "busy",
    "NORMAL_CIRCUIT_CONGESTION": "busy",
    "CALL_REJECTED": "rejected",
    "USER_NOT_REGISTERED": "unregistered",
}


def classify_cause(cause):
    """The agent-side meaning of an originate failure cause, as mod_callcenter reads it:
    anything not listed counts as no answer."""
    return _CAUSE_OUTCOME.get((cause or "").strip().upper(), "no_answer")


#: How many agents a strategy rings at once for one caller.
SINGLE, RING_ALL, PROGRESSIVE = "single", "ring-all", "progressive"
STRATEGIES = {
    "longest-idle-agent": SINGLE,
    "top-down": SINGLE,
    "round-robin": SINGLE,
    "agent-with-fewest-calls": SINGLE,
    "agent-with-least-talk-time": SINGLE,
    "random": SINGLE,
    "sequentially-by-agent-order": SINGLE,
    "ring-all": RING_ALL,
    "ring-progressively": PROGRESSIVE,
    "skills": SINGLE,
}


def ringing_mode(strategy):
    return STRATEGIES[strategy]


def one_order(strategy, tier_rules_apply, requirements, relax):
    """True when every caller of such a queue may take any of its agents, one at a time: the
    queue keeps one order across daemons (the best-scored caller, on whichever FreeSWITCH host,
    gets the next free agent). Not for ring-all / ring-progressively (several offers per
    caller), tier rules (a caller reaches levels as it waits) or skill requirements (a caller
    may take only some agents): those queues keep each daemon's own order (docs/redis.md)."""
    return (ringing_mode(strategy) == SINGLE and strategy != "skills" and not tier_rules_apply
            and not requirements and not relax)


def caller_score(enqueued_at, priority):
    """Lower is served first: waiting time plus priority (in seconds)."""
    return enqueued_at - priority


def max_level(tier_rules_apply, tier_rule_wait_second, waited):
    """The highest tier level a caller who waited ``waited`` seconds may reach (None: all)."""
    if not tier_rules_apply:
        return None
    step = max(tier_rule_wait_second, 0)
    return 1 + (int(waited // step) if step else 10 ** 6)
