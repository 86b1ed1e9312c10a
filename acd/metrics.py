"""Prometheus metrics: call-center KPIs, agent states, ESL and Redis health (docs/metrics.md).

Theory of operation
-------------------
The routing core knows nothing of Prometheus. :class:`Metrics` is one of the router's observers:
every decision reaches :meth:`Metrics.observe`, which feeds a :class:`~acd.records.QueueCalls`
(one queue call per caller per queue) and updates counters and histograms as things happen --
a call answered (``bridge``), a queue call over (``done``/``overflow``), an offer that failed,
a talk that ended, a routing decision's duration. The ESL client reports each command's
duration through ``on_command``.

What is a *state* rather than an event is read when Prometheus scrapes, by :class:`_Live`, a
custom collector: the callers this daemon holds (waiting, longest wait), the service level over
the sliding window, the ESL connection and its counters, Redis' PING. Each daemon has its own
``CollectorRegistry`` (several daemons in one test process never share series).

Several daemons: counters, histograms and the per-call gauges cover the calls *this* daemon
handles (its callers live on its FreeSWITCH): add them up across instances in PromQL
(``sum by (queue)``; ``max`` for the longest wait). The agent gauges describe the shared Redis
state, so exactly one daemon exports them: the one holding the ``Keys.metrics_exporter`` lease
(taken or renewed at each scrape, :data:`acd.defaults.METRICS_EXPORTER_LEASE` seconds long).
"""

import collections
import logging
import re

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

from acd import defaults
from acd.esl import watchdog
from acd.core.model import OUTCOMES, AgentState, AgentStatus, Result
from acd.records import QueueCalls, service_level_met, wrap_up_lookup

log = logging.getLogger("acd.metrics")

WAIT_BUCKETS = (1, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200)
TALK_BUCKETS = (10, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600)
WRAP_UP_BUCKETS = (0, 5, 10, 15, 20, 30, 60, 120, 300)
DECISION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
COMMAND_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Distinct ``command`` / ``event`` label values at most; later ones count as "other".
MAX_LABELS = 64
_LABEL = re.compile(r"[A-Za-z0-9_]{1,40}\Z")
#: IVR observer events (``observer(what, None, "-", {"menu": ...})``) -> counter name.
IVR_EVENTS = {"ivr-enter": "entered", "ivr-timeout": "timeouts", "ivr-invalid": "invalid",
              "ivr-failure": "failures", "ivr-closed": "closed", "ivr-hangup": "hangups"}


