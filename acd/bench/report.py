"""The bench's results: one step's figures from its samples, the machine, the human summary.

Theory of operation: everything here is pure (data in, data out) except :func:`machine`, which
reads /proc/cpuinfo and the platform. Latencies are kept in milliseconds, rounded to the
microsecond; rates in calls per second.
"""

import datetime
import os
import platform
import re

from acd.bench import latency, probes, switch

#: A step is sustained when calls are answered at (at least) this share of the offered rate and no
#: originate failed; the queue's growth (least-squares slope over the step's second half) is
#: reported beside it.
ANSWERED_SHARE = 0.95


def slope(points):
    """Least-squares slope of ``[(t, value)...]`` (value per second); 0.0 for < 2 points."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (v - mv) for t, v in points) / den if den else 0.0


def ms(summary):
    """A percentiles() summary in seconds -> the same in milliseconds."""
    return {k: (round(v * 1000, 3) if isinstance(v, float) and k != "count" else v)
            for k, v in summary.items()}


_DECISION = re.compile(r"acd\.decisions: (\S+) call=\S+ queue=(\S+) ")
_RESULT = re.compile(r" result=(\w+)")


def decisions(lines, queue):
    """Counts from the daemon's decision log lines for ``queue``: answered (bridges), abandoned,
    offer_failed."""
    out = {"answered": 0, "abandoned": 0, "offer_failed": 0}
    for line in lines:
        found = _DECISION.search(line)
        if not found or found.group(2) != queue:
            continue
        what = found.group(1)
        result = _RESULT.search(line, found.end())
        result = result.group(1) if result else None
        if what == "bridge":
            out["answered"] += 1
        elif what == "offer-failed":
            out["offer_failed"] += 1
        elif what == "done" and result == "abandoned":
            out["abandoned"] += 1
    return out


def step_result(rate, elapsed, sent, counts, samples, trace, agents, cpu, histogram, ignore=()):
    """One load step's figures. ``samples``: [(t, waiting, live)], ``cpu``: {name: seconds}."""
    second_half = [(t, w) for t, w, _ in samples if t >= samples[0][0] + elapsed / 2] \
        if samples else []
    growth = slope(second_half)
    pairs = latency.pair(trace, agents, ignore)
    calls = max(1, sent["sent"])
    result = {
        "rate": rate, "seconds": round(elapsed, 2), "offered": sent["sent"],
        "offered_per_s": round(sent["sent"] / elapsed, 1) if elapsed else None,
        "originate_failed": sent["failed"], "driver_late": sent["late"],
        "answered": counts["answered"], "abandoned": counts["abandoned"],
        "offer_failed": counts["offer_failed"],
        "answered_per_s": round(counts["answered"] / elapsed, 1) if elapsed else None,
        "waiting": {"end": samples[-1][1] if samples else None,
                    "max": max((w for _, w, _ in samples), default=None),
                    "growth_per_s": round(growth, 2)},
        "concurrent_calls_max": max((live for _, _, live in samples), default=None),
        "sustained": counts["answered"] >= ANSWERED_SHARE * sent["sent"] and sent["failed"] == 0,
        "latency_ms": {kind: ms(latency.percentiles(values)) for kind, values in pairs.items()},
        "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_percent": {k: round(100 * v / elapsed, 1) for k, v in cpu.items()} if elapsed else {},
        "daemon_cpu_ms_per_call": round(1000 * cpu.get("daemon", 0.0) / calls, 3),
        "acd_histogram_ms": _histogram_ms(histogram),
    }
    return result


