"""Call records: one per queue call, kept in a Redis stream, and the summaries ``acd report`` prints.

Theory of operation
-------------------
A *queue call* is one caller's stay in one queue: a caller who overflows from ``support`` to
``sales`` makes two, ``support`` ending ``overflowed`` and ``sales`` ending however it ends
(as Asterisk's queue_log and mod_callcenter count them). :class:`QueueCalls` follows the router's
decisions (it is fed as an observer) and turns them into queue calls: it opens one when it first
sees a caller (``enqueue``, or ``resume``/``restored`` after a restart), notes each ``offer``,
the answer (``bridge``) and the talk (``call-ended``), and closes it at ``overflow`` or
``done``. Whoever made it gets told twice: ``on_answered(qc)`` when the caller is answered,
``on_ended(qc)`` when the queue call is over (metrics use both; records only the second).

:class:`Recorder` appends each ended queue call to the stream ``Keys.records`` with ``XADD``,
capped at ``records.max-length`` entries (``MAXLEN ~``) and trimmed to ``records.retention``
(``XTRIM MINID ~``; stream ids are Redis' millisecond clock). :func:`read_records` reads an
interval back with ``XRANGE`` and :func:`summarize` computes per queue and per agent: offered,
answered, abandoned, service level, ASA (average speed of answer) and AHT (average handle time =
talk + wrap-up). A record belongs to the interval in which its queue call *ended*.

Times are epoch seconds from the router's clock; durations are seconds. Wait is measured from the
moment the caller entered *this* queue (``queue_since``) to the answer, or to the end for a
caller who was not answered.
"""

import json
import logging
import sys

log = logging.getLogger("acd.records")

#: Seconds read around the interval asked for: a record's stream id is Redis' clock at XADD,
#: its ``ended_at`` the daemon's; the exact filter is on ``ended_at``.
CLOCK_MARGIN = 120.0
#: Fields of a record, in CSV order.
FIELDS = ("uuid", "queue", "caller_number", "caller_name", "ivr_path", "enqueued_at",
          "answered_at", "ended_at", "agent", "wait", "talk", "wrap_up", "result", "offers",
          "offered_to", "from_queue", "daemon", "direction", "other_leg", "crm")


class QueueCall:
    """One caller's stay in one queue."""

    direction = "inbound"
    other_leg = ""

    __slots__ = ("uuid", "queue", "caller_number", "caller_name", "ivr_path", "enqueued_at",
                 "answered_at", "ended_at", "agent", "talk", "wrap_up", "result", "offered_to",
                 "from_queue", "crm")

    def __init__(self, call, queue, since, from_queue=""):
        self.uuid, self.queue, self.enqueued_at = call.uuid, queue, float(since)
        self.caller_number, self.caller_name = call.caller_number, call.caller_name
        path = (call.data or {}).get("ivr_path", "")
        self.ivr_path = path if isinstance(path, str) else json.dumps(path)
        self.answered_at = call.answered_at
        self.agent = call.agent or ""
        self.ended_at = self.result = None
        self.talk = self.wrap_up = 0.0
        self.offered_to = []
        self.from_queue = from_queue
        self.crm = ""               # the CRM card as JSON (acd.crm), taken at the end

    @property
    def wait(self):
        """Seconds from entering the queue to the answer, or to the end if never answered."""
        until = self.answered_at if self.answered_at is not None else self.ended_at
        return max(0.0, (until if until is not None else self.enqueued_at) - self.enqueued_at)

    def record(self, daemon=""):
        """The stream entry: flat strings."""
        values = {name: getattr(self, name) for name in FIELDS if hasattr(self, name)}
        values.update(offers=len(self.offered_to), offered_to=",".join(self.offered_to),
                      wait=round(self.wait, 3), daemon=daemon)
        return {k: "" if v is None else (str(round(v, 3)) if isinstance(v, float) else str(v))
                for k, v in values.items()}


class OutboundRecord:
    """A click-to-dial call (acd.outbound's ``dial-ended`` decision) as a record: the agent's leg
    is its uuid, the customer's leg ``other_leg``, the number dialled ``caller_number``."""

    direction = "outbound"

    def __init__(self, agent, details):
        self.agent, self.offered_to = agent, []
        self.uuid, self.caller_number = details.get("leg", ""), details.get("number", "")
        self.other_leg = details.get("customer_leg", "")
        self.enqueued_at = details.get("started_at")
        self.answered_at = details.get("connected_at")
        self.ended_at = details.get("ended_at")
        self.talk = float(details.get("talk") or 0.0)
        self.result = "answered" if self.answered_at else "failed"
        self.cause = details.get("cause", "")
        self.queue = self.caller_name = self.ivr_path = self.from_queue = self.crm = ""
        self.wrap_up = 0.0

    wait = 0.0
    record = QueueCall.record


