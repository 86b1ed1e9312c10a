"""What the bench reads from outside the processes it runs: /proc and the daemon's /metrics.

Theory of operation: CPU seconds are ``utime + stime`` of ``/proc/<pid>/stat`` (the process
itself, not its children), peak RSS is ``VmHWM`` of ``/proc/<pid>/status`` (the kernel's high-water
mark, so no sampling can miss a peak), current RSS ``VmRSS``. The daemon's own decision-time
histogram is ``acd_routing_decision_seconds{kind}`` at ``GET /metrics`` on its HTTP listener;
:func:`histogram` reads the Prometheus text format and :func:`quantile` estimates a quantile from
the cumulative buckets the way PromQL's histogram_quantile does (linear within a bucket).
"""

import os
import re
import urllib.error
import urllib.request

_TICKS = os.sysconf("SC_CLK_TCK")
HISTOGRAM = "acd_routing_decision_seconds"


class ProcStat:
    """CPU seconds and memory of one running process (Linux /proc); None when it is gone."""

    def __init__(self, pid):
        self.pid = pid

    def cpu_seconds(self):
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / _TICKS   # utime, stime (fields 14, 15)

    def memory(self):
        """``{"rss": bytes, "peak_rss": bytes}`` (VmRSS, VmHWM)."""
        out = {}
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    name, _, value = line.partition(":")
                    if name in ("VmRSS", "VmHWM"):
                        out["rss" if name == "VmRSS" else "peak_rss"] = int(value.split()[0]) * 1024
        except OSError:
            return None
        return out


def scrape(url, token=None, timeout=5.0):
    """The body of ``GET url`` (text), or None when there is none (404, refused, timeout)."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError):
        return None


_SAMPLE = re.compile(r'^(\w+)\{([^}]*)\}\s+(\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def histogram(text, name=HISTOGRAM):
    """``{kind: {"buckets": [(le, cumulative count)...], "count": n, "sum": s}}`` from the text
    exposition format (labels other than ``kind`` and ``le`` are summed over)."""
    out = {}
    for line in (text or "").splitlines():
        found = _SAMPLE.match(line)
        if not found or not found.group(1).startswith(name):
            continue
        series, labels, value = found.group(1), dict(_LABEL.findall(found.group(2))), found.group(3)
        entry = out.setdefault(labels.get("kind", ""), {"buckets": {}, "count": 0.0, "sum": 0.0})
        if series == name + "_bucket":
            le = float(labels["le"])
            entry["buckets"][le] = entry["buckets"].get(le, 0.0) + float(value)
        elif series == name + "_count":
            entry["count"] += float(value)
        elif series == name + "_sum":
            entry["sum"] += float(value)
    for entry in out.values():
        entry["buckets"] = sorted(entry["buckets"].items())
    return out


def minus(after, before):
    """The histogram of what happened between two scrapes."""
    out = {}
    for kind, entry in after.items():
        old = before.get(kind, {"buckets": [], "count": 0.0, "sum": 0.0})
        old_buckets = dict(old["buckets"])
        out[kind] = {"buckets": [(le, n - old_buckets.get(le, 0.0)) for le, n in entry["buckets"]],
                     "count": entry["count"] - old["count"], "sum": entry["sum"] - old["sum"]}
    return out


def quantile(q, buckets):
    """histogram_quantile(q) over cumulative ``[(le, count)...]``; None without observations."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    low, below = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return low           # beyond the last finite bucket: its bound is all we know
            inside = count - below
            return low + (le - low) * ((rank - below) / inside if inside else 0.0)
        low, below = le, count
    return low