class Metrics:
    """One daemon's metrics. ``observe`` is the router observer; :meth:`bind` adds the gauges
    read from a running daemon; ``exposition(accept)`` renders the registry."""

    def __init__(self, config, *, clock, owner="", registry=None):
        self.config = config
        self.clock = clock
        self.owner = owner
        self.per_agent = config.metrics.per_agent
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._define()
        self.calls = QueueCalls(wrap_up_lookup(config), clock, self._answered, self._ended)
        self.service_level = ServiceLevel(config)
        self.offering = {}          # agent id -> queue of the offer ringing it
        self._commands = set()
        self._lag_events = set()

    def _define(self):
        r, m = self.registry, {}
        m["calls"] = Counter("acd_calls", "Queue calls by how they ended (one per caller per "
                             "queue)", ["queue", "result"], registry=r)
        m["wait"] = Histogram("acd_queue_wait_seconds", "Time in the queue until answered "
                              "(ASA) or until the caller left it", ["queue", "result"],
                              buckets=WAIT_BUCKETS, registry=r)
        m["talk"] = Histogram("acd_call_talk_seconds", "Talk time of answered calls",
                              ["queue"], buckets=TALK_BUCKETS, registry=r)
        m["wrap_up"] = Histogram("acd_call_wrap_up_seconds", "Wrap-up time after answered "
                                 "calls (the agent's wrap-up-time)", ["queue"],
                                 buckets=WRAP_UP_BUCKETS, registry=r)
        m["offers"] = Counter("acd_agent_offers", "Offers of calls to agents by result",
                              ["queue", "result"], registry=r)
        m["sl_calls"] = Counter("acd_queue_service_level_calls", "Calls the service level "
                                "counts, by whether they met it", ["queue", "met"], registry=r)
        m["decision"] = Histogram("acd_routing_decision_seconds", "Time from a fact (call "
                                  "arrived, agent freed) to the routing decision", ["kind"],
                                  buckets=DECISION_BUCKETS, registry=r)
        m["command"] = Histogram("acd_esl_command_seconds", "Time FreeSWITCH took to answer an "
                                 "ESL command", ["command"], buckets=COMMAND_BUCKETS, registry=r)
        m["recording_consent"] = Counter(
            "acd_recording_consent", "Callers' answers to the recording announcement "
            "(accepted, declined, timeout)", ["queue", "result"], registry=r)
        m["recordings"] = Counter(
            "acd_recordings", "Recordings by outcome: recorded (started), revoked, deleted, or "
            "why a conversation was not recorded (caller-declined, agent-no-consent, ...)",
            ["queue", "result"], registry=r)
        m["order_deferred"] = Counter(
            "acd_queue_order_deferrals", "Agents this daemon left to a longer-waiting caller of "
            "another daemon (one queue order across FreeSWITCH hosts; docs/redis.md)", ["queue"],
            registry=r)
        m["ignored"] = Counter("acd_calls_ignored", "Parked calls left alone because they are "
                               "meant for another deployment (acd_instance)", ["reason"],
                               registry=r)
        m["unknown_queue"] = Counter("acd_calls_unknown_queue", "Calls for this deployment that "
                                     "named no configured queue, by the unknown-queue action",
                                     ["action"], registry=r)
        m["event_lag"] = Histogram("acd_esl_event_lag_seconds", "Time from an event's "
                                   "Event-Date-Timestamp on FreeSWITCH to its receipt by acd",
                                   ["event"], buckets=LAG_BUCKETS, registry=r)
        m["ivr_options"] = Counter("acd_ivr_options", "IVR options chosen",
                                   ["menu", "option"], registry=r)
        for name in IVR_EVENTS.values():
            m[f"ivr_{name}"] = Counter(f"acd_ivr_{name}", f"IVR menus: {name}", ["menu"],
                                       registry=r)
        m["crm_lookups"] = Counter("acd_crm_lookups", "CRM lookups by result (acd.crm)",
                                   ["result"], registry=r)
        m["wrap_up_codes"] = Counter("acd_wrap_up_codes", "Wrap-up codes given by agents",
                                     ["queue", "code"], registry=r)
        if self.per_agent:
            m["agent_offers"] = Counter("acd_agent_offer_results", "Offers by agent and result",
                                        ["agent", "result"], registry=r)
            m["agent_talk"] = Counter("acd_agent_talk_seconds", "Talk time by agent",
                                      ["agent"], registry=r)
        self.m = m

    def bind(self, daemon):
        """Add the scrape-time gauges of a daemon (router, store, esl, redis_errors)."""
        self.registry.register(_Live(self, daemon))

    def exposition(self, accept=""):
        """``(content_type, bytes)`` of the registry in the format the scraper accepts."""
        encoder, content_type = choose_encoder(accept)
        return content_type, encoder(self.registry)

    # -- the observer -------------------------------------------------------------------------

    def observe(self, what, call, agent, details):
        if what == "routing-decision":
            self.m["decision"].labels(details["kind"]).observe(details["seconds"])
        elif what.startswith("ivr-"):
            self._ivr(what, details)
            return
        elif what == "offer" and call is not None:
            self.offering[agent] = call.queue
        elif what == "offer-failed":
            self._offer_result(agent, details.get("outcome", "no_answer"), call)
        elif what == "bridge":
            self._offer_result(agent, "answered", call)
        elif what in ("answered-too-late", "offer-withdrawn") or (what == "released-after-restart"
                                              and details.get("outcome") == "cancelled"):
            if agent in self.offering:
                self._offer_result(agent, "cancelled", None)
        elif what == "call-ended" and call is not None:
            self._talk(call, agent, details)
        elif what.startswith("recording-"):
            self._recording(what, details)
        elif what == "order-deferred":
            self.m["order_deferred"].labels(details.get("queue", "")).inc()
            return
        elif what == "ignored":
            self.m["ignored"].labels(details.get("reason", "other-instance")).inc()
        elif what == "crm-lookup":
            self.m["crm_lookups"].labels(details.get("result", "error")).inc()
        elif what == "wrap-up":
            self.m["wrap_up_codes"].labels(details.get("queue", ""), details.get("code", "")).inc()
            return
        elif what == "unknown-queue":
            self.m["unknown_queue"].labels(details.get("action", "hangup")).inc()
        self.calls(what, call, agent, details)

    def _recording(self, what, details):
        queue = details.get("queue") or "-"
        if what == "recording-consent":
            self.m["recording_consent"].labels(queue, details.get("result", "")).inc()
            return
        result = {"recording-started": "recorded", "recording-deleted": "deleted",
                  "recording-not-started": details.get("reason", "")}.get(what)
        if what == "recording-stopped" and details.get("reason") == "revoked":
            result = "revoked"
        if result:
            self.m["recordings"].labels(queue, result).inc()

    def _offer_result(self, agent, outcome, call):
        queue = self.offering.pop(agent, None) or (call.queue if call is not None else None)
        outcome = outcome if outcome in OUTCOMES else "no_answer"
        if queue is not None:
            self.m["offers"].labels(queue, outcome).inc()
        if self.per_agent:
            self.m["agent_offers"].labels(agent, outcome).inc()

    def _talk(self, call, agent, details):
        talk = float(details.get("talk") or 0.0)
        self.m["talk"].labels(call.queue).observe(talk)
        self.m["wrap_up"].labels(call.queue).observe(self.calls.wrap_up_of(agent))
        if self.per_agent:
            self.m["agent_talk"].labels(agent).inc(talk)

    def _answered(self, qc):
        self.m["calls"].labels(qc.queue, Result.ANSWERED.value).inc()
        self.m["wait"].labels(qc.queue, Result.ANSWERED.value).observe(qc.wait)
        self._service_level(qc, Result.ANSWERED.value)

    def _ended(self, qc):
        if qc.result == Result.ANSWERED.value:
            return  # counted when answered
        self.m["calls"].labels(qc.queue, qc.result).inc()
        self.m["wait"].labels(qc.queue, qc.result).observe(qc.wait)
        self._service_level(qc, qc.result)

    def _service_level(self, qc, result):
        met = self.service_level.add(qc.queue, result, qc.wait, self.clock())
        if met is not None:
            self.m["sl_calls"].labels(qc.queue, "true" if met else "false").inc()

    def _ivr(self, what, details):
        menu = str(details.get("menu", ""))
        if what == "ivr-option":
            self.m["ivr_options"].labels(menu, str(details.get("option", ""))).inc()
        elif what in IVR_EVENTS:
            self.m[f"ivr_{IVR_EVENTS[what]}"].labels(menu).inc()

    # -- ESL ----------------------------------------------------------------------------------

    def on_command(self, name, seconds):
        """The ESL client's hook: one answered command and how long it took."""
        self.m["command"].labels(self._bounded(name, self._commands)).observe(seconds)

    def on_event(self, name, lag):
        """The ESL client's hook: an event arrived ``lag`` seconds after it was stamped."""
        self.m["event_lag"].labels(self._bounded(name, self._lag_events)).observe(max(lag, 0.0))

    @staticmethod
    def _bounded(name, seen):
        if name in seen:
            return name
        if not _LABEL.match(name or "") or len(seen) >= MAX_LABELS:
            return "other"
        seen.add(name)
        return name