def _histogram_ms(histogram):
    """acd's own ``acd_routing_decision_seconds`` over the step, as quantile estimates; None
    while the daemon has no such metric."""
    if histogram is None:
        return None
    out = {}
    for kind, entry in histogram.items():
        out[kind] = {"count": int(entry["count"]),
                     "mean": round(1000 * entry["sum"] / entry["count"], 3) if entry["count"] else None}
        for q in (0.5, 0.95, 0.99):
            value = probes.quantile(q, entry["buckets"])
            out[kind][f"p{int(q * 100)}"] = None if value is None else round(1000 * value, 3)
    return out


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpu": model or platform.processor(), "cores": os.cpu_count(),
            "machine": platform.machine(), "kernel": platform.release(),
            "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _lat(entry):
    if not entry or not entry.get("count"):
        return "-"
    return (f"p50 {entry['p50']:.2f} p95 {entry['p95']:.2f} p99 {entry['p99']:.2f} "
            f"max {entry['max']:.2f} ms (n={entry['count']})")


def summary(report):
    """The short human summary, one string per line."""
    lines = [f"acd bench {report['machine']['date']} on {report['machine']['cpu']} "
             f"x{report['machine']['cores']}, Python {report['machine']['python']}"]
    load = report.get("load")
    if load:
        lines.append(f"load: {load['agents']:,} agents, talk {load['talk']:g} s, backlog "
                     f"{load['backlog']:,} waiting callers; daemon ready after "
                     f"{load['daemon_ready_s']} s, peak RSS {load['daemon_peak_rss_mb']} MB")
        if any(s.get("switch") for s in load["steps"]):
            lines.append(f"slow switch: {switch.describe(report['options'])}")
        for s in load["steps"]:
            lines += [
                f"  {s['rate']:g} calls/s: offered {s['offered_per_s']}/s, answered "
                f"{s['answered']} ({s['answered_per_s']}/s), abandoned {s['abandoned']}, "
                f"failed {s['originate_failed']}, queue {s['waiting']['end']} at end (max "
                f"{s['waiting']['max']}, {s['waiting']['growth_per_s']:+}/s) -> "
                f"{'sustained' if s['sustained'] else 'NOT sustained'}; concurrent calls max "
                f"{s['concurrent_calls_max']}",
                f"    decision latency (simulator) call_arrived {_lat(s['latency_ms']['call_arrived'])}",
                f"    decision latency (simulator) agent_freed  {_lat(s['latency_ms']['agent_freed'])}",
                "    acd's own histogram: " + (_histogram_line(s["acd_histogram_ms"])),
                f"    round trips seen from outside: simulator api p50 "
                f"{s['round_trip_ms']['sim_api']['p50']} ms, redis PING p50 "
                f"{s['round_trip_ms']['redis']['p50']} ms",
                f"    CPU: daemon {s['cpu_percent'].get('daemon')}% "
                f"({s['daemon_cpu_ms_per_call']} ms/call), simulator "
                f"{s['cpu_percent'].get('sim')}%, redis {s['cpu_percent'].get('redis')}%, "
                f"bench {s['cpu_percent'].get('bench')}%"] + switch.summary_lines(s)
    ceiling = report.get("sim_ceiling")
    if ceiling:
        lines.append(f"simulator ceiling (no daemon): {ceiling['calls_per_s']} loopback calls/s "
                     f"at {ceiling['sim_cpu_percent']}% of a core")
    for name, sel in (report.get("selection") or {}).items():
        cells = ", ".join(f"{int(n):,}: p50 {v['p50_ms']:.3f} p99 {v['p99_ms']:.3f} ms "
                          f"(x{sel['ratio_to_smallest'][n]})" for n, v in sel["sizes"].items())
        lines.append(f"selection {name}: {cells}")
        if sel.get("p99_vs_longest_idle"):
            lines.append("  p99 vs longest-idle at the same size: " + ", ".join(
                f"{int(n):,}: x{r}" for n, r in sel["p99_vs_longest_idle"].items()))
    return lines


def _histogram_line(hist):
    if hist is None:
        return "not available (the daemon serves no acd_routing_decision_seconds on /metrics)"
    return "; ".join(f"{kind} p50 {v['p50']} p95 {v['p95']} p99 {v['p99']} ms (n={v['count']})"
                     for kind, v in sorted(hist.items()))
