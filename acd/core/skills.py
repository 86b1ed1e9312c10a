"""Skill-based routing rules, as pure functions (no I/O, no clock).

Theory of operation
-------------------
An agent has *skills* with a proficiency 1..10 (``{german: 5, billing: 4}``). A queue states
*requirements*, a minimum proficiency per skill; a call may add its own (``acd_skills`` channel
variable, "german:4,billing:2"): the stricter value wins. As the caller waits, the queue's *relax*
steps apply, each at ``after`` seconds of waiting in the queue:

* a step's ``requirements`` replace the queue's: a skill the step names is required at
  ``min(current, step value)``; a queue skill the step does not name is dropped;
* a skill only the *call* asked for stays required (at the call's value) until a step with empty
  requirements (``{}``: anyone in the queue) drops everything.

The *step in force* is the last step whose ``after`` has passed (step 0 = no relaxation yet).

Selection (acd/store, ``pick.lua``): ``best-match`` offers the qualified agent with the highest
total proficiency on the required skills, ties to the longest idle; ``longest-idle`` the longest
idle qualified agent. With any other strategy, requirements only filter the strategy's order.
"""

import re

#: Proficiency bounds.
MIN_LEVEL, MAX_LEVEL = 1, 10
SKILL_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}\Z")
SKILL_ORDERS = ("best-match", "longest-idle")


class SkillError(ValueError):
    pass


def check_skill(name, level, what="proficiency"):
    """(name, level) validated; SkillError says what is wrong."""
    if not isinstance(name, str) or not SKILL_NAME.match(name):
        raise SkillError(f"invalid skill name {name!r} (lower-case letters, digits, _ . - ; "
                         "at most 64)")
    if isinstance(level, bool) or not isinstance(level, int) or not MIN_LEVEL <= level <= MAX_LEVEL:
        raise SkillError(f"{what} of {name!r} must be a whole number {MIN_LEVEL}..{MAX_LEVEL}, "
                         f"got {level!r}")
    return name, level


def parse_skills(text):
    """"german:4,billing:2" -> {"german": 4, "billing": 2}; SkillError on anything else
    (a channel variable is input: nothing malformed is let through)."""
    found = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, level = part.partition(":")
        name = name.strip().lower()
        if not sep or not level.strip().isdigit():
            raise SkillError(f"expected skill:level, got {part[:80]!r}")
        check_skill(name, int(level.strip()))
        found[name] = max(found.get(name, 0), int(level.strip()))
    return found


def format_skills(skills):
    """{"german": 4} -> "german:4" (sorted: stable in logs and Redis)."""
    return ",".join(f"{name}:{level}" for name, level in sorted(dict(skills).items()))


def merge(*requirement_sets):
    """The stricter minimum of each skill over several requirement sets."""
    merged = {}
    for requirements in requirement_sets:
        for name, level in dict(requirements).items():
            merged[name] = max(merged.get(name, 0), level)
    return merged


def step_at(relax, waited):
    """Index of the relax step in force after ``waited`` seconds: 0 = none yet, i = relax[i-1]."""
    step = 0
    for i, (after, _) in enumerate(relax, 1):
        if waited >= after:
            step = i
    return step


def requirements_at(queue_requirements, relax, call_requirements, step):
    """The requirements in force at ``step`` (see the module docstring)."""
    current = merge(queue_requirements, call_requirements)
    call_only = {k: v for k, v in dict(call_requirements).items()
                 if k not in dict(queue_requirements)}
    for _, step_requirements in list(relax)[:step]:
        step_requirements = dict(step_requirements)
        if not step_requirements:
            return {}
        current = {name: min(current.get(name, level), level)
                   for name, level in step_requirements.items()}
        current.update({k: v for k, v in call_only.items() if k not in current})
    return current


def next_step_in(relax, waited):
    """Seconds until the next relax step, or None when no step is left."""
    for after, _ in relax:
        if after > waited:
            return after - waited
    return None


def qualifies(agent_skills, requirements):
    agent_skills = dict(agent_skills)
    return all(agent_skills.get(name, 0) >= level for name, level in dict(requirements).items())


def total(agent_skills, requirements):
    """The best-match score: the agent's proficiency summed over the required skills."""
    agent_skills = dict(agent_skills)
    return sum(agent_skills.get(name, 0) for name in dict(requirements))


def match_sets(queue_requirements, relax, extra=()):
    """The requirement skill sets (sorted tuples of 2 or more skills) a skills queue keeps a
    ready-ordered set of agents for: its own requirements, each relax step's, and ``extra``
    (e.g. requirements an IVR option adds). Other sets are searched skill by skill."""
    found = set()
    for requirements in [queue_requirements] + [r for _, r in relax] + list(extra):
        names = tuple(sorted(dict(requirements)))
        if len(names) >= 2:
            found.add(names)
    return tuple(sorted(found))
