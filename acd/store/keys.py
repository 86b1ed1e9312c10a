"""Every Redis key acd uses, built in one place (``Keys(prefix)``), in one format.

Layout (prefix ``acd`` by default; see docs/redis.md):

=====================================  ======  ==================================================
key                                    type    holds
=====================================  ======  ==================================================
``acd:agents``                         set     every agent id known to the store
``acd:agent:{id}``                     hash    one agent: status, state, stats, reservation, config
``acd:agent:{id}:tiers``               hash    queue -> "level:position" (the agent's queues)
``acd:queue:{q}:avail``                zset    agents ready to be offered a call of queue q,
                                               scored by the queue's strategy (lowest first)
``acd:queue:{q}:callers``              zset    calls waiting in q, scored enqueued_at - priority
``acd:queue:{q}:offers``               hash    agent id -> last offer time (round-robin)
``acd:call:{uuid}``                    hash    one waiting/offered/bridged call
``acd:calls``                          zset    every live call uuid, scored by enqueued_at
``acd:pending``                        zset    agents in wrap-up or a delay, scored by ready_at
``acd:leases``                         zset    reserved/ringing/in-call agents, scored by lease end
``acd:daemon:{owner}``                 string  set by each daemon when it syncs: its absence
                                               means Redis lost its data (restarted empty)
``acd:queue:{q}:abandoned:{number}``  string  enqueued_at of a caller who hung up while
                                               waiting (expires after discard-abandoned-after)
``acd:skill:{s}``                      hash    agent id -> proficiency in skill s (1..10)
``acd:queue:{q}:skill:{s}``            zset    skills queue q: offerable agents with skill s,
                                               scored by level/proficiency/idle (lazy removal)
``acd:queue:{q}:match:{s1+s2..}``     zset    skills queue q: offerable agents having all these
                                               skills (a requirement set the config names)
``acd:queue:{q}:skilled:{s}``          zset    skills queue q: every agent with skill s, scored
                                               by level and proficiency (decision explanations)
``acd:call:{uuid}:routing``            list    JSON explanation of each offer made for the call
                                               (kept a day after the call)
``acd:records``                        stream  one call record per queue call (acd.records),
                                               trimmed by records.max-length and retention
``acd:metrics:exporter``               string  the daemon that exports the shared agent gauges
                                               (a lease renewed at each scrape; acd.metrics)
=====================================  ======  ==================================================
"""

import re

_TOKEN = re.compile(r"[A-Za-z0-9_.:@+-]{1,128}\Z")
_NUMBER = re.compile(r"[^A-Za-z0-9_.@+-]")


class Keys:
    def __init__(self, prefix="acd"):
        if not re.match(r"[A-Za-z0-9_.-]{1,32}\Z", prefix):
            raise ValueError(f"invalid redis prefix {prefix!r}")
        self.prefix = prefix
        self.agents = f"{prefix}:agents"
        self.calls = f"{prefix}:calls"
        self.pending = f"{prefix}:pending"
        self.leases = f"{prefix}:leases"
        self.records = f"{prefix}:records"
        self.metrics_exporter = f"{prefix}:metrics:exporter"

    @staticmethod
    def _id(value):
        value = str(value)
        if not _TOKEN.match(value):
            raise ValueError(f"invalid id for a redis key: {value!r}")
        return value

    def daemon(self, owner):
        return f"{self.prefix}:daemon:{re.sub(r'[^A-Za-z0-9_.:@+-]', '_', str(owner))[:128]}"

    def agent(self, agent_id):
        return f"{self.prefix}:agent:{self._id(agent_id)}"

    def agent_tiers(self, agent_id):
        return f"{self.prefix}:agent:{self._id(agent_id)}:tiers"

    def avail(self, queue):
        return f"{self.prefix}:queue:{self._id(queue)}:avail"

    def callers(self, queue):
        return f"{self.prefix}:queue:{self._id(queue)}:callers"

    def offers(self, queue):
        return f"{self.prefix}:queue:{self._id(queue)}:offers"

    def abandoned(self, queue, caller_number):
        return f"{self.prefix}:queue:{self._id(queue)}:abandoned:{self._id(caller_number)}"

    def call(self, call_uuid):
        return f"{self.prefix}:call:{self._id(call_uuid)}"

    def routing(self, call_uuid):
        return f"{self.prefix}:call:{self._id(call_uuid)}:routing"

    def skill(self, skill):
        return f"{self.prefix}:skill:{self._id(skill)}"

    def queue_skill(self, queue, skill):
        return f"{self.prefix}:queue:{self._id(queue)}:skill:{self._id(skill)}"

    def match_set(self, queue, skills):
        """The skills queue's offerable agents having every one of ``skills`` (2 or more)."""
        return f"{self.prefix}:queue:{self._id(queue)}:match:{self._id('+'.join(sorted(skills)))}"

    def skilled(self, queue, skill):
        return f"{self.prefix}:queue:{self._id(queue)}:skilled:{self._id(skill)}"
