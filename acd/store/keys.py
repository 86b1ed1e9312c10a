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
``acd:queue:{q}:ready``                zset    callers of q who hold no offer and may take any
                                               agent of q (global order across daemons), scored
                                               as in callers
``acd:queue:{q}:nudged``               hash    call uuid -> when another daemon first waited for
                                               it (global order: a caller who does not take an
                                               agent within the grace stops holding others back)
``acd:ready-owners``                   hash    call uuid in a ready zset -> its owner daemon
``acd:daemons:alive``                  hash    owner daemon -> until when it is alive (renewed
                                               each second; global order ignores dead owners)
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
``acd:events``                         stream  the CTI event stream (acd.cti), trimmed to
                                               cti.event-retention and cti.event-max-length
``acd:cti:stats-publisher``            string  the daemon that publishes queue.stats (a lease)
``acd:agent:{id}:recent``              list    stream ids of the agent's latest call records
``acd:stats:{day}:queue:{q}``          hash    today's counts of queue q (offered, answered,
                                               abandoned, sl_met, sl_counted); kept 3 days
``acd:auth:session:{sha256}``          hash    a login token's role and agent; expires with it
``acd:auth:token:{sha256}``            hash    a long-lived integration token (acd token)
``acd:auth:tokens``                    hash    integration token id -> its sha256 (acd token list)
``acd:auth:ticket:{sha256}``           string  a single-use event-stream ticket (30 s)
``acd:auth:failures:{kind}:{sha256}``  hash    wrong passwords per agent / client address
``acd:recording-audit``                stream  every step of recording with consent (append-only,
                                               never trimmed by acd; docs/recording.md)
``acd:recording-audit:call:{uuid}``    list    the audit entry ids of one call, in order
``acd:recording:{uuid}``               hash    a call's recording state: caller consent, file,
                                               agent, recording/paused/revoked (while it lives)
``acd:recordings``                     zset    calls with recording state, scored by time
``acd:agent:{id}:recording-consent``   hash    the agent's consent (consent 1/0, at, by)
``acd:crm:cache:{sha256}``             string  a CRM card per caller number (crm.cache-ttl; acd.crm)
``acd:webhooks``                       stream  events for the webhooks, delivered by the consumer
                                               group ``deliver`` (acd.webhooks)
``acd:webhooks:dead``                  stream  deliveries that failed for max-age (dead letters)
``acd:webhooks:deliverer``             string  the daemon that delivers webhooks (a lease)
``acd:admin:overlay``                  hash    run-time changes to agents, tiers and queues:
                                               entry -> JSON (acd.config_overlay)
``acd:admin:version``                  string  counts the overlay's changes (daemons compare it)
``acd:wrap-ups``                       stream  wrap-up codes and notes given (acd.wrapup)
``acd:call:{uuid}:wrap-up``            hash    agent and queue of an answered call (a day)
=====================================  ======  ==================================================

In a Redis Cluster (``redis.cluster``) the prefix is a hash tag, ``{acd}:agent:1001``: every key
of one deployment lives in one slot, so each Lua script's keys -- and each MULTI -- are in one
slot (docs/redis.md, "Redis Cluster"). One Redis and Sentinel keep the plain names.

Tokens, tickets and throttled names appear in keys only as SHA-256 digests: a Redis dump shows
no usable token.
"""

import hashlib
import re

_TOKEN = re.compile(r"[A-Za-z0-9_.:@+-]{1,128}\Z")
_NUMBER = re.compile(r"[^A-Za-z0-9_.@+-]")


class Keys:
    def __init__(self, prefix="acd", cluster=False):
        if not re.match(r"[A-Za-z0-9_.-]{1,32}\Z", prefix):
            raise ValueError(f"invalid redis prefix {prefix!r}")
        self.prefix = prefix = f"{{{prefix}}}" if cluster else prefix
        self.agents = f"{prefix}:agents"
        self.calls = f"{prefix}:calls"
        self.pending = f"{prefix}:pending"
        self.leases = f"{prefix}:leases"
        self.records = f"{prefix}:records"
        self.metrics_exporter = f"{prefix}:metrics:exporter"
        self.events = f"{prefix}:events"
        self.stats_publisher = f"{prefix}:cti:stats-publisher"
        self.api_tokens = f"{prefix}:auth:tokens"
        self.recording_audit = f"{prefix}:recording-audit"
        self.recordings = f"{prefix}:recordings"
        self.ready_owners = f"{prefix}:ready-owners"
        self.alive = f"{prefix}:daemons:alive"
        #: pub/sub channel prefix: a daemon listens on wake + its owner id (global order)
        self.wake = f"{prefix}:wake:"

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

    def ready(self, queue):
        return f"{self.prefix}:queue:{self._id(queue)}:ready"

    def nudged(self, queue):
        return f"{self.prefix}:queue:{self._id(queue)}:nudged"

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

    # -- recording with consent (acd/store/recording.py) -------------------------------------

    def recording(self, call_uuid):
        return f"{self.prefix}:recording:{self._id(call_uuid)}"

    def recording_audit_call(self, call_uuid):
        return f"{self.prefix}:recording-audit:call:{self._id(call_uuid)}"

    def agent_consent(self, agent_id):
        return f"{self.prefix}:agent:{self._id(agent_id)}:recording-consent"

    # -- CTI (acd/store/cti.py) ----------------------------------------------------------------

    def agent_recent(self, agent_id):
        return f"{self.prefix}:agent:{self._id(agent_id)}:recent"

    def day_stats(self, day, queue):
        """``day``: an ISO date (2027-01-15) in cti.timezone."""
        return f"{self.prefix}:stats:{self._id(day)}:queue:{self._id(queue)}"

    def session(self, digest):
        return f"{self.prefix}:auth:session:{self._digest(digest)}"

    def api_token(self, digest):
        return f"{self.prefix}:auth:token:{self._digest(digest)}"

    def ticket(self, digest):
        return f"{self.prefix}:auth:ticket:{self._digest(digest)}"

    def login_failures(self, kind, who):
        """Wrong-password counts of an agent id or a client address (any text: hashed)."""
        if kind not in ("agent", "address"):
            raise ValueError(f"invalid kind {kind!r}")
        return f"{self.prefix}:auth:failures:{kind}:{sha256(who)}"

    # -- CRM integration (acd/crm.py, acd/webhooks.py, acd/wrapup.py) ---------------------------

    def crm_cache(self, caller_number):
        """A caller number (any text: hashed) -> its cached CRM card."""
        return f"{self.prefix}:crm:cache:{sha256(caller_number)}"

    @property
    def webhooks(self):
        return f"{self.prefix}:webhooks"

    @property
    def webhooks_dead(self):
        return f"{self.prefix}:webhooks:dead"

    @property
    def webhooks_deliverer(self):
        return f"{self.prefix}:webhooks:deliverer"

    @property
    def wrap_ups(self):
        return f"{self.prefix}:wrap-ups"

    def wrap_up_target(self, call_uuid):
        """Who may give the call's wrap-up code, and in which queue (acd.wrapup)."""
        return f"{self.prefix}:call:{self._id(call_uuid)}:wrap-up"

    @property
    def admin_overlay(self):
        """The run-time changes to the config (acd.store.admin)."""
        return f"{self.prefix}:admin:overlay"

    @property
    def admin_version(self):
        return f"{self.prefix}:admin:version"

    @staticmethod
    def _digest(value):
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError("expected a sha256 hex digest")
        return value


def sha256(text):
    """The hex SHA-256 of a text (how tokens and throttled names appear in keys)."""
    return hashlib.sha256(str(text).encode("utf-8", "surrogatepass")).hexdigest()