class QueueCalls:
    """Turns routing decisions into queue calls (an observer: ``qcs(what, call, agent, details)``).
    ``wrap_up_of(agent_id)``: the agent's configured wrap-up seconds."""

    def __init__(self, wrap_up_of, clock, on_answered=None, on_ended=None):
        self.wrap_up_of = wrap_up_of
        self.clock = clock
        self.on_answered = on_answered or (lambda qc: None)
        self.on_ended = on_ended or (lambda qc: None)
        self.open = {}      # caller uuid -> its current QueueCall

    def __call__(self, what, call, agent, details):
        if call is None:
            return
        if what == "overflow":
            self._overflow(call, details)
            return
        qc = self.open.get(call.uuid)
        if qc is None:
            qc = self.open[call.uuid] = QueueCall(call, call.queue, call.queue_since)
        if what == "offer":
            qc.offered_to.append(agent)
        elif what == "bridge":
            qc.agent, qc.answered_at = agent, call.answered_at
            self.on_answered(qc)
        elif what == "call-ended":
            qc.talk = float(details.get("talk") or 0.0)
            qc.wrap_up = self.wrap_up_of(agent)
        elif what == "done":
            if getattr(call, "crm", None) is not None:
                qc.crm = json.dumps(call.crm, sort_keys=True)
            self._close(self.open.pop(call.uuid), details.get("result", ""))

    def _overflow(self, call, details):
        """The caller left ``from_queue`` for ``call.queue``: close one queue call, open the next."""
        old_queue = details.get("from_queue", "")
        qc = self.open.pop(call.uuid, None) or QueueCall(call, old_queue, call.enqueued_at)
        qc.answered_at, qc.agent = None, ""
        self._close(qc, details.get("result", "overflowed"))
        self.open[call.uuid] = QueueCall(call, call.queue, call.queue_since, from_queue=old_queue)

    def _close(self, qc, result):
        qc.result, qc.ended_at = result, self.clock()
        self.on_ended(qc)


def wrap_up_lookup(config):
    """``wrap_up_of(agent_id)`` from the config (0 for an agent no longer configured)."""
    def wrap_up_of(agent_id):
        try:
            return float(config.agent(agent_id).wrap_up_time)
        except KeyError:
            return 0.0
    return wrap_up_of


class Recorder:
    """The call-record observer: appends each ended queue call to the Redis stream, indexed
    under the agents it rang (GET /api/v1/agents/{id}/calls)."""

    def __init__(self, config, store, clock, owner=""):
        from acd.store.cti import CtiStore

        self.writer, self.owner = CtiStore.of(store), owner
        self.max_length = config.records.max_length
        self.retention = config.records.retention
        self.calls = QueueCalls(wrap_up_lookup(config), clock, on_ended=self.write)
        self.clock = clock

    def __call__(self, what, call, agent, details):
        if what == "dial-ended":
            self.write(OutboundRecord(agent, details))
            return
        self.calls(what, call, agent, details)

    def write(self, qc):
        oldest = int((self.clock() - self.retention) * 1000) if self.retention else 0
        agents = list(dict.fromkeys(qc.offered_to + ([qc.agent] if qc.agent else [])))
        self.writer.append_record(qc.record(self.owner), agents, self.max_length, oldest)


# -- reading back ---------------------------------------------------------------------------------

def read_records(client, key, start, end, queue=None, batch=1000):
    """The records of queue calls that ended in ``[start, end)`` (epoch seconds), oldest first."""
    low, high = int((start - CLOCK_MARGIN) * 1000), int((end + CLOCK_MARGIN) * 1000)
    cursor = str(max(low, 0))
    while True:
        entries = client.xrange(key, min=cursor, max=str(high), count=batch)
        for entry_id, fields in entries:
            record = {k.decode() if isinstance(k, bytes) else k:
                      v.decode() if isinstance(v, bytes) else v for k, v in fields.items()}
            ended = _number(record.get("ended_at"))
            if ended is not None and start <= ended < end and queue in (None, record.get("queue")):
                yield record
        if len(entries) < batch:
            return
        last = entries[-1][0]
        cursor = "(" + (last.decode() if isinstance(last, bytes) else last)


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


class _Tally:
    """The sums behind one summary row."""

    def __init__(self):
        self.offered = self.answered = self.abandoned = self.met = 0
        self.results = {}
        self.wait = self.handle = 0.0

    def row(self, name, service_level=True):
        sl_calls = self.answered + self.abandoned
        return {
            "name": name, "offered": self.offered, "answered": self.answered,
            "abandoned": self.abandoned,
            **{r: self.results.get(r, 0) for r in ("overflowed", "timed_out", "exited")},
            "service_level": (round(self.met / sl_calls, 4) if service_level and sl_calls else None),
            "asa": round(self.wait / self.answered, 3) if self.answered else None,
            "aht": round(self.handle / self.answered, 3) if self.answered else None,
        }


