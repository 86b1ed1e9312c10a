"""Log output of ``acd run``: ``--log-format text`` (one readable line) or ``json`` (one object).

Theory of operation
-------------------
The router logs every decision on the ``acd.decisions`` logger as
``"%s call=%s queue=%s agent=%s %s"`` with the arguments (decision, call uuid, queue, agent,
``"k=v k=v"`` details) -- the text format prints that line as it is. :class:`JsonFormatter`
writes one JSON object per line; for a decision it takes the same arguments apart, so the call
uuid, queue, agent and each detail are fields of their own (``{"decision": "offer", "call":
"...", "queue": "support", "agent": "1001", "ring_timeout": "15", ...}``), ready for Loki,
Elasticsearch or ``jq``.
"""

import datetime
import json
import logging
import sys

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DECISIONS = "acd.decisions"


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {"time": _iso(record.created), "level": record.levelname,
                 "logger": record.name}
        entry.update(decision_fields(record) or {"message": record.getMessage()})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def decision_fields(record):
    """The fields of a decision line, or None for any other record."""
    if record.name != DECISIONS or not isinstance(record.args, tuple) or len(record.args) != 5:
        return None
    what, call, queue, agent, extra = record.args
    fields = {"decision": str(what), "call": str(call), "queue": str(queue),
              "agent": str(agent)}
    for pair in str(extra).split():
        key, sep, value = pair.partition("=")
        if sep and key not in fields:
            fields[key] = value
    return fields


def _iso(epoch):
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def configure(level="INFO", log_format="text", stream=None):
    """Send every log record to ``stream`` (stdout) in ``log_format``."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter() if log_format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