class ServiceLevel:
    """Per queue, the calls of the last ``metrics.service-level-window`` seconds that the service
    level counts (:func:`acd.records.service_level_met`), and the share that met it."""

    def __init__(self, config):
        self.config = config
        self.window = config.metrics.service_level_window
        self.calls = collections.defaultdict(collections.deque)   # queue -> deque[(t, met)]

    def add(self, queue_name, result, wait, now):
        if not self.config.has_queue(queue_name):
            return None
        queue = self.config.queue(queue_name)
        met = service_level_met(result, wait, queue.service_level_threshold,
                                queue.service_level_count_short_abandons)
        if met is not None:
            self.calls[queue_name].append((now, met))
        return met

    def ratio(self, queue_name, now):
        """Met / counted over the window; NaN when the window holds no counted call."""
        window = self.calls.get(queue_name)
        if not window:
            return float("nan")
        while window and window[0][0] < now - self.window:
            window.popleft()
        return sum(met for _, met in window) / len(window) if window else float("nan")


class _Live:
    """Scrape-time gauges of one daemon."""

    def __init__(self, metrics, daemon):
        self.metrics, self.daemon = metrics, daemon
        from acd.store.connect import connect
        timeout = defaults.METRICS_REDIS_PING_TIMEOUT
        self.ping_client = connect(daemon.config.redis, socket_timeout=timeout,
                                   socket_connect_timeout=timeout, decode_responses=False)
        self._events = set()

    def describe(self):
        return []  # collected at scrape time only

    def collect(self):
        now = self.metrics.clock()
        yield from self._calls(now)
        yield from self._esl()
        up = self._redis_up()
        yield _gauge("acd_redis_up", "1 if Redis answered PING at this scrape", value=int(up))
        yield _counter("acd_redis_errors", "Redis errors in the routing loop (each triggers "
                                           "a resync)", value=self.daemon.redis_errors)
        if up:
            try:
                yield from self._shared(now)
            except redis.RedisError as exc:
                log.warning("metrics: cannot read agent states from redis: %s", exc)

    def _calls(self, now):
        waiting = GaugeMetricFamily("acd_queue_calls_waiting", "Callers waiting in the queue "
                                    "(this daemon's)", labels=["queue"])
        longest = GaugeMetricFamily("acd_queue_longest_wait_seconds", "Longest current wait "
                                    "in the queue (this daemon's callers)", labels=["queue"])
        sl = GaugeMetricFamily("acd_queue_service_level_ratio", "Share of calls answered within "
                               "the queue's service-level-threshold over the window",
                               labels=["queue"])
        counts, longest_wait = _waiting(self.daemon.router.calls.values(), now)
        for queue in self.daemon.config.queues:
            waiting.add_metric([queue.name], counts.get(queue.name, 0))
            longest.add_metric([queue.name], longest_wait.get(queue.name, 0.0))
            sl.add_metric([queue.name], self.metrics.service_level.ratio(queue.name, now))
        return waiting, longest, sl

    def _esl(self):
        esl = self.daemon.esl
        yield _gauge("acd_esl_connected", "1 while the event socket to FreeSWITCH is up",
                     value=int(bool(esl.connected)))
        reconnects = CounterMetricFamily(
            "acd_esl_reconnects", "Reconnects to FreeSWITCH by reason: the event socket lost "
            "(connection-lost) or silent for two heartbeats (heartbeat-timeout), a command "
            "connection whose command never answered (command-timeout)", labels=["reason"])
        reasons = esl.reconnect_reasons
        for reason in watchdog.REASONS:
            reconnects.add_metric([reason], reasons.get(reason, 0))
        yield reconnects
        yield _gauge("acd_esl_inflight_commands", "ESL commands and background jobs sent to "
                     "FreeSWITCH and not answered yet", value=esl.inflight)
        router = self.daemon.router
        yield _gauge("acd_originates_inflight", "Agent legs originated whose outcome (answer or "
                     "failure) is not known yet", value=len(router.in_flight))
        yield _gauge("acd_originate_window", "Agent legs acd lets be in flight at once now "
                     "(freeswitch.max-inflight-originates; adaptive: shrinks while FreeSWITCH "
                     "slows down)", value=router.window.size)
        events = CounterMetricFamily("acd_esl_events", "ESL events received", labels=["event"])
        totals = collections.Counter()
        for name, count in list(esl.event_counts.items()):
            totals[Metrics._bounded(name, self._events)] += count
        for name, count in sorted(totals.items()):
            events.add_metric([name], count)
        yield events

    def _redis_up(self):
        try:
            return bool(self.ping_client.ping())
        except (redis.RedisError, OSError):
            return False

    def _shared(self, now):
        store = self.daemon.store
        if not store.hold_lease(store.keys.metrics_exporter, self.daemon.owner,
                                defaults.METRICS_EXPORTER_LEASE):
            return
        agents = store.agents()
        by = collections.Counter((a.get("status", ""), a.get("state", "")) for a in agents)
        family = GaugeMetricFamily("acd_agents", "Agents by status and state (shared state: "
                                   "exported by one daemon)", labels=["status", "state"])
        for status in AgentStatus:
            for state in AgentState:
                family.add_metric([status.value, state.value], by.pop((status.value, state.value), 0))
        for (status, state), count in sorted(by.items()):
            family.add_metric([status, state], count)
        yield family
        available = GaugeMetricFamily("acd_queue_agents_available", "Agents that could take a "
                                      "call of the queue now", labels=["queue"])
        for queue in self.daemon.config.queues:
            available.add_metric([queue.name], store.available_count(queue.name))
        yield available
        if self.metrics.per_agent:
            per = GaugeMetricFamily("acd_agent_state", "1 for each agent's current status and "
                                    "state", labels=["agent", "status", "state"])
            for agent in agents:
                per.add_metric([agent.get("id", ""), agent.get("status", ""),
                                agent.get("state", "")], 1)
            yield per


def _waiting(calls, now):
    """Per queue: how many callers wait, and the longest wait (from entering the queue)."""
    counts, longest = collections.Counter(), {}
    for call in list(calls):
        if call.state.value in ("waiting", "offering"):
            counts[call.queue] += 1
            longest[call.queue] = max(longest.get(call.queue, 0.0), now - call.queue_since)
    return counts, longest


def _gauge(name, documentation, value):
    family = GaugeMetricFamily(name, documentation)
    family.add_metric([], value)
    return family


def _counter(name, documentation, value):
    family = CounterMetricFamily(name, documentation)
    family.add_metric([], value)
    return family