def summarize(records, config):
    """Per-queue and per-agent summaries of ``records`` (see docs/metrics.md, "acd report").
    Queue: offered = queue calls; service level as acd_queue_service_level_ratio, with the
    queue's threshold. Agent: offered = queue calls that rang the agent, answered = answered by
    it, abandoned = rang it and were then abandoned; ASA/AHT of the calls it answered."""
    queues, agents = {}, {}
    for record in records:
        if record.get("direction") == "outbound":
            continue    # click-to-dial calls: in the records, not in the queue summaries
        result, wait = record.get("result", ""), _number(record.get("wait")) or 0.0
        queue = queues.setdefault(record.get("queue", ""), _Tally())
        queue.offered += 1
        queue.results[result] = queue.results.get(result, 0) + 1
        met = _met(config, record.get("queue", ""), result, wait)
        _count(queue, record, result, wait, met)
        offered_to = dict.fromkeys(a for a in record.get("offered_to", "").split(",") if a)
        for agent_id in offered_to:
            agent = agents.setdefault(agent_id, _Tally())
            agent.offered += 1
            agent.abandoned += result == "abandoned"
        if result == "answered" and record.get("agent"):
            agent = agents.setdefault(record["agent"], _Tally())
            agent.answered += 1
            agent.wait += wait
            agent.handle += _handle(record)
    return {"queues": [queues[name].row(name) for name in sorted(queues)],
            "agents": [agents[name].row(name, service_level=False) for name in sorted(agents)]}


def _count(tally, record, result, wait, met):
    if result == "answered":
        tally.answered += 1
        tally.wait += wait
        tally.handle += _handle(record)
    elif result == "abandoned":
        tally.abandoned += 1
    tally.met += bool(met)


def _handle(record):
    return (_number(record.get("talk")) or 0.0) + (_number(record.get("wrap_up")) or 0.0)


def _met(config, queue_name, result, wait):
    """Whether a queue call meets the queue's service level (None: not counted)."""
    if config is None or not config.has_queue(queue_name):
        threshold, short_abandons = 20.0, False
    else:
        queue = config.queue(queue_name)
        threshold = queue.service_level_threshold
        short_abandons = queue.service_level_count_short_abandons
    return service_level_met(result, wait, threshold, short_abandons)


def service_level_met(result, wait, threshold, count_short_abandons):
    """True/False for a call the service level counts, None for one it leaves out: answered
    within the threshold is met; abandoned is missed unless ``count_short_abandons`` and it was
    within the threshold; overflowed, timed out and exited calls are not counted (Asterisk)."""
    if result == "answered":
        return wait <= threshold
    if result == "abandoned":
        return count_short_abandons and wait <= threshold
    return None


# -- acd report -----------------------------------------------------------------------------------

COLUMNS = ("scope", "name", "offered", "answered", "abandoned", "overflowed", "timed_out",
           "exited", "service_level", "asa", "aht")


def report(client, keys, config, start, end, queue=None):
    """The ``acd report`` document for ``[start, end)``."""
    from acd.service import iso_utc

    from acd.wrapup import count_codes

    summary = summarize(read_records(client, keys.records, start, end, queue), config)
    codes = count_codes(client, keys.wrap_ups, start, end, queue)
    return {"from": iso_utc(start), "to": iso_utc(end), "queue": queue, **summary,
            "wrap_up_codes": codes}


def print_report(config, start, end, queue, output_format, out):
    """``acd report``: print the summaries as CSV or JSON; 0, or 1 if Redis cannot be read."""
    import csv

    import redis

    from acd.store.connect import connect, keys_for

    try:
        client = connect(config.redis, socket_timeout=10)
        document = report(client, keys_for(config.redis), config, start, end, queue)
    except redis.RedisError as exc:
        print(f"acd report: cannot read the call records from Redis: {exc}", file=sys.stderr)
        return 1
    if output_format == "json":
        out.write(json.dumps(document, indent=2) + "\n")
        return 0
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for scope in ("queues", "agents"):
        for row in document[scope]:
            writer.writerow([scope[:-1]] + ["" if row[c] is None else row[c] for c in COLUMNS[1:]])
    for row in document["wrap_up_codes"]:   # scope "code": name queue/code, offered = calls
        writer.writerow(["code", f"{row['queue']}/{row['code']}", row["calls"]] +
                        [""] * (len(COLUMNS) - 3))
    return 0
